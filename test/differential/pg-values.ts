/**
 * fast-check arbitraries for PostgreSQL column types: each yields a SQL literal (or NULL) for the type.
 * The expected text of a value is never computed here: the server's own decoder (test_decoding) says it.
 */
import fc from 'fast-check';

/** Types the workloads use (the custom ones are created by TYPES_DDL). */
export const TYPES_DDL = `
  CREATE TYPE mood AS ENUM ('sad', 'o''k', 'hâppy ☺', 'with space');
  CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
  CREATE DOMAIN shorttext AS text CHECK (length(VALUE) < 40);
`;

const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Text that stresses quoting: quotes, backslashes, control characters (not NUL), unicode of every width. */
export const textValue = fc.string({
  unit: fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.constantFrom("'", "''", '\\', '\\\\', '"', '\n', '\r\n', '\t', '\x01', '\x1b', '\x7f', ' ', '🎉', '〜', '\u200b', 'é', 'e\u0301', '\uFEFF', 'NULL', ',', '{', '}') },
  ),
  maxLength: 24,
});

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

/** numeric with up to 40 integer and 30 fraction digits, trailing zeros kept (scale is part of the value). */
const numericValue = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.boolean(), digits(1, 40), fc.option(digits(1, 30))).map(([neg, i, f]) => `${neg ? '-' : ''}${i}${f === null ? '' : '.' + f}`) },
  { weight: 1, arbitrary: fc.constantFrom('NaN', 'Infinity', '-Infinity', '0.000', '-0', '1e-20', '1.5E+30') },
);

const floatLit = (x: number): string => (Number.isNaN(x) ? 'NaN' : x === Infinity ? 'Infinity' : x === -Infinity ? '-Infinity' : Object.is(x, -0) ? '-0' : String(x));

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const dateParts = fc.record({ y: fc.integer({ min: 1, max: 9999 }), mo: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }), bc: fc.boolean() });
const timeParts = fc.record({ h: fc.integer({ min: 0, max: 23 }), mi: fc.integer({ min: 0, max: 59 }), s: fc.integer({ min: 0, max: 59 }), us: fc.integer({ min: 0, max: 999_999 }) });
const dateText = dateParts.map(({ y, mo, d, bc }) => `${pad(y, 4)}-${pad(mo)}-${pad(d)}${bc && y > 4713 ? '' : bc ? ' BC' : ''}`);
const timeText = timeParts.map(({ h, mi, s, us }) => `${pad(h)}:${pad(mi)}:${pad(s)}.${pad(us, 6)}`);
const tzText = fc.constantFrom('+00', 'Z', '+05:30', '-08', '+14', '-03:25:17', 'America/New_York', 'Europe/Berlin');
const tsText = fc.tuple(dateParts, timeText).map(([{ y, mo, d, bc }, t]) => [`${pad(y, 4)}-${pad(mo)}-${pad(d)} ${t}`, bc && y <= 4713 ? ' BC' : ''] as const);

const intervalValue = fc
  .record({ y: fc.integer({ min: -500, max: 500 }), mo: fc.integer({ min: -30, max: 30 }), d: fc.integer({ min: -400, max: 400 }), t: timeText, neg: fc.boolean() })
  .map(({ y, mo, d, t, neg }) => `${y} years ${mo} mons ${d} days ${neg ? '-' : ''}${t}`);

/** JSON text with big numbers (beyond double), trailing zeros, exponents, nesting, escapes and duplicate keys. */
const jsonNumber = fc.oneof(
  fc.integer().map(String),
  fc.tuple(fc.boolean(), digits(1, 35), fc.option(digits(1, 25)), fc.option(fc.integer({ min: -400, max: 400 }))).map(
    ([neg, i, f, e]) => `${neg ? '-' : ''}${i.replace(/^0+(?=\d)/, '')}${f === null ? '' : '.' + f}${e === null ? '' : 'e' + e}`,
  ),
);
const jsonString = textValue.map((s) => JSON.stringify(s));
const { json: jsonText } = fc.letrec<{ json: string }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    jsonNumber,
    jsonString,
    fc.constantFrom('true', 'false', 'null'),
    fc.array(tie('json'), { maxLength: 4 }).map((a) => `[${a.join(', ')}]`),
    fc.array(fc.tuple(fc.constantFrom('a', 'b', 'a', 'ключ', ''), tie('json')), { maxLength: 4 }).map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:  ${v}`).join(',')}}`),
  ),
}));

function textArray(els: (string | null)[]): string {
  return els.length === 0 ? "'{}'::text[]" : `ARRAY[${els.map((e) => (e === null ? 'NULL' : lit(e))).join(', ')}]::text[]`;
}

/** A column type the generator can fill: its SQL type and an arbitrary of SQL literals. */
export interface ColType {
  sql: string;
  value: fc.Arbitrary<string>;
}

const nullable = (a: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.option(a, { freq: 6, nil: 'NULL' });

export const COLUMN_TYPES: Record<string, ColType> = {
  int2: { sql: 'int2', value: fc.integer({ min: -32768, max: 32767 }).map(String) },
  int4: { sql: 'int4', value: fc.integer().map(String) },
  int8: { sql: 'int8', value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((b) => `'${b}'::int8`) },
  numeric: { sql: 'numeric', value: numericValue.map((v) => `'${v}'::numeric`) },
  numeric_scaled: {
    sql: 'numeric(20,6)',
    value: fc.tuple(fc.boolean(), digits(1, 14), digits(0, 9)).map(([n, i, f]) => `'${n ? '-' : ''}${i}${f ? '.' + f : ''}'::numeric`),
  },
  float4: { sql: 'float4', value: fc.float().map((x) => `'${floatLit(x)}'::float4`) },
  float8: { sql: 'float8', value: fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 5e-324, 0.1)).map((x) => `'${floatLit(x)}'::float8`) },
  text: { sql: 'text', value: textValue.map(lit) },
  varchar: { sql: 'varchar(30)', value: textValue.map(lit) },
  char: { sql: 'char(6)', value: fc.string({ unit: 'grapheme-ascii', maxLength: 6 }).map(lit) },
  bytea: { sql: 'bytea', value: fc.uint8Array({ maxLength: 40 }).map((b) => `'\\x${Buffer.from(b).toString('hex')}'::bytea`) },
  timestamptz: {
    sql: 'timestamptz',
    value: fc.oneof(
      { weight: 9, arbitrary: fc.tuple(tsText, tzText).map(([[t, bc], z]) => lit(`${t}${/^[+\-Z]/.test(z) ? z : ' ' + z}${bc}`) + '::timestamptz') },
      fc.constantFrom("'infinity'::timestamptz", "'-infinity'::timestamptz"),
    ),
  },
  timestamp: { sql: 'timestamp', value: fc.oneof({ weight: 9, arbitrary: tsText.map(([t, bc]) => lit(t + bc) + '::timestamp') }, fc.constant("'infinity'::timestamp")) },
  date: { sql: 'date', value: fc.oneof({ weight: 9, arbitrary: dateText.map((d) => lit(d) + '::date') }, fc.constant("'-infinity'::date")) },
  time: { sql: 'time', value: fc.oneof({ weight: 9, arbitrary: timeText.map((t) => lit(t) + '::time') }, fc.constant("'24:00:00'::time")) },
  timetz: { sql: 'timetz', value: fc.tuple(timeText, fc.constantFrom('+00', '-08', '+05:30', '+14:59')).map(([t, z]) => lit(t + z) + '::timetz') },
  interval: { sql: 'interval', value: intervalValue.map((v) => lit(v) + '::interval') },
  jsonb: { sql: 'jsonb', value: jsonText.map((j) => lit(j) + '::jsonb') },
  json: { sql: 'json', value: jsonText.map((j) => lit(j) + '::json') },
  int_array: {
    sql: 'int4[]',
    value: fc.oneof(
      fc.array(fc.option(fc.integer(), { nil: null }), { maxLength: 5 }).map((a) => `'{${a.map((x) => (x === null ? 'NULL' : x)).join(',')}}'::int4[]`),
      fc.array(fc.tuple(fc.integer(), fc.integer()), { minLength: 1, maxLength: 3 }).map((a) => `'{${a.map(([x, y]) => `{${x},${y}}`).join(',')}}'::int4[]`),
    ),
  },
  text_array: { sql: 'text[]', value: fc.array(fc.option(textValue, { nil: null }), { maxLength: 4 }).map(textArray) },
  mood: { sql: 'mood', value: fc.constantFrom('sad', "o'k", 'hâppy ☺', 'with space').map(lit) },
  mood_array: { sql: 'mood[]', value: fc.subarray(['sad', "o'k", 'hâppy ☺', 'with space']).map((a) => `ARRAY[${a.map(lit).join(',')}]::mood[]`) },
  posint: { sql: 'posint', value: fc.integer({ min: 1 }).map(String) },
  shorttext: { sql: 'shorttext', value: textValue.filter((s) => [...s].length < 40).map(lit) },
  uuid: { sql: 'uuid', value: fc.uuid().map((u) => lit(u.toUpperCase()) + '::uuid') },
  bool: { sql: 'bool', value: fc.constantFrom('true', 'false', "'yes'", "'0'") },
  bit: { sql: 'bit(5)', value: fc.string({ unit: fc.constantFrom('0', '1'), minLength: 5, maxLength: 5 }).map((b) => `B'${b}'`) },
  varbit: { sql: 'varbit', value: fc.string({ unit: fc.constantFrom('0', '1'), maxLength: 12 }).map((b) => `B'${b}'`) },
  inet: { sql: 'inet', value: fc.oneof(fc.ipV4(), fc.ipV6()).map((a) => lit(a) + '::inet') },
  money: { sql: 'money', value: fc.integer({ min: -1e9, max: 1e9 }).map((c) => `'${(c / 100).toFixed(2)}'::money`) },
};

export const COLUMN_TYPE_NAMES = Object.keys(COLUMN_TYPES);

/** A literal (or NULL) for each type name. */
export function valueArb(type: string): fc.Arbitrary<string> {
  return nullable(COLUMN_TYPES[type].value);
}
