/**
 * Column types and value generators for the undo round trips through real capture: what the PostgreSQL and
 * MariaDB sources must carry exactly for undo to restore a table bit for bit. Each generator yields values
 * in a form the database accepts as input; `param` is the placeholder expression the workload binds it with.
 */
import fc from 'fast-check';
import { bigDecimal, dateText, hex, jsonText, micros, pad, pgArray, PG_TYPES, textOf, timeText, type TypeGen } from './arbitraries.js';

export interface CaptureType extends TypeGen {
  /** The placeholder expression (`?` is the bound value); default `?::type` (PostgreSQL) or `?` (MariaDB). */
  param?: string;
  /** MariaDB: the dump expression of column `c` (default `CAST(c AS CHAR)`); FLOAT/DOUBLE are read raw. */
  dump?: (c: string) => string;
}

/** Schema of the PostgreSQL tables; the enum and domain live there too (odd names on purpose). */
export const PG_SCHEMA = 'Undo "cap" é';
const pgq = (s: string) => `"${s.replace(/"/g, '""')}"`;
export const PG_ENUM = `${pgq(PG_SCHEMA)}.${pgq('Mo"od')}`;
export const PG_DOMAIN = `${pgq(PG_SCHEMA)}.price`;
export const PG_SETUP = [
  `CREATE SCHEMA ${pgq(PG_SCHEMA)}`,
  `CREATE TYPE ${PG_ENUM} AS ENUM ('a''b', 'é 😀', ' sp ', 'x,y', 'NULL', '{}')`,
  `CREATE DOMAIN ${PG_DOMAIN} AS numeric(10,2) CHECK (VALUE > -100000000)`,
];
const ENUM_LABELS = ["a'b", 'é 😀', ' sp ', 'x,y', 'NULL', '{}'];

const byType = (t: string) => {
  const g = PG_TYPES.find((x) => x.type === t);
  if (!g) throw new Error(`no generator for ${t}`);
  return g;
};
const bits = (min: number, max: number) => fc.array(fc.constantFrom('0', '1'), { minLength: min, maxLength: max }).map((a) => a.join(''));
const eighths = fc.integer({ min: -80_000, max: 80_000 }).map((i) => String(i / 8));

export const PG_CAPTURE: CaptureType[] = [
  ...['numeric', 'numeric(12,4)', 'bigint', 'smallint', 'double precision', 'real', 'text', 'character varying(12)', 'bytea', 'boolean', 'date']
    .map(byType),
  ...['timestamp without time zone', 'timestamp with time zone', 'time without time zone', 'interval', 'uuid', 'jsonb', 'json', 'text[]', 'bigint[]', 'inet']
    .map(byType),
  { type: 'timestamp(6) with time zone', value: byType('timestamp with time zone').value },
  { type: 'character(5)', value: textOf(5, 5, [' ']) },
  { type: 'bit(6)', value: bits(6, 6) },
  { type: 'bit varying(10)', value: bits(0, 10) },
  { type: 'numeric(10,2)[]', value: pgArray(bigDecimal(10n ** 7n, 2)) },
  { type: PG_ENUM, value: fc.constantFrom(...ENUM_LABELS) },
  { type: `${PG_ENUM}[]`, value: pgArray(fc.constantFrom(...ENUM_LABELS)) },
  { type: PG_DOMAIN, value: bigDecimal(10n ** 7n, 2) },
  { type: 'point', value: fc.tuple(eighths, eighths).map(([x, y]) => `(${x},${y})`) },
  { type: 'jsonb', value: fc.tuple(fc.bigInt(-(10n ** 40n), 10n ** 40n), micros).map(([i, u]) => `[${i}.${u}, {"n": ${i}e-7}]`) },
].map((t) => ({ ...t, cast: t.type }));

/** MySQL latin1 is Windows-1252, with 0x81, 0x8D, 0x8F, 0x90, 0x9D as the C1 controls. */
const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];
const latin1Char = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b >= 0x80 && b < 0xa0 ? CP1252_HIGH[b - 0x80] : b));
const latin1Text = (max: number) =>
  fc.array(fc.oneof(latin1Char, fc.constantFrom("'", '\\', ' ', 'a', 'ÿ', '€', '\n')), { maxLength: max }).map((a) => a.join(''));

const floatArb = fc.float({ noNaN: true, noDefaultInfinity: true }).filter((f) => !Object.is(f, -0));
const doubleArb = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0));
const coord = fc.integer({ min: -1_000_000, max: 1_000_000 }).map((i) => String(i / 64));
const point = fc.tuple(coord, coord).map(([x, y]) => `${x} ${y}`);
const HEX_DUMP = (c: string) => `HEX(${c})`;
const SET_MEMBERS = ['a', 'b c', "d'e", 'é'];

export const MARIA_CAPTURE: CaptureType[] = [
  { type: 'decimal(30,10)', value: bigDecimal(10n ** 19n, 10) },
  { type: 'decimal(5,2) unsigned', value: bigDecimal(999n, 2).map((v) => v.replace(/^-/, '')) },
  { type: 'bigint unsigned', value: fc.bigInt(0n, 2n ** 64n - 1n).map(String) },
  { type: 'bigint', value: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map(String) },
  { type: 'tinyint unsigned', value: fc.integer({ min: 0, max: 255 }).map(String) },
  { type: 'mediumint', value: fc.integer({ min: -8388608, max: 8388607 }).map(String) },
  { type: 'datetime(6)', value: fc.tuple(dateText(1000, 9999), timeText()).map(([d, t]) => `${d} ${t}`) },
  // Bound in the workload session's zone (+05:30), which is not the server's (+03:00) nor UTC (capture's).
  { type: 'timestamp(6) NULL', value: fc.tuple(dateText(1971, 2037), timeText()).map(([d, t]) => `${d} ${t}`) },
  {
    type: 'time(6)',
    value: fc
      .tuple(fc.integer({ min: -838, max: 838 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }), micros)
      .map(([h, m, s, u]) => `${h < 0 ? '-' : ''}${pad(Math.abs(h))}:${pad(m)}:${pad(s)}.${u}`),
  },
  { type: 'date', value: dateText(1000, 9999) },
  { type: 'year', value: fc.integer({ min: 1901, max: 2155 }).map(String) },
  { type: 'json', value: fc.tuple(jsonText, fc.bigInt(-(10n ** 30n), 10n ** 30n)).map(([j, n]) => `{"v": ${j}, "big": ${n}}`) },
  { type: 'bit(1)', value: bits(1, 1), param: 'CAST(? AS UNSIGNED)', bind: (b) => BigInt('0b' + b).toString(), dump: (c) => `BIN(${c})` },
  { type: 'bit(10)', value: bits(10, 10), param: 'CAST(? AS UNSIGNED)', bind: (b) => BigInt('0b' + b).toString(), dump: (c) => `BIN(${c})` },
  { type: 'bit(64)', value: bits(64, 64), param: 'CAST(? AS UNSIGNED)', bind: (b) => BigInt('0b' + b).toString(), dump: (c) => `BIN(${c})` },
  { type: `set(${SET_MEMBERS.map((m) => `'${m.replace(/'/g, "''")}'`).join(',')})`, value: fc.subarray(SET_MEMBERS).map((a) => a.join(',')) },
  { type: "enum('a','b c','d''e','é')", value: fc.constantFrom('a', 'b c', "d'e", 'é') },
  { type: 'blob', value: hex(24), bind: (h) => Buffer.from(h, 'hex'), dump: HEX_DUMP },
  { type: 'varbinary(16)', value: hex(16), bind: (h) => Buffer.from(h, 'hex'), dump: HEX_DUMP },
  { type: 'binary(4)', value: hex(4), bind: (h) => Buffer.from(h, 'hex'), dump: HEX_DUMP },
  { type: 'varchar(30) CHARACTER SET latin1', value: latin1Text(30) },
  { type: 'text CHARACTER SET latin1', value: latin1Text(60) },
  { type: 'varchar(40)', value: textOf(12, 40, ['\u0000']) },
  { type: 'char(5)', value: textOf(5, 5) },
  { type: 'float', value: floatArb.map(String), bind: Number, dump: (c) => c },
  { type: 'double', value: doubleArb.map(String), bind: Number, dump: (c) => c },
  {
    type: 'geometry',
    value: fc.oneof(point.map((p) => `POINT(${p})`), fc.array(point, { minLength: 2, maxLength: 4 }).map((ps) => `LINESTRING(${ps.join(',')})`)),
    param: 'ST_GeomFromText(?)',
    dump: HEX_DUMP,
  },
  { type: 'point', value: point.map((p) => `POINT(${p})`), param: 'ST_GeomFromText(?)', dump: HEX_DUMP },
];
