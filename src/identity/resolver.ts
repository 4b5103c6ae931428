/**
 * The seam between sources and identity: a source tells the resolver what it saw inside a transaction
 * (logical messages, annotated statements, the session/thread id) and asks for the Actor at commit.
 * Pure: no I/O here; samplers feed it from the edges through a SessionIndex.
 *
 * Order of evidence (first that applies wins):
 * 1. a precise-mode session message in the transaction → `exact`, method `precise-message`;
 * 2. PostgreSQL: the xid seen in a pg_stat_activity sample → `exact`, `activity-xid`;
 * 3. MySQL: the thread id of the transaction (BEGIN query event) in a processlist sample → `exact`,
 *    `processlist-thread`;
 * 4. MySQL/MariaDB: the annotated statement text found in exactly one session's statement history / current
 *    query → `inferred`, `heuristic:statement-text` (a text match is not the server's word: another session
 *    may have run the same text). Only where the sampler has read every statement run up to the commit
 *    (`statementCoverage`): "the only session seen" must mean "the only session that ran it" (docs/decisions.md);
 * 5. otherwise `unknown` (never a guess). "The only session connected around the commit" is not evidence: a
 *    session that connected, wrote and left between two samples is invisible, and the one left in view
 *    (once, rowtrail's own catalog reader) would be named in its place.
 * Agent context (comments, `SET LOCAL rowtrail.actor`) is then applied, verified where a key is set.
 */
import type { Actor, ActorKind } from '../model/index.js';
export { coverageClock } from '../model/index.js';
import { parseActorSetting, parseStatementContext, type ContextPairs } from './comment.js';
import { parseSessionMessage } from './message.js';
import { defaultKind, matchKind, type ActorRule } from './rules.js';
import { verifyContext } from './signature.js';

/** What a source knows about one transaction when it commits. */
export interface TxFacts {
  source: string;
  xid: string;
  commitTime: string;
  /** Contents of rowtrail logical messages (PostgreSQL precise mode), in order. */
  messages: string[];
  /** Statement texts seen in the stream (MySQL ANNOTATE_ROWS / ROWS_QUERY). */
  statements: string[];
  /** Session / thread id where the stream carries one (MySQL BEGIN query event). */
  sessionId?: string;
  /** When the source read the commit (`coverageClock()`): statement texts are evidence once a sample began later. */
  receivedAt?: number;
  /**
   * PostgreSQL: the transaction changed a table that carries the precise-mode trigger, so it should carry a
   * session message. Without one (trigger disabled, session_replication_role=replica, or a session that set
   * the marker `rowtrail.tx` itself to stay silent) it is counted in `preciseMissing` and said in a warning;
   * the actor then comes from the samples like any other transaction's.
   */
  preciseExpected?: boolean;
}

export interface IdentityResolver {
  resolve(tx: TxFacts): Actor;
  /**
   * The actor as far as known now, for a transaction still in flight (guards): the same evidence as `resolve`,
   * but neither counted in the stats nor warned about (the commit's `resolve` does both).
   */
  peek?(tx: TxFacts): Actor;
  /**
   * Whether `resolve` would use everything the samplers will know about this committed transaction (MariaDB:
   * the sampler has read past its commit). A source may wait for it before resolving; undefined: cannot tell.
   */
  ready?(tx: TxFacts): boolean;
}

/** The resolver used until identity is configured: every transaction `unknown`. */
export const unknownResolver: IdentityResolver = {
  resolve: () => ({ kind: 'unknown', confidence: 'unknown', method: 'none' }),
};

/** One session as a sampler saw it. */
export interface SessionFacts {
  sessionId: string;
  user: string | null;
  application: string | null;
  clientAddr: string | null;
  sessionStart: string | null;
  /** Statement text the sampler saw (PostgreSQL query; MySQL current/historic statement). */
  query?: string | null;
}

/** What samplers collected, read synchronously by the resolver. All lookups are optional. */
export interface SessionIndex {
  /** PostgreSQL: the session that held this xid (backend_xid). */
  byXid?(xid: string): SessionFacts | undefined;
  /** The latest facts for a pid / thread id. */
  bySession?(sessionId: string): SessionFacts | undefined;
  /**
   * MySQL/MariaDB: sessions whose statement history holds this exact text. A candidate with sessionId ''
   * stands for sessions the sampler could not identify (a thread gone before it was read): never named.
   */
  byStatement?(text: string): SessionFacts[];
  /** The span in which every statement the server ran was read (see StatementCoverage); null: none. */
  statementCoverage?(): StatementCoverage | null;
}

/**
 * What the statement sampler can vouch for: every statement of a transaction committed (server clock, binlog
 * timestamp) at or after `fromCommitMs` and read by the source (`coverageClock()`) before `untilReceived` is in
 * the sampled history (or was the session's current statement), together with every other run of its text.
 */
export interface StatementCoverage {
  fromCommitMs: number;
  untilReceived: number;
  /** The history keeps this many bytes of a text: a longer one may share its kept part with other texts. */
  maxTextBytes: number;
}

/** Whether the sampler had read every run of the transaction's statement texts up to its commit. */
export function statementsCovered(tx: TxFacts, cov: StatementCoverage | null | undefined): boolean {
  if (!cov || tx.receivedAt === undefined) return false;
  const commitMs = Date.parse(tx.commitTime);
  return Number.isFinite(commitMs) && commitMs >= cov.fromCommitMs && tx.receivedAt < cov.untilReceived;
}

export interface ResolverOptions {
  rules?: readonly ActorRule[];
  /** Shared HMAC key; when set, unsigned or badly signed context is flagged and its agent not trusted. */
  signingKey?: string | null;
  maxContextBytes?: number;
  index?: SessionIndex;
  /** Called once per refused context (oversize, unparsable, bad signature) with a one-line reason. */
  onWarning?: (reason: string) => void;
}

export interface ResolverStats {
  attributed: number;
  exact: number;
  inferred: number;
  unknown: number;
  /** Transactions that changed a precise-mode table without carrying a session message (TxFacts.preciseExpected). */
  preciseMissing: number;
}

export interface StatefulResolver extends IdentityResolver {
  ready(tx: TxFacts): boolean;
  stats(): ResolverStats;
}

interface Base {
  user: string | null;
  currentUser: string | null;
  application: string | null;
  clientAddr: string | null;
  sessionId: string | null;
  sessionStart: string | null;
  confidence: 'exact' | 'inferred';
  method: string;
  /** Context sources, in increasing priority. */
  contexts: { text: string | null; kind: 'statement' | 'setting' }[];
}

export function createResolver(opts: ResolverOptions = {}): StatefulResolver {
  const rules = opts.rules ?? [];
  const key = opts.signingKey || null;
  const maxBytes = opts.maxContextBytes ?? 2048;
  const index = opts.index ?? {};
  const warn = opts.onWarning ?? (() => undefined);
  /** pid → backend start, learnt from session messages (sent once per session). Bounded. */
  const starts = new Map<string, string>();
  const counts: ResolverStats = { attributed: 0, exact: 0, inferred: 0, unknown: 0, preciseMissing: 0 };

  function fromMessages(tx: TxFacts): Base | null {
    for (const m of tx.messages) {
      const s = parseSessionMessage(m);
      if (!s) continue;
      if (s.backendStart) {
        starts.delete(s.pid);
        starts.set(s.pid, s.backendStart);
        if (starts.size > 100_000) starts.delete(starts.keys().next().value!);
      }
      const sampled = index.bySession?.(s.pid);
      const start = s.backendStart ?? starts.get(s.pid) ?? (sampled && sampled.user === s.sessionUser ? sampled.sessionStart : null);
      return {
        user: s.sessionUser,
        currentUser: s.role && s.role !== s.sessionUser ? s.role : null,
        application: s.application,
        clientAddr: s.clientAddr,
        sessionId: s.pid,
        sessionStart: start ?? null,
        confidence: 'exact',
        method: 'precise-message',
        contexts: [
          { text: s.query, kind: 'statement' },
          { text: s.actorSetting, kind: 'setting' },
        ],
      };
    }
    return null;
  }

  function fromSession(f: SessionFacts, confidence: 'exact' | 'inferred', method: string, statements: string[]): Base {
    return {
      user: f.user,
      currentUser: null,
      application: f.application,
      clientAddr: f.clientAddr,
      sessionId: f.sessionId,
      sessionStart: f.sessionStart,
      confidence,
      method,
      contexts: [
        ...(statements.length ? [] : [{ text: f.query ?? null, kind: 'statement' as const }]),
        ...statements.map((t) => ({ text: t, kind: 'statement' as const })),
      ],
    };
  }

  function base(tx: TxFacts): Base | null {
    const m = fromMessages(tx);
    if (m) return m;
    const byXid = tx.xid ? index.byXid?.(tx.xid) : undefined;
    if (byXid) return fromSession(byXid, 'exact', 'activity-xid', tx.statements);
    if (tx.sessionId) {
      const s = index.bySession?.(tx.sessionId);
      if (s) return fromSession(s, 'exact', 'processlist-thread', tx.statements);
    }
    // A text seen in one session only is evidence only when no other run of it can have gone unseen: before the
    // sampler has read past the commit, "seen in one session" may be "seen in one session so far".
    const cov = index.statementCoverage?.();
    if (tx.statements.length && index.byStatement && statementsCovered(tx, cov)) {
      for (const st of tx.statements) {
        // A text the history may have cut: its run would be filed under the cut text, unseen under this one.
        if (Buffer.byteLength(st) >= cov!.maxTextBytes - 4) continue;
        const c = index.byStatement(st);
        const ids = new Set(c.map((x) => x.sessionId));
        if (ids.size === 1 && c[0]!.sessionId !== '') return fromSession(c[0]!, 'inferred', 'heuristic:statement-text', tx.statements);
      }
    }
    return null;
  }

  function context(b: Base | null, statements: string[], warn: (reason: string) => void): { pairs: ContextPairs | null } {
    let pairs: ContextPairs | null = null;
    const texts = b ? b.contexts : statements.map((t) => ({ text: t, kind: 'statement' as const }));
    for (const c of texts) {
      if (!c.text) continue;
      const p = c.kind === 'setting' ? parseActorSetting(c.text, maxBytes) : parseStatementContext(c.text, maxBytes);
      if (p.error) warn(`agent context refused (${p.error}${p.error === 'oversize' ? `, more than ${maxBytes} bytes` : ''})`);
      // The first statement context wins; SET LOCAL rowtrail.actor overrides it (it is set on purpose).
      if (p.pairs && (!pairs || c.kind === 'setting')) pairs = p.pairs;
    }
    return { pairs };
  }

  const quiet = { count: false, warn: (_: string) => undefined };
  const loud = { count: true, warn };

  function resolve(tx: TxFacts, how: { count: boolean; warn: (reason: string) => void } = loud): Actor {
    const warn = how.warn;
    let b: Base | null;
    let pairs: ContextPairs | null;
    try {
      b = base(tx);
      pairs = context(b, tx.statements, warn).pairs;
    } catch {
      b = null;
      pairs = null;
    }
    if (how.count && tx.preciseExpected && b?.method !== 'precise-message') {
      counts.preciseMissing++;
      warn(
        'a transaction changed a table with the precise-mode trigger but carried no session message (trigger disabled, ' +
          'session_replication_role=replica, or the session set rowtrail.tx itself): attributed from samples instead',
      );
    }
    let agent: string | null = null;
    let ctx: Record<string, string | boolean> | null = null;
    if (pairs) {
      const { sig: _sig, ...rest } = pairs;
      ctx = { ...rest };
      let trusted = true;
      if (key) {
        trusted = verifyContext(pairs, key);
        ctx.verified = trusted;
        if (!trusted) {
          const claim = rest.agent ? ` (claims agent ${JSON.stringify(rest.agent)})` : '';
          warn(`agent context ${pairs.sig ? 'with a bad signature' : 'without a signature'} not trusted${claim}`);
        }
      }
      if (typeof rest.agent === 'string' && rest.agent) {
        if (trusted) agent = rest.agent;
        else {
          // Kept visible for investigation, under a name no filter takes for the agent.
          delete ctx.agent;
          ctx.claimedAgent = rest.agent;
        }
      }
    }
    if (!b && !agent) {
      if (how.count) counts.unknown++;
      return { kind: 'unknown', confidence: 'unknown', method: 'none', ...(ctx ? { context: ctx } : {}) };
    }
    const subject = { user: b?.user ?? null, application: b?.application ?? null, clientAddr: b?.clientAddr ?? null, agent };
    let kind: ActorKind = matchKind(rules, subject) ?? 'unknown';
    if (kind === 'unknown') kind = defaultKind(subject);
    const confidence = b ? b.confidence : 'unknown';
    if (how.count) counts[confidence]++;
    if (how.count && confidence !== 'unknown') counts.attributed++;
    return {
      user: b?.user ?? null,
      currentUser: b?.currentUser ?? null,
      application: b?.application ?? null,
      clientAddr: b?.clientAddr ?? null,
      sessionId: b?.sessionId ?? null,
      sessionStart: b?.sessionStart ?? null,
      agent,
      kind,
      context: ctx,
      confidence,
      method: b?.method ?? 'agent-context-only',
    };
  }

  const ready = (tx: TxFacts): boolean => {
    const cov = index.statementCoverage?.();
    return !tx.statements.length || !index.byStatement || !cov || statementsCovered(tx, cov);
  };
  return { resolve: (tx) => resolve(tx), peek: (tx) => resolve(tx, quiet), ready, stats: () => ({ ...counts }) };
}
