/**
 * Stand-in capture for undo tests, until the real sources land: row triggers record every change of the
 * watched tables in the database's own TEXT form (PostgreSQL `col::text`, MariaDB `CAST(col AS CHAR)` /
 * `HEX(col)` for binary — what the sources are specified to emit), and `ingest()` turns that log into
 * ChangeEvents in a Store through SourceWriter, as a source would. It stays for the fast planner/dialect
 * round trips (odd schema names per run, no slot per test); capture-roundtrip.test.ts runs the same kind of
 * property through the real PostgreSQL and MariaDB sources.
 *
 * Workloads run through the drivers with bound parameters, so the data a test writes never passes through the
 * undo code it checks.
 */
import pg from 'pg';
import mysql from 'mysql2/promise';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changedColumns, type Actor, type Row, type SystemKind } from '../../src/model/index.js';
import { Store } from '../../src/store/index.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import { maskLikeWatch } from '../harness/masking.js';

/** Runs `fn` between `begin` (BEGIN / START TRANSACTION) and COMMIT; ROLLBACK and rethrow when it fails. */
export async function inTransaction<T>(exec: (sql: string) => Promise<unknown>, begin: string, fn: () => Promise<T>): Promise<T> {
  await exec(begin);
  try {
    const result = await fn();
    await exec('COMMIT');
    return result;
  } catch (e) {
    await exec('ROLLBACK');
    throw e;
  }
}

export interface ColumnSpec {
  name: string;
  type: string;
}

export interface TableSpec {
  schema: string;
  name: string;
  columns: ColumnSpec[];
  key: string[];
  /** Extra DDL after the column list (constraints). */
  extra?: string[];
}

/** A bound-parameter connection to a test database, dialect-neutral (`?` placeholders in both). */
export interface Db {
  system: SystemKind;
  url: string;
  database: string;
  exec(sql: string, params?: unknown[]): Promise<Record<string, any>[]>;
  /** Runs fn in one transaction tagged with a fixture tx id and actor. */
  tx(id: string, actor: string, fn: () => Promise<void>): Promise<void>;
  q(name: string): string;
  table(t: { schema: string; name: string }): string;
  createTable(t: TableSpec): Promise<void>;
  /** The table's rows in text form, ordered by key: `[[col values…], …]`. */
  dump(t: TableSpec): Promise<(string | null)[][]>;
  close(): Promise<void>;
}

const pgIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
const myIdent = (s: string) => '`' + s.replace(/`/g, '``') + '`';
const LOG = 'rt_fixture_log';

export async function pgDb(url: string, database: string): Promise<Db> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const text = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
  const exec = async (sql: string, params: unknown[] = []) => {
    let n = 0;
    return (await client.query({ text: sql.replace(/\?/g, () => `$${++n}`), values: params, types: text })).rows;
  };
  await exec(`CREATE TABLE IF NOT EXISTS public.${LOG} (seq bigserial PRIMARY KEY, tx text, actor text, app text, query text,
    sch text NOT NULL, tbl text NOT NULL, op text NOT NULL, old json, new json)`);
  const db: Db = {
    system: 'postgresql',
    url,
    database,
    exec,
    async tx(id, actor, fn) {
      await inTransaction(exec, 'BEGIN', async () => {
        await exec(`SELECT set_config('fixture.tx', ?, true), set_config('fixture.actor', ?, true)`, [id, actor]);
        await fn();
      });
    },
    q: pgIdent,
    table: (t) => `${pgIdent(t.schema)}.${pgIdent(t.name)}`,
    async createTable(t) {
      await exec(`CREATE SCHEMA IF NOT EXISTS ${pgIdent(t.schema)}`);
      const cols = t.columns.map((c) => `${pgIdent(c.name)} ${c.type}`);
      if (t.key.length) cols.push(`PRIMARY KEY (${t.key.map(pgIdent).join(', ')})`);
      await exec(`CREATE TABLE ${db.table(t)} (${[...cols, ...(t.extra ?? [])].join(', ')})`);
      // Full before images for keyless tables too (what rowtrail setup asks for).
      await exec(`ALTER TABLE ${db.table(t)} REPLICA IDENTITY FULL`);
      const img = (rec: string) =>
        `json_build_object(${t.columns.map((c) => `'${c.name.replace(/'/g, "''")}', ${rec}.${pgIdent(c.name)}::text`).join(', ')})`;
      const fn = `${pgIdent(t.schema)}.${pgIdent('rt_fixture_' + t.name)}`;
      await exec(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $rtfix$
        BEGIN
          INSERT INTO public.${LOG} (tx, actor, app, query, sch, tbl, op, old, new) VALUES (
            coalesce(nullif(current_setting('fixture.tx', true), ''), 'pg-' || txid_current()::text),
            nullif(current_setting('fixture.actor', true), ''), current_setting('application_name'), current_query(),
            TG_TABLE_SCHEMA, TG_TABLE_NAME, lower(TG_OP),
            CASE WHEN TG_OP <> 'INSERT' THEN ${img('OLD')} END, CASE WHEN TG_OP <> 'DELETE' THEN ${img('NEW')} END);
          RETURN NULL;
        END $rtfix$`);
      await exec(`CREATE TRIGGER rt_fixture AFTER INSERT OR UPDATE OR DELETE ON ${db.table(t)} FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    },
    async dump(t) {
      const order = (t.key.length ? t.key : t.columns.map((c) => c.name)).map(pgIdent).join(', ');
      const rows = await exec(`SELECT ${t.columns.map((c, i) => `${pgIdent(c.name)}::text AS c${i}`).join(', ')} FROM ${db.table(t)} ORDER BY ${order}`);
      return rows.map((r) => t.columns.map((_, i) => r[`c${i}`] as string | null));
    },
    close: () => client.end(),
  };
  return db;
}

/** MariaDB text expression of a column (what the MySQL source emits): HEX for binary, else CAST AS CHAR. */
function myText(col: string, type: string): string {
  return /^\s*(binary|varbinary|tinyblob|blob|mediumblob|longblob)/i.test(type) ? `HEX(${col})` : `CAST(${col} AS CHAR)`;
}

/** A string literal safe under any sql_mode (for names in trigger bodies). */
const myStr = (s: string) => `_utf8mb4 X'${Buffer.from(s, 'utf8').toString('hex')}'`;

export async function mariaDb(url: string, database: string): Promise<Db> {
  const conn = await mysql.createConnection({ uri: url, charset: 'utf8mb4', dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
  const exec = async (sql: string, params: unknown[] = []) => {
    const [rows] = await conn.query(sql, params);
    return rows as Record<string, any>[];
  };
  await exec("SET time_zone = '+00:00'");
  await exec(`CREATE TABLE IF NOT EXISTS ${LOG} (seq bigint AUTO_INCREMENT PRIMARY KEY, tx varchar(200), actor varchar(200), app varchar(200),
    query longtext, sch varchar(200) NOT NULL, tbl varchar(200) NOT NULL, op varchar(10) NOT NULL, old longtext, new longtext) CHARACTER SET utf8mb4`);
  let trig = 0;
  const db: Db = {
    system: 'mariadb',
    url,
    database,
    exec,
    async tx(id, actor, fn) {
      await exec('SET @fixture_tx = ?, @fixture_actor = ?', [id, actor]);
      try {
        await inTransaction(exec, 'START TRANSACTION', fn);
      } finally {
        await exec('SET @fixture_tx = NULL, @fixture_actor = NULL');
      }
    },
    q: myIdent,
    table: (t) => `${myIdent(t.schema)}.${myIdent(t.name)}`,
    async createTable(t) {
      await exec(`CREATE DATABASE IF NOT EXISTS ${myIdent(t.schema)} CHARACTER SET utf8mb4`);
      const cols = t.columns.map((c) => `${myIdent(c.name)} ${c.type}`);
      if (t.key.length) cols.push(`PRIMARY KEY (${t.key.map(myIdent).join(', ')})`);
      await exec(`CREATE TABLE ${db.table(t)} (${[...cols, ...(t.extra ?? [])].join(', ')}) ENGINE=InnoDB CHARACTER SET utf8mb4`);
      const img = (rec: string) => `JSON_OBJECT(${t.columns.map((c) => `${myStr(c.name)}, ${myText(`${rec}.${myIdent(c.name)}`, c.type)}`).join(', ')})`;
      for (const [ev, oldImg, newImg] of [
        ['INSERT', 'NULL', img('NEW')],
        ['UPDATE', img('OLD'), img('NEW')],
        ['DELETE', img('OLD'), 'NULL'],
      ]) {
        await exec(`CREATE TRIGGER ${myIdent(t.schema)}.rt_fixture_${trig++} AFTER ${ev} ON ${db.table(t)} FOR EACH ROW
          INSERT INTO ${myIdent(database)}.${LOG} (tx, actor, sch, tbl, op, old, new)
          VALUES (coalesce(@fixture_tx, CONCAT('my-', CONNECTION_ID())), @fixture_actor, ${myStr(t.schema)}, ${myStr(t.name)}, ${myStr(ev.toLowerCase())}, ${oldImg}, ${newImg})`);
      }
    },
    async dump(t) {
      const order = (t.key.length ? t.key : t.columns.map((c) => c.name)).map(myIdent).join(', ');
      const rows = await exec(`SELECT ${t.columns.map((c, i) => `${myText(myIdent(c.name), c.type)} AS c${i}`).join(', ')} FROM ${db.table(t)} ORDER BY ${order}`);
      return rows.map((r) => t.columns.map((_, i) => (r[`c${i}`] === null ? null : String(r[`c${i}`]))));
    },
    close: () => conn.end(),
  };
  return db;
}

/** md5 of an ordered dump (what the round-trip tests compare). */
export function md5(rows: unknown): string {
  return createHash('md5').update(JSON.stringify(rows)).digest('hex');
}

/** Column types as the source records them: PostgreSQL format_type(), MariaDB COLUMN_TYPE. */
async function typesOf(db: Db, schema: string, table: string): Promise<Record<string, string>> {
  const rows =
    db.system === 'postgresql'
      ? await db.exec(
          `SELECT a.attname AS col, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = ? AND c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
          [schema, table],
        )
      : await db.exec(
          `SELECT COLUMN_NAME AS col, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
          [schema, table],
        );
  const out: Record<string, string> = {};
  for (const r of rows) out[String(r.col)] = String(r.type);
  return out;
}

/** Turns the recorder's log into ChangeEvents. */
export class Recorder {
  private seq = 0;
  private txCount = 0;
  private readonly keys = new Map<string, string[]>();
  readonly store: Store;
  readonly source = 'fx';

  constructor(
    readonly db: Db,
    storeDir = mkdtempSync(join(tmpdir(), 'rowtrail-undo-store-')),
  ) {
    this.store = Store.open(storeDir, { synchronous: 'NORMAL' });
    maskLikeWatch(this.store);
  }

  watch(t: TableSpec): void {
    this.keys.set(`${t.schema}\u0000${t.name}`, t.key);
  }

  /** Writes every logged change not yet ingested as ChangeEvents, one stored transaction per fixture tx. */
  async ingest(): Promise<number> {
    const log = await this.db.exec(`SELECT seq, tx, actor, app, sch, tbl, op, old, new FROM ${LOG} WHERE seq > ? ORDER BY seq`, [this.seq]);
    const w = this.store.writer(this.source, this.db.system, this.db.database);
    const types = new Map<string, Record<string, string>>();
    let i = 0;
    while (i < log.length) {
      const txId = String(log[i].tx);
      const actorName = log[i].actor === null ? null : String(log[i].actor);
      const tx = w.begin(txId);
      while (i < log.length && String(log[i].tx) === txId) {
        const r = log[i++];
        this.seq = Number(r.seq);
        const id = `${r.sch}\u0000${r.tbl}`;
        if (!types.has(id)) types.set(id, await typesOf(this.db, String(r.sch), String(r.tbl)));
        const parse = (v: unknown): Row | null => (v === null || v === undefined ? null : typeof v === 'string' ? JSON.parse(v) : (v as Row));
        const before = parse(r.old);
        const after = parse(r.new);
        const keyCols = this.keys.get(id) ?? [];
        const img = (after ?? before)!;
        const key = keyCols.length ? Object.fromEntries(keyCols.map((c) => [c, (r.op === 'insert' ? after! : before!)[c]])) : null;
        w.add(tx, {
          schema: String(r.sch),
          table: String(r.tbl),
          op: r.op as 'insert',
          key: key && img ? key : null,
          before,
          after,
          changed: changedColumns(before, after),
          types: types.get(id),
        });
      }
      const n = ++this.txCount;
      const actor: Actor = actorName
        ? { user: 'app', agent: actorName, kind: 'ai-agent', confidence: 'exact', context: { run: `run-${actorName}` } }
        : { user: 'app', application: String(log[i - 1].app ?? ''), kind: 'unknown', confidence: 'exact' };
      const position = `pos-${String(n).padStart(8, '0')}`;
      const commitTime = new Date(Date.UTC(2026, 10, 26, 10, 0, 0) + n * 1000).toISOString().replace('Z', '123Z');
      w.commit(tx, { position, commitTime, actor, resumePosition: position });
    }
    w.flush();
    return log.length;
  }

  /** A config whose only source is this database. */
  config(): Config {
    const kind = this.db.system === 'postgresql' ? 'postgres' : 'mysql';
    return parseConfig({ sources: [{ name: this.source, kind, url: this.db.url }], store: { path: this.store.dir } }, {});
  }

  close(): void {
    this.store.close();
  }
}
