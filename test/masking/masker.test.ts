import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';

import { Keys, Masker, pseudonym, partial, REDACTED, isPseudonym } from '../../src/masking/index.js';
import type { ChangeEvent, Row } from '../../src/model/index.js';
import { RowtrailError } from '../../src/errors.js';
import { anyText } from './helpers.js';

const master = randomBytes(32);
const { keys, keyring } = Keys.open(master, null);

function event(over: Partial<ChangeEvent> = {}): ChangeEvent {
  return {
    id: 'app-pg:0/16B6C50:3',
    source: 'app-pg',
    system: 'postgresql',
    database: 'app',
    schema: 'public',
    table: 'users',
    op: 'update',
    key: { id: '42' },
    before: null,
    after: null,
    changed: [],
    tx: { id: '771', position: '0/16B6C50', commitTime: '2026-11-26T10:00:00.123456Z', index: 3, size: 5 },
    actor: { kind: 'unknown', confidence: 'unknown' },
    ...over,
  };
}

const PII = {
  email: 'alice.smith@example.com',
  card: '4111 1111 1111 1111',
  token: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
  iban: 'DE89370400440532013000',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  nestedEmail: 'bob.jones@example.org',
  nestedCard: '5555555555554444',
};

const row = (over: Row = {}): Row => ({
  id: '42',
  email: PII.email,
  card_number: PII.card,
  note: `token ${PII.token}`,
  settlement: PII.iban,
  session: PII.jwt,
  profile: `{"contact": {"mail": "${PII.nestedEmail}", "id": 12345678901234567890}, "cards": [{"no": ${PII.nestedCard}}], "theme": "dark"}`,
  nick: 'al',
  created_at: '2026-11-26 10:00:00.123456+00',
  ...over,
});
const types = { id: 'bigint', profile: 'jsonb', created_at: 'timestamp with time zone', card_number: 'text' };

describe('Masker.maskEvent', () => {
  it('no known PII value is left in the clear in the readable change; undo gets the exact raw change back', () => {
    const m = new Masker({ keys });
    const ev = event({ key: { id: '42' }, before: row(), after: row({ nick: 'ally' }), changed: ['nick'], types });
    const { event: shown, sealed } = m.maskEvent(ev);
    const text = JSON.stringify(shown);
    for (const v of Object.values(PII)) expect(text).not.toContain(v);
    expect(text).not.toContain('4111111111111111');
    expect(shown.after).toMatchObject({
      email: pseudonym(keys.pseudonymKey, PII.email),
      card_number: '••••1111',
      settlement: '••••3000',
      session: REDACTED,
      nick: 'ally',
      created_at: '2026-11-26 10:00:00.123456+00',
    });
    // JSON stays valid JSON, masked inside, untouched elsewhere (big number kept as text)
    const profile = shown.after!.profile!;
    expect(JSON.parse(profile)).toMatchObject({ contact: { mail: pseudonym(keys.pseudonymKey, PII.nestedEmail) }, cards: [{ no: '••••4444' }], theme: 'dark' });
    expect(profile).toContain('"id": 12345678901234567890');
    expect(sealed).not.toBeNull();
    expect(sealed!.includes(Buffer.from(PII.email))).toBe(false);
    expect(m.unmaskEvent(shown, sealed)).toEqual(ev);
    expect(ev.after!.email).toBe(PII.email); // the input is not mutated
  });

  it('the first value that makes a column sensitive is masked in every image of that change', () => {
    const m = new Masker({ keys });
    const ev = event({ before: { id: '1', notes: 'hello' }, after: { id: '1', notes: 'reach me at eve@example.net' }, changed: ['notes'] });
    const { event: shown } = m.maskEvent(ev);
    expect(shown.after!.notes).toMatch(/^h:/);
    expect(shown.before!.notes).toBe(pseudonym(keys.pseudonymKey, 'hello'));
    // sticky: later harmless values of the column stay masked
    const later = m.maskEvent(event({ id: 'x:1:0', after: { id: '2', notes: 'plain' }, key: { id: '2' } })).event;
    expect(later.after!.notes).toMatch(/^h:/);
    expect(m.classifier.drainNew().map(([p, c]) => [p, c.reason.rule, c.change])).toEqual([['public.users.notes', 'email', ev.id]]);
  });

  it('pseudonyms: same value and key → same pseudonym across rows and tables; another master key → another', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), (a, b) => {
        const pa = pseudonym(keys.pseudonymKey, a);
        expect(isPseudonym(pa)).toBe(true);
        expect(pseudonym(keys.pseudonymKey, a)).toBe(pa);
        if (a !== b) expect(pseudonym(keys.pseudonymKey, b)).not.toBe(pa);
      }),
    );
    const other = Keys.open(randomBytes(32), null).keys;
    expect(pseudonym(other.pseudonymKey, PII.email)).not.toBe(pseudonym(keys.pseudonymKey, PII.email));
    const reopened = Keys.open(master, keyring).keys;
    expect(pseudonym(reopened.pseudonymKey, PII.email)).toBe(pseudonym(keys.pseudonymKey, PII.email));
    const m = new Masker({ keys });
    const users = m.maskEvent(event({ after: { id: '1', email: PII.email }, key: { id: '1' } })).event.after!.email;
    const orders = m.maskEvent(event({ table: 'orders', after: { id: '9', customer_email: PII.email }, key: { id: '9' } })).event.after!.customer_email;
    expect(users).toBe(orders);
  });

  it('round trip: unmask(mask(ev)) is ev for arbitrary rows (unicode, empty, NULL, lone surrogates, control characters)', () => {
    const text = fc.oneof(
      anyText(40),
      fc.constantFrom('', PII.email, PII.card, PII.jwt, '{"email": "a@b.io"}', '{"email": 1', '[1,2]', 'DE89 3704 0044 0532 0130 00'),
    );
    const img = fc.dictionary(fc.constantFrom('id', 'email', 'notes', 'doc', 'token', 'x', 'phone_verified'), fc.option(text, { nil: null }), { minKeys: 1 });
    fc.assert(
      fc.property(fc.option(img, { nil: null }), fc.option(img, { nil: null }), (before, after) => {
        const m = new Masker({ keys });
        const ev = event({ before, after, key: after ?? before, types: { doc: 'jsonb' } });
        const { event: shown, sealed } = m.maskEvent(ev);
        expect(m.unmaskEvent(shown, sealed)).toEqual(ev);
        if (!sealed) expect(shown).toBe(ev);
      }),
      { numRuns: 300 },
    );
  });

  it('fails closed: binary, invalid UTF-8, huge values and unparsable JSON under a key path are redacted', () => {
    const m = new Masker({ keys, maxValueChars: 2048, columns: { 'public.users.doc.$.secret': 'hash', 'public.users.raw': 'none' } });
    const after: Row = {
      id: '1',
      bin: 'ab\u0000\u0001cd',
      bad: 'caf\ufffd',
      lone: 'x\ud800y',
      huge: 'word '.repeat(1000),
      doc: '{"secret": "s3", ', // does not parse
      raw: 'zz\u0000', // config says none: shown as is
      fine: 'just text',
    };
    const { event: shown, sealed } = m.maskEvent(event({ after, key: { id: '1' } }));
    expect(shown.after).toEqual({ ...after, bin: REDACTED, bad: REDACTED, lone: REDACTED, huge: REDACTED, doc: REDACTED });
    expect(m.unmaskEvent(shown, sealed).after).toEqual(after);
    // per value: a column is not made sensitive by one unclassifiable value
    expect(m.maskEvent(event({ after: { id: '2', bin: 'clean' }, key: { id: '2' } })).event.after!.bin).toBe('clean');
  });

  it('config JSON key paths with wildcards mask nested keys and keep JSON valid', () => {
    const m = new Masker({ keys, detectValues: false, columns: { 'public.users.doc.$.*.secret': 'redact', 'public.users.doc.$.a.b': 'partial' } });
    const doc = '{"x": {"secret": {"deep": [1,2]}}, "y": [{"secret": "s"}, {"other": "o"}], "a": {"b": "ABCD12345678"}, "secret": "top"}';
    const out = m.maskEvent(event({ after: { id: '1', doc }, key: { id: '1' }, types: { doc: 'json' } })).event.after!.doc!;
    expect(JSON.parse(out)).toEqual({ x: { secret: REDACTED }, y: [{ secret: REDACTED }, { other: 'o' }], a: { b: partial('ABCD12345678') }, secret: 'top' });
  });

  it('key columns: any masking becomes the pseudonym in the key image, so rows stay distinct', () => {
    const m = new Masker({ keys, columns: { 'public.users.ssn': 'redact' } });
    const ev = event({ key: { ssn: '078-05-1120' }, before: { ssn: '078-05-1120', n: '1' }, after: { ssn: '078-05-1120', n: '2' } });
    const { event: shown, sealed } = m.maskEvent(ev);
    expect(shown.key).toEqual({ ssn: m.pseudonym('078-05-1120') });
    expect(shown.after!.ssn).toBe(REDACTED);
    expect(m.unmaskEvent(shown, sealed)).toEqual(ev);
  });

  it('changes without sensitive values are passed through untouched, nothing sealed', () => {
    const m = new Masker({ keys });
    const ev = event({ after: { id: '1', role: 'admin' }, before: { id: '1', role: 'user' } });
    expect(m.maskEvent(ev)).toEqual({ event: ev, sealed: null });
    const trunc = event({ op: 'truncate', key: null });
    expect(m.maskEvent(trunc).event).toBe(trunc);
  });

  it('without the key: masking and opening refuse with a KEY error; nothing else breaks', () => {
    const withKey = new Masker({ keys });
    const { event: shown, sealed } = withKey.maskEvent(event({ after: { id: '1', email: PII.email }, key: { id: '1' } }));
    const noKey = new Masker({ keys: null });
    expect(() => noKey.unmaskEvent(shown, sealed)).toThrow(RowtrailError);
    expect(() => noKey.unmaskEvent(shown, sealed)).toThrow(/needs the master key/);
    expect(noKey.unmaskEvent(shown, null)).toBe(shown);
    expect(() => noKey.maskEvent(event({ after: { id: '1' } }))).toThrow(/needs the master key/);
    expect(noKey.classifier.list()).toEqual([]);
  });

  it('compareForConflict: exact against the sealed raw value, by pseudonym without a blob, unknown where it cannot tell', () => {
    const m = new Masker({ keys });
    const ev = event({ after: { id: '1', email: PII.email, card_number: PII.card, role: 'user' }, key: { id: '1' } });
    const { event: shown, sealed } = m.maskEvent(ev);
    const rec = (column: string, withBlob = true) => ({ changeId: ev.id, sealed: withBlob ? sealed : null, image: 'after' as const, column, shown: shown.after![column] });
    expect(m.compareForConflict(rec('email'), PII.email)).toBe('equal');
    expect(m.compareForConflict(rec('email'), 'other@example.com')).toBe('differs');
    expect(m.compareForConflict(rec('card_number'), PII.card)).toBe('equal');
    expect(m.compareForConflict(rec('card_number'), '4111111111111111')).toBe('differs'); // same digits, other text form
    expect(m.compareForConflict(rec('role'), 'user')).toBe('equal');
    expect(m.compareForConflict(rec('email', false), PII.email)).toBe('equal');
    expect(m.compareForConflict(rec('email', false), null)).toBe('differs');
    expect(m.compareForConflict(rec('card_number', false), PII.card)).toBe('unknown');
    expect(() => m.compareForConflict({ ...rec('email'), changeId: 'app-pg:0/0:0' }, PII.email)).toThrow(/authentication failed/);
  });
});
