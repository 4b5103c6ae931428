/**
 * Generated MariaDB workloads: tables of random column types (integers signed and unsigned, DECIMAL, FLOAT,
 * DOUBLE, strings in utf8mb4, latin1, cp1251 and gbk, binary, temporal types with microseconds, JSON, ENUM,
 * SET, BIT, NULLs), multi-row statements, transactions (committed and rolled back, with savepoints) and
 * ALTER TABLE mid-stream. Statements are rendered against the table's current columns at execution time.
 *
 * The character sets are those rowtrail decodes like the server today (maria-charsets.test.ts covers every
 * set, and lists the broken ones); strings never hold a backslash followed by `x` (see maria-binlog.ts).
 */
import fc from 'fast-check';
import type mysql from 'mysql2/promise';

export interface MColType {
  sql: string;
  /** Character set of a string column (for the server's conversion of the binlog bytes). */
  charset?: string;
  value: fc.Arbitrary<string>;
}

const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/'/g, "''");
const pool = (chars: string, max = 12) =>
  fc.string({ unit: fc.constantFrom(...[...chars]), maxLength: max }).filter((s) => !/\\x/i.test(s));
const utf8Text = fc
  .string({ unit: fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }), fc.constantFrom("'", '\\', '\n', '\t', '\x01', '🎉', '〜', 'é')), maxLength: 16 })
  .filter((s) => !/\\x/i.test(s));
const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const date = fc.record({ y: fc.integer({ min: 1000, max: 9999 }), mo: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }) }).map(({ y, mo, d }) => `${y}-${pad(mo)}-${pad(d)}`);
const time = fc.record({ h: fc.integer({ min: 0, max: 23 }), mi: fc.integer({ min: 0, max: 59 }), s: fc.integer({ min: 0, max: 59 }), us: fc.integer({ min: 0, max: 999999 }) }).map(({ h, mi, s, us }) => `${pad(h)}:${pad(mi)}:${pad(s)}.${pad(us, 6)}`);

export const MARIA_TYPES: Record<string, MColType> = {
  tinyint: { sql: 'tinyint', value: fc.integer({ min: -128, max: 127 }).map(String) },
  int: { sql: 'int', value: fc.integer().map(String) },
  bigint: { sql: 'bigint', value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String) },
  int_u: { sql: 'int unsigned', value: fc.integer({ min: 0, max: 4294967295 }).map(String) },
  bigint_u: { sql: 'bigint unsigned', value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String) },
  decimal: { sql: 'decimal(30,10)', value: fc.tuple(fc.boolean(), digits(1, 20), digits(0, 10)).map(([n, i, f]) => `${n ? '-' : ''}${i}${f ? '.' + f : ''}`) },
  float: { sql: 'float', value: fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-3e38), max: Math.fround(3e38) }).map((x) => (Object.is(x, -0) ? '0' : String(x))) },
  double: { sql: 'double', value: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? '0' : String(x))) },
  utf8: { sql: 'varchar(20) CHARACTER SET utf8mb4', charset: 'utf8mb4', value: utf8Text.map((s) => `_utf8mb4'${esc(s)}'`) },
  text: { sql: 'text CHARACTER SET utf8mb4', charset: 'utf8mb4', value: utf8Text.map((s) => `'${esc(s)}'`) },
  latin1: { sql: 'varchar(20) CHARACTER SET latin1', charset: 'latin1', value: pool("aZ 'é\\ßÿ€ŠÆ\n0").map((s) => `_utf8mb4'${esc(s)}'`) },
  cp1251: { sql: 'varchar(20) CHARACTER SET cp1251', charset: 'cp1251', value: pool("aЖя'ёЁ\\№ґ").map((s) => `_utf8mb4'${esc(s)}'`) },
  gbk: { sql: 'varchar(20) CHARACTER SET gbk', charset: 'gbk', value: pool("中文字'\\a表ソ").map((s) => `_utf8mb4'${esc(s)}'`) },
  varbinary: { sql: 'varbinary(16)', value: fc.uint8Array({ maxLength: 16 }).map((b) => (b.length ? `X'${Buffer.from(b).toString('hex')}'` : "''")) },
  blob: { sql: 'blob', value: fc.uint8Array({ maxLength: 40 }).map((b) => (b.length ? `X'${Buffer.from(b).toString('hex')}'` : "''")) },
  date: { sql: 'date', value: date.map((d) => `'${d}'`) },
  datetime: { sql: 'datetime(6)', value: fc.tuple(date, time).map(([d, t]) => `'${d} ${t}'`) },
  timestamp: {
    sql: 'timestamp(6) NULL',
    value: fc.tuple(fc.integer({ min: 1, max: 2_147_483_647 }), fc.integer({ min: 0, max: 999999 })).map(([s, us]) => `FROM_UNIXTIME(${s}.${pad(us, 6)})`),
  },
  time: { sql: 'time(6)', value: fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 838 }), time).map(([neg, h, t]) => `'${neg ? '-' : ''}${h}${t.slice(2)}'`) },
  year: { sql: 'year', value: fc.integer({ min: 1901, max: 2155 }).map(String) },
  json: {
    sql: 'json',
    value: fc.jsonValue({ maxDepth: 2 }).map((j) => `'${esc(JSON.stringify(j) ?? 'null')}'`).filter((s) => !/\\\\x/i.test(s)),
  },
  enum: { sql: "enum('a','b c','d''q','ü')", value: fc.constantFrom("'a'", "'b c'", "'d''q'", "'ü'") },
  set: { sql: "set('x','y','z w')", value: fc.subarray(['x', 'y', 'z w']).map((a) => `'${a.join(',')}'`) },
  bit: { sql: 'bit(7)', value: fc.integer({ min: 0, max: 127 }).map((n) => `b'${n.toString(2)}'`) },
};

const TYPE_NAMES = Object.keys(MARIA_TYPES);

export interface MTable {
  name: string;
  cols: { name: string; type: string }[];
  extra: { name: string; type: string }[];
}

export type MOp =
  | { k: 'insert'; t: number; rows: { id: number; v: Record<string, string> }[] }
  | { k: 'update'; t: number; id: number; above: boolean; v: Record<string, string>; cols: number[] }
  | { k: 'delete'; t: number; id: number; above: boolean }
  | { k: 'add'; t: number; x: number }
  | { k: 'drop'; t: number; col: number };

export interface MTx {
  mode: 'auto' | 'commit' | 'rollback';
  ops: MOp[];
  /** Roll back to a savepoint taken after this many ops (transactions only). */
  savepointAt: number | null;
}

export interface MWorkload {
  tables: MTable[];
  txs: MTx[];
}

const colsArb = (p: string, min: number, max: number) =>
  fc.uniqueArray(fc.constantFrom(...TYPE_NAMES), { minLength: min, maxLength: max }).map((ts) => ts.map((type, i) => ({ name: `${p}${i}_${type}`, type })));
const nullable = (a: fc.Arbitrary<string>) => fc.option(a, { freq: 6, nil: 'NULL' });
const valuesArb = (t: MTable) => fc.record(Object.fromEntries([...t.cols, ...t.extra].map((c) => [c.name, nullable(MARIA_TYPES[c.type].value)])));

export function mariaWorkloadArb(): fc.Arbitrary<MWorkload> {
  return fc.array(fc.record({ cols: colsArb('c', 2, 6), extra: colsArb('x', 1, 1) }), { minLength: 1, maxLength: 2 }).chain((specs) => {
    const tables: MTable[] = specs.map((s, i) => ({ name: `t_${i}`, ...s }));
    const t = fc.integer({ min: 0, max: tables.length - 1 });
    const id = fc.integer({ min: 1, max: 6 });
    const cols = fc.uniqueArray(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 3 });
    const op: fc.Arbitrary<MOp> = fc.oneof(
      { weight: 4, arbitrary: t.chain((ti) => fc.record({ k: fc.constant('insert' as const), t: fc.constant(ti), rows: fc.array(fc.record({ id, v: valuesArb(tables[ti]) }), { minLength: 1, maxLength: 3 }) })) },
      { weight: 3, arbitrary: t.chain((ti) => fc.record({ k: fc.constant('update' as const), t: fc.constant(ti), id, above: fc.boolean(), v: valuesArb(tables[ti]), cols })) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('delete' as const), t, id, above: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('add' as const), t, x: fc.constant(0) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('drop' as const), t, col: fc.integer({ min: 0, max: 9 }) }) },
    );
    const tx = fc.record({ mode: fc.constantFrom('auto', 'commit', 'commit', 'rollback') as fc.Arbitrary<MTx['mode']>, ops: fc.array(op, { minLength: 1, maxLength: 5 }), savepointAt: fc.option(fc.integer({ min: 0, max: 4 })) });
    return fc.record({ tables: fc.constant(tables), txs: fc.array(tx, { minLength: 1, maxLength: 8 }) });
  });
}

/** Runs a workload; tables are prefixed (unique per run). Returns the SQL it ran. */
export async function runMariaWorkload(c: mysql.Connection, w: MWorkload, prefix: string): Promise<{ log: string[]; charsets: Map<string, string> }> {
  const log: string[] = [];
  const name = (t: MTable) => `${prefix}${t.name}`;
  const charsets = new Map<string, string>();
  for (const t of w.tables) for (const col of [...t.cols, ...t.extra]) if (MARIA_TYPES[col.type].charset) charsets.set(col.name, MARIA_TYPES[col.type].charset!);
  const q = async (s: string) => {
    log.push(s);
    await c.query(s);
  };
  const columns = async (t: MTable): Promise<string[]> => {
    const [rows] = await c.query(`SELECT column_name AS n FROM information_schema.columns WHERE table_schema = 'test' AND table_name = ? ORDER BY ordinal_position`, [name(t)]);
    return (rows as { n: string }[]).map((r) => r.n).filter((n) => n !== 'id');
  };
  for (const t of w.tables) await q(`CREATE TABLE \`${name(t)}\` (id int PRIMARY KEY, ${t.cols.map((col) => `\`${col.name}\` ${MARIA_TYPES[col.type].sql}`).join(', ')})`);
  const render = async (op: MOp): Promise<string | null> => {
    const t = w.tables[op.t];
    const T = `\`${name(t)}\``;
    const cur = await columns(t);
    switch (op.k) {
      case 'insert':
        return `INSERT IGNORE INTO ${T} (id${cur.map((n) => `, \`${n}\``).join('')}) VALUES ${op.rows.map((r) => `(${[String(r.id), ...cur.map((n) => r.v[n])].join(', ')})`).join(', ')}`;
      case 'update': {
        const set = [...new Set(op.cols.map((i) => cur[i % cur.length]))].filter(Boolean);
        if (!set.length) return null;
        return `UPDATE ${T} SET ${set.map((n) => `\`${n}\` = ${op.v[n]}`).join(', ')} WHERE id ${op.above ? '>' : '='} ${op.id}`;
      }
      case 'delete':
        return `DELETE FROM ${T} WHERE id ${op.above ? '>' : '='} ${op.id}`;
      case 'add': {
        const x = t.extra[op.x];
        return cur.includes(x.name) ? null : `ALTER TABLE ${T} ADD COLUMN \`${x.name}\` ${MARIA_TYPES[x.type].sql}`;
      }
      case 'drop':
        return cur.length <= 1 ? null : `ALTER TABLE ${T} DROP COLUMN \`${cur[op.col % cur.length]}\``;
    }
  };
  for (const tx of w.txs) {
    try {
      if (tx.mode !== 'auto') await q('BEGIN');
      for (const [i, op] of tx.ops.entries()) {
        if (tx.mode !== 'auto' && tx.savepointAt === i) await q('SAVEPOINT sp');
        const s = await render(op);
        if (s) await q(s);
      }
      if (tx.mode !== 'auto' && tx.savepointAt !== null && tx.savepointAt < tx.ops.length) await q('ROLLBACK TO SAVEPOINT sp');
      if (tx.mode !== 'auto') await q(tx.mode === 'commit' ? 'COMMIT' : 'ROLLBACK');
    } catch (e) {
      log.push(`-- failed, rolled back: ${(e as Error).message}`);
      await c.query('ROLLBACK').catch(() => undefined);
    }
  }
  return { log, charsets };
}
