import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseStatementContext, parseActorSetting, formatComment, edgeComments } from '../../src/identity/comment.js';
import { canonicalContext, signContext, verifyContext, withSignature } from '../../src/identity/signature.js';
import { matchKind } from '../../src/identity/rules.js';
import { parseSessionMessage, parseDdlMessage } from '../../src/identity/message.js';
import { createResolver, type TxFacts } from '../../src/identity/resolver.js';
import { SampledSessions } from '../../src/identity/session-index.js';

const KEY = 'k'.repeat(32);
const tx = (over: Partial<TxFacts>): TxFacts => ({ source: 's', xid: '1', commitTime: '2026-11-26T10:00:00Z', messages: [], statements: [], ...over });
const msg = (over: { pid?: number; start?: string | null; user?: string; role?: string; app?: string; addr?: string | null; actor?: string | null; q?: string | null } = {}) =>
  JSON.stringify([1, over.pid ?? 42, over.start ?? null, over.user ?? 'svc', over.role ?? 'none', over.app ?? 'app', over.addr ?? '10.0.0.7', over.actor ?? null, over.q ?? null]);

describe('sqlcommenter parsing', () => {
  it('reads the pairs of a trailing comment, URL-decoded', () => {
    const r = parseStatementContext("UPDATE t SET a = 1 /*agent='deploy-bot',run='r-17',on_behalf_of='alice%40x.io'*/;");
    expect(r.pairs).toEqual({ agent: 'deploy-bot', run: 'r-17', on_behalf_of: 'alice@x.io' });
  });
  it('reads a leading comment; escaped quotes and unicode survive', () => {
    const r = parseStatementContext("/*agent='b\\'ot',note='caf%C3%A9 ☕'*/ insert into t values (1)");
    expect(r.pairs).toEqual({ agent: "b'ot", note: 'café ☕' });
  });
  it('ignores a comment inside a string literal in the middle of the statement', () => {
    expect(parseStatementContext("insert into t values ('/*agent=''evil''*/', 1)").pairs).toBeNull();
  });
  it('refuses oversize context and garbage, with a reason', () => {
    expect(parseStatementContext(`select 1 /*agent='${'x'.repeat(5000)}'*/`, 2048)).toEqual({ pairs: null, error: 'oversize' });
    expect(parseStatementContext("select 1 /*agent='unterminated*/").error).toBe('unparsable');
    expect(parseStatementContext('select 1 /* just a note */').pairs).toBeNull();
  });
  it('SET LOCAL rowtrail.actor: bare name or pairs', () => {
    expect(parseActorSetting('deploy-bot').pairs).toEqual({ agent: 'deploy-bot' });
    expect(parseActorSetting("agent='a',run='r'").pairs).toEqual({ agent: 'a', run: 'r' });
    expect(parseActorSetting('  ').pairs).toBeNull();
  });
  it('never throws, on any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        for (const t of [s, `/*${s}*/`, `select 1 /*${s}*/`, `/*agent='${s}'*/ x`]) {
          const r = parseStatementContext(t, 2048);
          expect(r.pairs === null || typeof r.pairs === 'object').toBe(true);
          edgeComments(t);
          parseActorSetting(t);
        }
      }),
      { numRuns: 500 },
    );
  });
  it('formatComment round-trips any keys/values through the parser', () => {
    const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/);
    fc.assert(
      fc.property(fc.dictionary(key, fc.string({ unit: 'grapheme', maxLength: 30 }), { minKeys: 1, maxKeys: 6 }), (pairs) => {
        const r = parseStatementContext(`select 1 ${formatComment(pairs)}`, 1 << 16);
        expect(r.pairs).toEqual({ ...pairs });
      }),
      { numRuns: 300 },
    );
  });
});

describe('context signatures', () => {
  it('canonical form: sorted decoded key=value lines, sig excluded', () => {
    expect(canonicalContext({ run: 'r-17', agent: 'deploy-bot', sig: 'x' })).toBe('agent=deploy-bot\nrun=r-17');
  });
  it('a signed context verifies; any change to a key, a value or the key breaks it', () => {
    const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/).filter((k) => k !== 'sig');
    fc.assert(
      fc.property(fc.dictionary(key, fc.string({ maxLength: 20 }).filter((v) => !v.includes('\n')), { minKeys: 1, maxKeys: 5 }), fc.string({ minLength: 1, maxLength: 10 }), (pairs, extra) => {
        const signed = withSignature(pairs, KEY);
        expect(verifyContext(signed, KEY)).toBe(true);
        // through the comment syntax and back
        expect(verifyContext(parseStatementContext(`x ${formatComment(signed)}`, 1 << 16).pairs!, KEY)).toBe(true);
        expect(verifyContext(signed, KEY + 'x')).toBe(false);
        const k0 = Object.keys(pairs)[0]!;
        expect(verifyContext({ ...signed, [k0]: pairs[k0] + extra }, KEY)).toBe(false);
        expect(verifyContext({ ...signed, zz_added: extra }, KEY)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
  it('missing or malformed sig does not verify', () => {
    expect(verifyContext({ agent: 'a' }, KEY)).toBe(false);
    expect(verifyContext({ agent: 'a', sig: 'nothex' }, KEY)).toBe(false);
    expect(verifyContext({ agent: 'a', sig: signContext({ agent: 'b' }, KEY) }, KEY)).toBe(false);
  });
});

describe('actor rules', () => {
  const rules = [
    { match: { agent: 'deploy-*' }, kind: 'ai-agent' as const },
    { match: { user: 'svc_billing', clientAddr: '10.0.0.0/8' }, kind: 'service' as const },
    { match: { user: 'alice' }, kind: 'human' as const },
  ];
  it('first match wins; globs and CIDR; null never matches', () => {
    expect(matchKind(rules, { user: 'alice', agent: 'deploy-bot' })).toBe('ai-agent');
    expect(matchKind(rules, { user: 'svc_billing', clientAddr: '10.2.3.4' })).toBe('service');
    expect(matchKind(rules, { user: 'svc_billing', clientAddr: '192.168.1.1' })).toBeNull();
    expect(matchKind(rules, { user: 'svc_billing', clientAddr: null })).toBeNull();
    expect(matchKind(rules, { user: 'alice' })).toBe('human');
    expect(matchKind(rules, {})).toBeNull();
  });
});

describe('precise messages', () => {
  it('parses v1, refuses garbage and other versions', () => {
    expect(parseSessionMessage(msg({ role: 'admin', start: '2026-11-26T09:00:00+00:00' }))).toMatchObject({ pid: '42', role: 'admin', sessionUser: 'svc', backendStart: '2026-11-26T09:00:00+00:00' });
    expect(parseSessionMessage('forged')).toBeNull();
    expect(parseSessionMessage('[2, 1]')).toBeNull();
    expect(parseSessionMessage('{"pid": 1}')).toBeNull();
    expect(parseDdlMessage('{"tag":"ALTER TABLE","schema":"public","table":"users","object":"public.users","statement":"alter table users add x int"}')).toMatchObject({ tag: 'ALTER TABLE', table: 'users' });
  });
});

describe('resolver', () => {
  const rules = [
    { match: { agent: 'deploy-bot' }, kind: 'ai-agent' as const },
    { match: { user: 'svc' }, kind: 'service' as const },
  ];
  it('a precise message is exact; session start is remembered per pid', () => {
    const r = createResolver({ rules });
    const a = r.resolve(tx({ messages: [msg({ start: '2026-11-26T09:00:00+00:00' })] }));
    expect(a).toMatchObject({ user: 'svc', sessionId: '42', application: 'app', clientAddr: '10.0.0.7', kind: 'service', confidence: 'exact', method: 'precise-message' });
    const b = r.resolve(tx({ messages: [msg({})] }));
    expect(b.sessionStart).toBe('2026-11-26T09:00:00+00:00');
    expect(r.stats()).toMatchObject({ exact: 2, unknown: 0 });
  });
  it('agent from the statement comment; SET LOCAL rowtrail.actor overrides it', () => {
    const r = createResolver({ rules });
    expect(r.resolve(tx({ messages: [msg({ q: "update t set a=1 /*agent='deploy-bot',run='r-17'*/" })] }))).toMatchObject({
      agent: 'deploy-bot',
      kind: 'ai-agent',
      context: { agent: 'deploy-bot', run: 'r-17' },
    });
    expect(r.resolve(tx({ messages: [msg({ actor: 'other-bot', q: "x /*agent='deploy-bot'*/" })] })).agent).toBe('other-bot');
  });
  it('with a key: a forged or unsigned context is flagged and its agent not trusted', () => {
    const warnings: string[] = [];
    const r = createResolver({ rules, signingKey: KEY, onWarning: (w) => warnings.push(w) });
    const good = withSignature({ agent: 'deploy-bot', run: 'r-1' }, KEY);
    const ok = r.resolve(tx({ messages: [msg({ q: `update t set a=1 ${formatComment(good)}` })] }));
    expect(ok).toMatchObject({ agent: 'deploy-bot', kind: 'ai-agent', context: { verified: true, run: 'r-1' } });
    const forged = { ...good, agent: 'admin-bot' };
    const bad = r.resolve(tx({ messages: [msg({ q: `update t set a=1 ${formatComment(forged)}` })] }));
    expect(bad.agent).toBeNull();
    expect(bad.kind).toBe('service'); // from the session user, not from the claimed agent
    expect(bad.context).toMatchObject({ verified: false, claimedAgent: 'admin-bot' });
    const unsigned = r.resolve(tx({ messages: [msg({ actor: 'deploy-bot' })] }));
    expect(unsigned.agent).toBeNull();
    expect(unsigned.context).toMatchObject({ verified: false });
    expect(warnings.some((w) => w.includes('bad signature'))).toBe(true);
  });
  it('oversize context: refused with a warning, session still exact', () => {
    const warnings: string[] = [];
    const r = createResolver({ rules, maxContextBytes: 64, onWarning: (w) => warnings.push(w) });
    const a = r.resolve(tx({ messages: [msg({ q: `x /*agent='${'a'.repeat(100)}'*/` })] }));
    expect(a).toMatchObject({ agent: null, confidence: 'exact', context: null });
    expect(warnings[0]).toMatch(/oversize/);
  });
  it('garbage messages and no evidence: unknown, never a guess', () => {
    const r = createResolver({ rules });
    expect(r.resolve(tx({ messages: ['garbage', '[1]'] }))).toMatchObject({ kind: 'unknown', confidence: 'unknown', method: 'none' });
  });
  it('sampling: xid seen → exact; thread id → exact; unique statement text → inferred; ambiguous → unknown', () => {
    const idx = new SampledSessions();
    const alice = { sessionId: '7', user: 'alice', application: 'psql', clientAddr: null, sessionStart: null };
    const bob = { sessionId: '8', user: 'bob', application: 'psql', clientAddr: null, sessionStart: null };
    idx.observeXid('900', alice);
    idx.observeSession(alice);
    idx.observeStatement('insert into t values (1)', alice);
    idx.observeStatement('insert into t values (2)', alice);
    idx.observeStatement('insert into t values (2);', bob);
    const r = createResolver({ index: idx });
    expect(r.resolve(tx({ xid: '900' }))).toMatchObject({ user: 'alice', confidence: 'exact', method: 'activity-xid' });
    expect(r.resolve(tx({ xid: 'x', sessionId: '7' }))).toMatchObject({ user: 'alice', confidence: 'exact', method: 'processlist-thread' });
    const one = tx({ xid: 'x', statements: ['insert into t values (1)'], receivedAt: 1000 });
    idx.coverStatements(Date.parse('2026-11-26T10:00:00Z'), 1001);
    expect(r.ready(one)).toBe(true);
    expect(r.resolve(one)).toMatchObject({ user: 'alice', confidence: 'inferred', method: 'heuristic:statement-text' });
    expect(r.resolve(tx({ xid: 'x', statements: ['insert into t values (2)'], receivedAt: 1000 }))).toMatchObject({ confidence: 'unknown' });
  });
  it('a statement text names its one session only once the sampler has read every run up to the commit', () => {
    const idx = new SampledSessions();
    const alice = { sessionId: '7', user: 'alice', application: 'psql', clientAddr: null, sessionStart: null };
    idx.observeStatement('insert into hot values (connection_id())', alice);
    idx.observeStatement('insert into t values (1)', alice);
    const r = createResolver({ index: idx });
    const hot = tx({ statements: ['insert into hot values (connection_id())'], receivedAt: 5000 });
    const at = Date.parse('2026-11-26T10:00:00Z');
    // no sample read past the commit yet: "seen in one session" is only "seen in one session so far"
    expect(r.resolve(hot)).toMatchObject({ confidence: 'unknown' });
    idx.coverStatements(at, 4999);
    expect(r.ready(hot)).toBe(false);
    expect(r.resolve(hot)).toMatchObject({ confidence: 'unknown' });
    // without a receipt time (a caller that cannot say when it read the commit): never proven
    expect(r.resolve(tx({ statements: ['insert into t values (1)'] }))).toMatchObject({ confidence: 'unknown' });
    // committed before the sampler's span began (catch-up, a reconnect): runs before it may be gone from the history
    idx.coverStatements(at + 1000, 6000);
    expect(r.resolve(hot)).toMatchObject({ confidence: 'unknown' });
    idx.coverStatements(at, 6000);
    expect(r.resolve(hot)).toMatchObject({ confidence: 'inferred', sessionId: '7' });
    // 600 characters, 1200 bytes: the history keeps 1024 bytes of it, so another run may be filed under a cut text
    const long = `insert into t values ('${'é'.repeat(600)}')`;
    idx.observeStatement(long, alice);
    expect(r.resolve(tx({ statements: [long], receivedAt: 5000 }))).toMatchObject({ confidence: 'unknown' });
    // a run by a thread that ended unread makes the text ambiguous, and alone names nobody
    idx.observeUnidentified('insert into hot values (connection_id())');
    idx.observeUnidentified('insert into u values (1)');
    expect(r.resolve(hot)).toMatchObject({ confidence: 'unknown' });
    expect(r.resolve(tx({ statements: ['insert into u values (1)'], receivedAt: 5000 }))).toMatchObject({ confidence: 'unknown', method: 'none' });
    // no history (coverage withdrawn): nothing vouched for
    idx.uncoverStatements();
    expect(r.resolve(tx({ statements: ['insert into t values (1)'], receivedAt: 5000 }))).toMatchObject({ confidence: 'unknown' });
  });
  it('never names the only session in view: one that connected, wrote and left between samples is invisible', () => {
    const idx = new SampledSessions();
    idx.observeSession({ sessionId: '7', user: 'alice', application: null, clientAddr: null, sessionStart: null });
    const r = createResolver({ index: idx });
    expect(r.resolve(tx({ xid: 'x' }))).toMatchObject({ confidence: 'unknown', method: 'none' });
    expect(r.stats()).toMatchObject({ unknown: 1, inferred: 0 });
  });
});
