/**
 * Generated PostgreSQL workloads: a few tables of random column types (REPLICA IDENTITY FULL or DEFAULT,
 * with or without a primary key), then transactions of inserts, upserts, updates (key changes, unchanged
 * TOAST), deletes, truncates, savepoints rolled back or released, whole-transaction rollbacks, large
 * transactions the server streams, DDL mid-stream and interleaved transactions on a second session.
 *
 * Statements are rendered at execution time against the table's current columns (DDL changes them), so
 * every generated workload runs; a statement that fails anyway rolls its transaction back, which both
 * decoders see the same way.
 */
import fc from 'fast-check';
import type pg from 'pg';
import { COLUMN_TYPES, COLUMN_TYPE_NAMES, valueArb } from './pg-values.js';

export interface ColSpec {
  name: string;
  type: string;
}

export interface TableSpec {
  name: string;
  /** `id` is the primary key (else a plain column: the table has no key). */
  pk: boolean;
  identity: 'full' | 'default';
  cols: ColSpec[];
  /** A big text column that goes to TOAST, so updates that leave it alone log it as unchanged. */
  toast: boolean;
  /** Columns DDL may add later. */
  extra: ColSpec[];
}

/** Values for every column a table may have (its own and the extra ones), as SQL literals. */
export type Values = Record<string, string>;

export type Op =
  | { k: 'insert'; t: number; rows: { id: number; v: Values }[]; upsert: boolean }
  | { k: 'update'; t: number; id: number; v: Values; cols: number[] }
  | { k: 'updateKey'; t: number; from: number; to: number }
  | { k: 'updateMany'; t: number; above: number; v: Values; cols: number[] }
  | { k: 'touch'; t: number; id: number } // changes only the small column: unchanged TOAST in the new tuple
  | { k: 'delete'; t: number; id: number; above: boolean }
  | { k: 'truncate'; ts: number[]; restart: boolean }
  | { k: 'bigInsert'; t: number; n: number; base: number }
  | { k: 'addColumn'; t: number; extra: number; withDefault: string | null }
  | { k: 'dropColumn'; t: number; col: number };

export type Item = { k: 'op'; op: Op } | { k: 'savepoint'; ops: Op[]; rollback: boolean };

export interface Tx {
  /** `auto`: each item in autocommit (one statement per transaction). */
  mode: 'auto' | 'commit' | 'rollback';
  items: Item[];
  /** Run these on a second session inside this transaction's span, committed before it ends. */
  interleave: Op[] | null;
}

export interface Workload {
  tables: TableSpec[];
  txs: Tx[];
  /** Drop these tables at the end (catch-up must not need the live catalog of a table that is gone). */
  drop: number[];
}

const colsArb = (prefix: string, min: number, max: number) =>
  fc.uniqueArray(fc.constantFrom(...COLUMN_TYPE_NAMES), { minLength: min, maxLength: max }).map((ts) => ts.map((type, i): ColSpec => ({ name: `${prefix}${i}_${type}`, type })));

const tableArb = (name: string) =>
  fc
    .record({ pk: fc.boolean(), full: fc.boolean(), cols: colsArb('c', 2, 7), toast: fc.boolean(), extra: colsArb('x', 1, 2), quoted: fc.boolean() })
    .map(({ pk, full, cols, toast, extra, quoted }): TableSpec => ({
      // A table name that needs quoting now and then (test_decoding and pgoutput both quote/unquote it).
      name: quoted ? `${name} Tbl` : name,
      pk,
      identity: pk && !full ? 'default' : 'full', // without a key only FULL lets UPDATE/DELETE through
      cols: quoted ? cols.map((c, i) => (i === 0 ? { ...c, name: `Mixed "Case" ${c.name}` } : c)) : cols,
      toast,
      extra,
    }));

function valuesArb(t: TableSpec): fc.Arbitrary<Values> {
  return fc.record(Object.fromEntries([...t.cols, ...t.extra].map((c) => [c.name, valueArb(c.type)])));
}

function opArb(tables: TableSpec[], allowDdl: boolean): fc.Arbitrary<Op> {
  const t = fc.integer({ min: 0, max: tables.length - 1 });
  const id = fc.integer({ min: 1, max: 6 });
  const perTable = <O>(f: (ti: number) => fc.Arbitrary<O>) => t.chain(f);
  const cols = fc.uniqueArray(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 3 });
  const rows = (ti: number) => fc.array(fc.record({ id, v: valuesArb(tables[ti]) }), { minLength: 1, maxLength: 3 });
  const insert = perTable((ti) => fc.record({ k: fc.constant('insert' as const), t: fc.constant(ti), rows: rows(ti), upsert: fc.boolean() }));
  const update = perTable((ti) => fc.record({ k: fc.constant('update' as const), t: fc.constant(ti), id, v: valuesArb(tables[ti]), cols }));
  // Inserts and updates twice: weight.
  const ops: fc.Arbitrary<Op>[] = [
    insert,
    insert,
    update,
    update,
    fc.record({ k: fc.constant('updateKey' as const), t, from: id, to: fc.integer({ min: 1, max: 12 }) }),
    perTable((ti) => fc.record({ k: fc.constant('updateMany' as const), t: fc.constant(ti), above: fc.integer({ min: 0, max: 4 }), v: valuesArb(tables[ti]), cols })),
    fc.record({ k: fc.constant('touch' as const), t, id }),
    fc.record({ k: fc.constant('delete' as const), t, id, above: fc.boolean() }),
    fc.record({ k: fc.constant('truncate' as const), ts: fc.uniqueArray(t, { minLength: 1, maxLength: 2 }), restart: fc.boolean() }),
    fc.record({ k: fc.constant('bigInsert' as const), t, n: fc.integer({ min: 600, max: 1500 }), base: fc.integer({ min: 1, max: 50 }).map((b) => b * 100_000) }),
  ];
  if (allowDdl) {
    ops.push(
      fc.record({ k: fc.constant('addColumn' as const), t, extra: fc.integer({ min: 0, max: 1 }), withDefault: fc.option(fc.constantFrom("'d'", "'42'", 'NULL'), { nil: null }) as fc.Arbitrary<string | null> }),
      fc.record({ k: fc.constant('dropColumn' as const), t, col: fc.integer({ min: 1, max: 9 }) }),
    );
  }
  return fc.oneof(...ops);
}

/**
 * A workload. `drop`: drop some tables at the end (default false: rowtrail reads the primary key of a table
 * from the live catalog, so a table dropped before rowtrail decoded its changes loses its key; the catch-up
 * test covers that on purpose).
 */
export function workloadArb(opts: { prefix: string; ddl?: boolean; maxTxs?: number; drop?: boolean }): fc.Arbitrary<Workload> {
  return fc.integer({ min: 1, max: 3 }).chain((n) =>
    fc.tuple(...Array.from({ length: n }, (_, i) => tableArb(`${opts.prefix}_${i}`))).chain((tables) => {
      const op = opArb(tables, opts.ddl ?? true);
      const item: fc.Arbitrary<Item> = fc.oneof(
        { weight: 5, arbitrary: op.map((o) => ({ k: 'op' as const, op: o })) },
        { weight: 1, arbitrary: fc.record({ k: fc.constant('savepoint' as const), ops: fc.array(op, { minLength: 1, maxLength: 3 }), rollback: fc.boolean() }) },
      );
      const tx = fc.record({
        mode: fc.constantFrom('auto', 'commit', 'commit', 'rollback') as fc.Arbitrary<Tx['mode']>,
        items: fc.array(item, { minLength: 1, maxLength: 6 }),
        interleave: fc.option(fc.array(op.filter((o) => o.k !== 'truncate' && o.k !== 'addColumn' && o.k !== 'dropColumn'), { minLength: 1, maxLength: 2 }), { freq: 5 }),
      });
      return fc.record({
        tables: fc.constant(tables),
        txs: fc.array(tx, { minLength: 1, maxLength: opts.maxTxs ?? 8 }),
        drop: opts.drop ? fc.subarray(tables.map((_, i) => i)) : fc.constant([]),
      });
    }),
  );
}

/** The workload with its tables renamed `<prefix>_…` (a copy: fast-check may replay the original). */
export function uniqueTables(w: Workload, prefix: string): Workload {
  return { ...w, tables: w.tables.map((t) => ({ ...t, name: t.name.replace(/^[^_]*_/, `${prefix}_`) })) };
}

export const qi = (s: string): string => `"${s.replace(/"/g, '""')}"`;

/** CREATE TABLE (and identity) for a spec. */
export function createTableSql(t: TableSpec): string {
  const cols = [`id int4${t.pk ? ' PRIMARY KEY' : ''}`, ...t.cols.map((c) => `${qi(c.name)} ${typeSql(c.type)}`), ...(t.toast ? ['big text', 'small int4'] : [])];
  return `CREATE TABLE ${qi(t.name)} (${cols.join(', ')}); ALTER TABLE ${qi(t.name)} REPLICA IDENTITY ${t.identity === 'full' ? 'FULL' : 'DEFAULT'};`;
}

const typeSql = (type: string): string => COLUMN_TYPES[type].sql;

/** Incompressible-enough text over 2 kB: stored out of line in TOAST. */
const bigText = (seed: number) => `(SELECT string_agg(md5('${seed}' || g), '') FROM generate_series(1, 120) g)`;

/** Runs a workload; `a` and `b` are two sessions on the test database. Returns the SQL it ran (for reports). */
export class Executor {
  readonly log: string[] = [];
  constructor(
    private readonly a: pg.Client,
    private readonly b: pg.Client,
    private readonly w: Workload,
  ) {}

  private async columns(c: pg.Client, t: TableSpec): Promise<string[]> {
    const r = await c.query(`SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [qi(t.name)]);
    return r.rows.map((x) => x.attname as string);
  }

  /** Renders an op against the table's current columns; null when it has nothing to do. */
  private async render(c: pg.Client, op: Op): Promise<string | null> {
    if (op.k === 'truncate') return `TRUNCATE ${op.ts.map((i) => qi(this.w.tables[i].name)).join(', ')}${op.restart ? ' RESTART IDENTITY' : ''}`;
    const t = this.w.tables[op.t];
    const T = qi(t.name);
    const cur = await this.columns(c, t);
    const data = cur.filter((n) => n !== 'id' && n !== 'big' && n !== 'small');
    const pick = (idx: number[]) => [...new Set(idx.map((i) => data[i % data.length]))].filter(Boolean);
    switch (op.k) {
      case 'insert': {
        const names = ['id', ...data, ...(t.toast ? ['big', 'small'] : [])];
        const rows = op.rows.map((r, i) => `(${[String(r.id), ...data.map((n) => r.v[n]), ...(t.toast ? [bigText(r.id * 7 + i), '0'] : [])].join(', ')})`);
        const conflict = !t.pk ? '' : op.upsert && data.length ? ` ON CONFLICT (id) DO UPDATE SET ${qi(data[0])} = EXCLUDED.${qi(data[0])}` : ' ON CONFLICT DO NOTHING';
        // Upserting the same key twice in one statement is an error: one row per key there.
        const uniq = t.pk ? rows.filter((_, i) => op.rows.findIndex((r) => r.id === op.rows[i].id) === i) : rows;
        return `INSERT INTO ${T} (${names.map(qi).join(', ')}) VALUES ${uniq.join(', ')}${conflict}`;
      }
      case 'update':
      case 'updateMany': {
        const set = pick(op.cols);
        if (!set.length) return null;
        const where = op.k === 'update' ? `id = ${op.id}` : `id > ${op.above}`;
        return `UPDATE ${T} SET ${set.map((n) => `${qi(n)} = ${op.v[n] ?? 'NULL'}`).join(', ')} WHERE ${where}`;
      }
      case 'updateKey':
        return `UPDATE ${T} SET id = ${op.to} WHERE id = ${op.from}${t.pk ? ` AND NOT EXISTS (SELECT 1 FROM ${T} WHERE id = ${op.to})` : ''}`;
      case 'touch':
        return t.toast ? `UPDATE ${T} SET small = small + 1 WHERE id = ${op.id}` : `UPDATE ${T} SET id = id WHERE id = ${op.id}`;
      case 'delete':
        return `DELETE FROM ${T} WHERE id ${op.above ? '>' : '='} ${op.id}`;
      case 'bigInsert': {
        const n0 = data[0];
        const extra = n0 ? `, ${qi(n0)}` : '';
        // A fixed value of the first data column (NULL is its own literal) keeps the row typed correctly.
        return `INSERT INTO ${T} (id${extra}) SELECT ${op.base} + g${n0 ? ', NULL' : ''} FROM generate_series(1, ${op.n}) g${t.pk ? ' ON CONFLICT DO NOTHING' : ''}`;
      }
      case 'addColumn': {
        const x = t.extra[op.extra % t.extra.length];
        if (cur.includes(x.name)) return null;
        return `ALTER TABLE ${T} ADD COLUMN ${qi(x.name)} ${typeSql(x.type)}${op.withDefault && x.type === 'text' ? ` DEFAULT ${op.withDefault}` : ''}`;
      }
      case 'dropColumn': {
        if (data.length <= 1) return null;
        return `ALTER TABLE ${T} DROP COLUMN ${qi(data[op.col % data.length])}`;
      }
    }
  }

  private async exec(c: pg.Client, op: Op): Promise<void> {
    const q = await this.render(c, op);
    if (q === null) return;
    this.log.push(c === this.b ? `/* session b */ ${q}` : q);
    await c.query(q);
  }

  private async items(c: pg.Client, items: Item[], tx: Tx, sp: { n: number }): Promise<void> {
    for (const it of items) {
      if (it.k === 'op') {
        if (tx.mode === 'auto') await this.autocommit(c, it.op);
        else await this.exec(c, it.op);
        continue;
      }
      const name = `sp${sp.n++}`;
      if (tx.mode === 'auto') await this.run(c, 'BEGIN');
      await this.run(c, `SAVEPOINT ${name}`);
      for (const op of it.ops) await this.exec(c, op);
      await this.run(c, it.rollback ? `ROLLBACK TO SAVEPOINT ${name}` : `RELEASE SAVEPOINT ${name}`);
      if (tx.mode === 'auto') await this.run(c, 'COMMIT');
    }
  }

  private async run(c: pg.Client, q: string): Promise<void> {
    this.log.push(c === this.b ? `/* session b */ ${q}` : q);
    await c.query(q);
  }

  private async autocommit(c: pg.Client, op: Op): Promise<void> {
    try {
      await this.exec(c, op);
    } catch (e) {
      this.log.push(`-- failed: ${(e as Error).message}`);
    }
  }

  /** Runs everything; a failing transaction is rolled back (both decoders then see nothing of it). */
  async runAll(): Promise<void> {
    for (const c of [this.a, this.b]) await c.query(`SET lock_timeout = '300ms'; SET statement_timeout = '30s'`);
    for (const t of this.w.tables) await this.run(this.a, createTableSql(t));
    const sp = { n: 0 };
    for (const tx of this.w.txs) {
      try {
        if (tx.mode !== 'auto') await this.run(this.a, 'BEGIN');
        if (tx.interleave) {
          await this.run(this.b, 'BEGIN');
          for (const op of tx.interleave) await this.exec(this.b, op);
        }
        await this.items(this.a, tx.items, tx, sp);
        if (tx.interleave) await this.run(this.b, 'COMMIT');
        if (tx.mode !== 'auto') await this.run(this.a, tx.mode === 'commit' ? 'COMMIT' : 'ROLLBACK');
      } catch (e) {
        this.log.push(`-- failed, rolled back: ${(e as Error).message}`);
        await this.a.query('ROLLBACK').catch(() => undefined);
        await this.b.query('ROLLBACK').catch(() => undefined);
      }
    }
  }

  /** Drops the workload's `drop` tables. */
  async dropTables(): Promise<void> {
    for (const i of this.w.drop) await this.run(this.a, `DROP TABLE ${qi(this.w.tables[i].name)}`);
  }
}
