/**
 * fast-check generators for the undo round trips: odd identifiers, values of every supported type (in a form
 * the database accepts as input), and random workloads.
 */
import fc from 'fast-check';
import type { SystemKind } from '../../src/model/index.js';

export interface TypeGen {
  type: string;
  value: fc.Arbitrary<string>;
  /** How the workload binds the value (default: the text itself). */
  bind?: (v: string) => unknown;
  /** PostgreSQL: cast of the bound text parameter. */
  cast?: string;
}

/** Characters that break naive quoting, plus the rest of Unicode (no NUL, no lone surrogates). */
const SPECIAL = ["'", '"', '\\', '`', '$$', '$rowtrail_undo$', '*/', '/*', '--', ';', '\n', '\r', '\t', ' ', 'é', '日本', '😀', 'ß', '%', '?', ')'];

/**
 * Text of up to `maxParts` pieces, cut to at most `maxChars` characters (code points: what varchar(n) counts
 * in both databases), so a value always fits its column. Why the cut: one piece can be 15 characters long
 * (`$rowtrail_undo$`), and 12 pieces once overflowed a varchar(40) (seed -893735661).
 */
export function textOf(maxParts: number, maxChars: number, extra: string[] = [], bmpOnly = false): fc.Arbitrary<string> {
  const cp = fc
    .integer({ min: 1, max: bmpOnly ? 0xffff : 0x10ffff })
    .filter((c) => c < 0xd800 || c > 0xdfff)
    .map((c) => String.fromCodePoint(c));
  return fc
    .array(fc.oneof(fc.constantFrom(...SPECIAL, ...extra), cp, fc.constantFrom('a', 'b', 'Z', '0')), { maxLength: maxParts })
    .map((a) => [...a.join('')].slice(0, maxChars).join(''));
}

export const pad = (n: number, w = 2) => String(n).padStart(w, '0');
export const micros = fc.integer({ min: 0, max: 999_999 }).map((u) => pad(u, 6));

export function dateText(minYear: number, maxYear: number): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min: minYear, max: maxYear }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 })).map(([y, m, d]) => `${pad(y, 4)}-${pad(m)}-${pad(d)}`);
}

export function timeText(): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }), micros).map(([h, m, s, u]) => `${pad(h)}:${pad(m)}:${pad(s)}.${u}`);
}

export const bigDecimal = (maxInt: bigint, maxScale: number) =>
  fc.tuple(fc.bigInt(-maxInt, maxInt), fc.integer({ min: 0, max: maxScale })).chain(([i, s]) =>
    s === 0 ? fc.constant(String(i)) : fc.bigInt(0n, 10n ** BigInt(s) - 1n).map((f) => `${i < 0n ? '-' : ''}${(i < 0n ? -i : i).toString()}.${f.toString().padStart(s, '0')}`),
  );

export const jsonText = fc.json({ maxDepth: 2 }).filter((j) => !j.includes('\\u0000'));
export const hex = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString('hex'));

export function pgArray(elem: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.array(fc.option(elem, { nil: null }), { maxLength: 4 }).map((a) => `{${a.map((e) => (e === null ? 'NULL' : `"${e.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`);
}

export const PG_TYPES: TypeGen[] = [
  { type: 'smallint', value: fc.integer({ min: -32768, max: 32767 }).map(String) },
  { type: 'integer', value: fc.integer().map(String) },
  { type: 'bigint', value: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map(String) },
  { type: 'numeric', value: fc.oneof(bigDecimal(10n ** 30n, 12), fc.constant('NaN')) },
  { type: 'numeric(12,4)', value: bigDecimal(10n ** 7n, 4) },
  { type: 'double precision', value: fc.oneof(fc.double().map((d) => (Number.isNaN(d) ? 'NaN' : String(d))), fc.constantFrom('Infinity', '-Infinity', '1e308')) },
  { type: 'real', value: fc.integer({ min: -1000, max: 1000 }).map((i) => String(i / 8)) },
  { type: 'text', value: textOf(8, 1000) },
  { type: 'character varying(12)', value: textOf(6, 12) },
  { type: 'character(4)', value: fc.string({ maxLength: 4 }) },
  { type: 'bytea', value: hex(12).map((h) => `\\x${h}`) },
  { type: 'boolean', value: fc.constantFrom('t', 'f') },
  { type: 'date', value: dateText(1, 9999) },
  { type: 'timestamp without time zone', value: fc.tuple(dateText(1900, 2200), timeText()).map(([d, t]) => `${d} ${t}`) },
  { type: 'timestamp with time zone', value: fc.tuple(dateText(1900, 2200), timeText(), fc.constantFrom('+00', '+05:30', '-08')).map(([d, t, z]) => `${d} ${t}${z}`) },
  { type: 'time without time zone', value: timeText() },
  { type: 'interval', value: fc.tuple(fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: 0, max: 86399 }), micros).map(([d, s, u]) => `${d} days ${s}.${u} seconds`) },
  { type: 'uuid', value: fc.uuid() },
  { type: 'jsonb', value: fc.tuple(jsonText, bigDecimal(10n ** 25n, 6)).map(([j, n]) => `{"v": ${j}, "big": ${n}}`) },
  { type: 'json', value: jsonText.map((j) => ` ${j} `) },
  { type: 'text[]', value: pgArray(textOf(4, 1000)) },
  { type: 'bigint[]', value: pgArray(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map(String)) },
  { type: 'inet', value: fc.ipV4() },
].map((t) => ({ ...t, cast: t.type }));

export const MARIA_TYPES: TypeGen[] = [
  { type: 'tinyint', value: fc.integer({ min: -128, max: 127 }).map(String) },
  { type: 'int', value: fc.integer().map(String) },
  { type: 'bigint unsigned', value: fc.bigInt(0n, 2n ** 64n - 1n).map(String) },
  { type: 'bigint', value: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map(String) },
  { type: 'decimal(30,10)', value: bigDecimal(10n ** 19n, 10) },
  { type: 'double', value: fc.integer({ min: -1_000_000, max: 1_000_000 }).map((i) => String(i / 4)) },
  { type: 'varchar(40)', value: textOf(12, 40, ['\u0000']) },
  { type: 'text', value: textOf(20, 1000, ['\u0000', 'a   ']) },
  { type: 'varbinary(16)', value: hex(16), bind: (h) => Buffer.from(h, 'hex') },
  { type: 'blob', value: hex(24), bind: (h) => Buffer.from(h, 'hex') },
  { type: 'date', value: dateText(1000, 9999) },
  { type: 'datetime(6)', value: fc.tuple(dateText(1000, 9999), timeText()).map(([d, t]) => `${d} ${t}`) },
  { type: 'timestamp(6) NULL', value: fc.tuple(dateText(1971, 2037), timeText()).map(([d, t]) => `${d} ${t}`) },
  { type: 'time(6)', value: fc.tuple(fc.integer({ min: -838, max: 838 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }), micros).map(([h, m, s, u]) => `${h < 0 ? '-' : ''}${pad(Math.abs(h))}:${pad(m)}:${pad(s)}.${u}`) },
  { type: 'json', value: jsonText },
  { type: "enum('a','b c','d''e','é')", value: fc.constantFrom('a', 'b c', "d'e", 'é') },
  { type: 'char(5)', value: fc.constantFrom('', 'ab', 'x y', "q'") },
];

/** Odd identifiers: quotes, spaces, unicode, reserved words, mixed case. */
export function identifier(system: SystemKind): fc.Arbitrary<string> {
  const parts = ['a', 'B', 'é', '日', '"', '`', "'", ' ', '-', ';', '(', '*/', '--', 'select', 'Order', 'user', 'Ünï'];
  if (system === 'postgresql') parts.push('😀');
  const composed = fc.array(fc.constantFrom(...parts), { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
  return fc
    .oneof(fc.constantFrom('select', 'order', 'User', 'TABLE', 'from', 'group', 'Key', 'values'), composed)
    .filter((s) => s.trim() === s && s.length > 0 && s.length <= 40);
}

export type Op =
  | { k: 'ins'; vals: (string | null)[] }
  | { k: 'upd'; pick: number; cols: number[]; vals: (string | null)[] }
  | { k: 'del'; pick: number }
  | { k: 'rekey'; pick: number };

export function workload(gens: TypeGen[]): fc.Arbitrary<Op[][]> {
  const row = fc.tuple(...gens.map((g) => fc.option(g.value, { nil: null, freq: 5 })));
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: row.map((vals) => ({ k: 'ins' as const, vals })) },
    { weight: 4, arbitrary: fc.tuple(fc.nat(), fc.uniqueArray(fc.integer({ min: 0, max: gens.length - 1 }), { minLength: 1 }), row).map(([pick, cols, vals]) => ({ k: 'upd' as const, pick, cols, vals })) },
    { weight: 2, arbitrary: fc.nat().map((pick) => ({ k: 'del' as const, pick })) },
    { weight: 1, arbitrary: fc.nat().map((pick) => ({ k: 'rekey' as const, pick })) },
  );
  // The first transaction seeds rows (never undone), the rest work on them.
  const seed = fc.array(row, { minLength: 2, maxLength: 4 }).map((rows) => rows.map((vals) => ({ k: 'ins' as const, vals })));
  return fc.tuple(seed, fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 })).map(([s, txs]) => [s, ...txs]);
}
