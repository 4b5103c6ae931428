/**
 * Undo through real capture (no fixture): the PostgreSQL source (pgoutput, REPLICA IDENTITY FULL) and the
 * MariaDB source (row binlog) record random workloads on tables of odd names and many types; undo then
 * reverts a chosen set of transactions — every "main" transaction after a cut, while "bystander"
 * transactions on other rows of the same table, interleaved with them, stay — through the real store. After
 * the undo, the main rows equal their state at the cut and the bystander rows their final state, exactly
 * (md5 of an ordered dump). Half the runs apply through the runner, half run the printed script through the
 * database's own command-line client.
 *
 * The MariaDB server runs in zone +03:00 and the workload in +05:30, so TIMESTAMP values pass through three
 * zones (capture records UTC).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { sharedPg } from '../harness/shared.js';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import type { PgServer } from '../harness/postgres.js';
import { setupSource, startCapture, type Capture } from '../postgres/capture-helpers.js';
import { runSource, type Running } from '../mysql/helpers.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import type { Store } from '../../src/store/index.js';
import { applyUndo, prepareUndo, renderSql, scriptStatements, stepSql, type UndoPlan } from '../../src/undo/index.js';
import { inTransaction, md5 } from './fixture.js';
import { identifier, workload, type Op } from './arbitraries.js';
import { MARIA_CAPTURE, PG_CAPTURE, PG_SCHEMA, PG_SETUP, type CaptureType } from './capture-types.js';
import { fcSeed } from './helpers.js';
import type { SystemKind } from '../../src/model/index.js';

/** Keys of bystander rows start here; main rows stay below. */
const BYSTANDER = 1_000_000;

/** One side of a round trip: a database with capture running into a store. */
interface Side {
  system: SystemKind;
  schema: string;
  q(name: string): string;
  exec(sql: string, params?: unknown[]): Promise<unknown>;
  /** Runs fn in one transaction; returns the transaction's id as capture records it. */
  tx(fn: () => Promise<void>): Promise<string>;
  createTable(name: string, key: string, cols: { name: string; type: string }[]): Promise<void>;
  /** Rows in exact text form ordered by key: `[key, …values]`. */
  dump(name: string, key: string, cols: { name: string; type: CaptureType }[]): Promise<(string | null)[][]>;
  caughtUp(): Promise<void>;
  store(): Store;
  config(): Config;
  runScript(sql: string): Promise<unknown>;
  placeholder(t: CaptureType): string;
}

interface Case {
  names: string[];
  types: number[];
  main: Op[][];
  by: Op[][];
  order: boolean[];
  cut: number;
  viaScript: boolean;
}

function caseArb(system: SystemKind, all: CaptureType[]): fc.Arbitrary<Case> {
  return fc
    .tuple(
      fc.uniqueArray(identifier(system), { minLength: 9, maxLength: 9, selector: (s) => s.toLowerCase() }),
      fc.uniqueArray(fc.integer({ min: 0, max: all.length - 1 }), { minLength: 3, maxLength: 6 }),
      fc.nat(),
      fc.boolean(),
      fc.array(fc.boolean(), { maxLength: 12 }),
    )
    .chain(([names, types, cut, viaScript, order]) => {
      const gens = types.map((i) => all[i]);
      return fc.tuple(workload(gens), workload(gens)).map(([main, by]) => ({ names, types, main, by, order, cut, viaScript }));
    });
}

/** Runs one stream of transactions (main or bystander) on its own key range. */
class Stream {
  live: number[] = [];
  next: number;
  constructor(
    readonly ops: Op[][],
    base: number,
  ) {
    this.next = base + 1;
  }
}

let run = 0;
let unlogged = 0;

/**
 * Waits until capture stored a marker transaction committed now (so everything before it is stored too).
 * Why not the server's current position: it moves past the last commit, and the store only reaches it on
 * the next keepalive.
 */
let markers = 0;
async function caughtUp(side: Side, failed: () => unknown, done?: Promise<unknown>): Promise<void> {
  const t = `${side.q(side.schema)}.${side.q('rt marker')}`;
  const id = await side.tx(() => side.exec(`INSERT INTO ${t} (n) VALUES (?)`, [String(++markers)]).then(() => undefined));
  const deadline = Date.now() + 30_000;
  while ([...side.store().changes({ txIds: [id], limit: 1 })].length === 0) {
    if (failed()) throw failed();
    if (Date.now() > deadline) throw new Error(`capture did not store marker transaction ${id}; stored: ${JSON.stringify([...side.store().changes({ limit: 3, newestFirst: true })].map((e) => [e.tx.id, e.table, e.op]))}`);
    // Why not race with an undefined `done`: Promise.race([p, undefined]) settles at once and starves the source's I/O.
    await Promise.race([new Promise((r) => setTimeout(r, 10)), ...(done ? [done] : [])]);
  }
}

async function undoTxs(side: Side, txIds: string[], viaScript: boolean): Promise<UndoPlan> {
  const { plan, dialect, conn } = await prepareUndo(side.store(), side.config(), { filter: { txIds } });
  try {
    if (process.env.UNDO_DEBUG && plan.conflicts.length) for (const st of plan.steps) console.log('STEP', JSON.stringify({ cur: st.current, types: st.types }), stepSql(st, dialect, plan.runId));
    expect(plan.refusals).toEqual([]);
    expect(plan.conflicts).toEqual([]);
    if (scriptStatements(plan, dialect).length === 0) return plan;
    if (viaScript) await side.runScript(renderSql(plan, dialect));
    else await applyUndo(conn, dialect, plan);
    return plan;
  } finally {
    await conn.close();
  }
}

async function roundTrip(side: Side, all: CaptureType[], c: Case): Promise<void> {
  const n = run++;
  const gens = c.types.map((i) => all[i]);
  const name = `${c.names[1]} ${n}`;
  const key = c.names[2];
  const cols = gens.map((g, i) => ({ name: c.names[3 + i], type: g }));
  await side.createTable(name, key, cols.map((x) => ({ name: x.name, type: x.type.type })));
  const q = side.q;
  const table = `${q(side.schema)}.${q(name)}`;
  const bind = (g: CaptureType, v: string | null) => (v === null ? null : g.bind ? g.bind(v) : v);

  async function runTx(s: Stream, ops: Op[]): Promise<string> {
    return side.tx(async () => {
      for (const op of ops) {
        if (op.k === 'ins') {
          const id = s.next++;
          await side.exec(`INSERT INTO ${table} (${[key, ...cols.map((x) => x.name)].map(q).join(', ')}) VALUES (?, ${gens.map((g) => side.placeholder(g)).join(', ')})`, [
            String(id),
            ...gens.map((g, j) => bind(g, op.vals[j])),
          ]);
          s.live.push(id);
          continue;
        }
        if (!s.live.length) continue;
        const at = op.pick % s.live.length;
        const id = s.live[at];
        if (op.k === 'del') {
          await side.exec(`DELETE FROM ${table} WHERE ${q(key)} = ?`, [String(id)]);
          s.live.splice(at, 1);
        } else if (op.k === 'rekey') {
          const to = s.next++;
          await side.exec(`UPDATE ${table} SET ${q(key)} = ? WHERE ${q(key)} = ?`, [String(to), String(id)]);
          s.live[at] = to;
        } else {
          await side.exec(`UPDATE ${table} SET ${op.cols.map((j) => `${q(cols[j].name)} = ${side.placeholder(gens[j])}`).join(', ')} WHERE ${q(key)} = ?`, [
            ...op.cols.map((j) => bind(gens[j], op.vals[j])),
            String(id),
          ]);
        }
      }
    });
  }

  const dump = () => side.dump(name, key, cols);
  const isMain = (row: (string | null)[]) => Number(row[0]) < BYSTANDER;
  const main = new Stream(c.main, 0);
  const by = new Stream(c.by, BYSTANDER);
  const mainTx: string[] = [];
  const snapshots: (string | null)[][][] = [];
  // Interleave: both seeds first, then main or bystander transactions as `order` says.
  let mi = 0;
  let bi = 0;
  let k = 0;
  while (mi < c.main.length || bi < c.by.length) {
    const takeMain = bi >= c.by.length || (mi < c.main.length && (mi === 0 || (bi > 0 && (c.order[k++] ?? true))));
    if (takeMain) {
      snapshots.push((await dump()).filter(isMain));
      mainTx.push(await runTx(main, c.main[mi++]));
    } else {
      await runTx(by, c.by[bi++]);
    }
  }
  await side.caughtUp();
  const cut = 1 + (c.cut % (c.main.length - 1));
  const stored = new Set<string>();
  for (const ev of side.store().changes({ table: `${side.schema}.${name}` })) stored.add(ev.tx.id);
  const undone = mainTx.slice(cut).filter((id) => stored.has(id));
  const before = await dump();
  if (process.env.UNDO_DEBUG) console.log(`run ${n}: undo ${undone.length} of ${mainTx.length} main transactions (${c.viaScript ? 'script' : 'runner'})`);
  if (!undone.length) return;
  try {
    await undoTxs(side, undone, c.viaScript);
  } catch (e) {
    if (process.env.UNDO_DEBUG) console.log(e);
    throw e;
  }
  const now = await dump();
  const expected = [...snapshots[cut], ...before.filter((r) => !isMain(r))].sort((a, b) => Number(a[0]) - Number(b[0]));
  expect(now).toEqual(expected);
  expect(md5(now)).toBe(md5(expected));
}

/** Every value as the server's text output, never parsed by pg-types. */
const rawTypes = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

describe('undo round trip through PostgreSQL capture (fast-check)', () => {
  let server: PgServer;
  let cap: Capture;
  let client: pg.Client;
  let url: string;
  let side: Side;
  beforeAll(async () => {
    server = sharedPg();
    const db = await server.freshDatabase('undo_cap');
    url = server.url(db);
    client = new pg.Client({ connectionString: url, types: rawTypes });
    await client.connect();
    // Why: the test server commits asynchronously, and the walsender sends only flushed WAL; flushing at
    // commit lets capture see each transaction at once instead of at the WAL writer's pace.
    await client.query('SET synchronous_commit = on');
    for (const s of PG_SETUP) await client.query(s);
    const cfg = await setupSource(url);
    await client.query(`CREATE TABLE "${PG_SCHEMA.replace(/"/g, '""')}"."rt marker" (n bigint PRIMARY KEY)`);
    cap = startCapture(url, cfg);
    const exec = async (sql: string, params: unknown[] = []) => {
      let i = 0;
      return (await client.query(sql.replace(/\?/g, () => `$${++i}`), params)).rows;
    };
    const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
    side = {
      system: 'postgresql',
      schema: PG_SCHEMA,
      q,
      exec,
      tx: (fn) =>
        inTransaction(exec, 'BEGIN', async () => {
          const id = String((await exec('SELECT txid_current()::text AS x'))[0].x);
          await fn();
          return id;
        }),
      async createTable(name, key, cols) {
        const t = `${q(PG_SCHEMA)}.${q(name)}`;
        await exec(`CREATE TABLE ${t} (${q(key)} bigint PRIMARY KEY, ${cols.map((x) => `${q(x.name)} ${x.type}`).join(', ')})`);
        await exec(`ALTER TABLE ${t} REPLICA IDENTITY FULL`);
      },
      async dump(name, key) {
        const rows = (await client.query({ text: `SELECT * FROM ${q(PG_SCHEMA)}.${q(name)} ORDER BY ${q(key)}`, rowMode: 'array' })).rows as (string | null)[][];
        return rows;
      },
      caughtUp: () => caughtUp(side, () => cap.error),
      store: () => cap.store,
      config: () => parseConfig({ sources: [{ name: cap.cfg.name, kind: 'postgres', url }], store: { path: cap.storeDir } }, {}),
      runScript: (sql) => server.psql(sql, db),
      placeholder: (t) => `?::${t.type}`,
    };
  });
  afterAll(async () => {
    await cap?.destroy();
    await client?.end();
  });
  it('restores the chosen transactions exactly, leaving the interleaved ones', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb('postgresql', PG_CAPTURE), (c) => roundTrip(side, PG_CAPTURE, c)),
      { numRuns: 50, ...fcSeed() },
    );
  }, 300_000);
});

describe('undo round trip through MariaDB capture (fast-check)', () => {
  let m: MariaServer;
  let src: Running;
  let conn: mysql.Connection;
  let dumper: mysql.Connection;
  let side: Side;
  const DB = 'undo_cap';
  beforeAll(async () => {
    m = await startMariadb();
    // Neither UTC (what capture records) nor the workload's zone: undo must not depend on the server's zone.
    await m.sql(`SET GLOBAL time_zone = '+03:00'; CREATE DATABASE ${DB} CHARACTER SET utf8mb4`);
    const url = m.url(DB);
    const opts = { uri: url, charset: 'utf8mb4', dateStrings: true, supportBigNumbers: true, bigNumberStrings: true } as const;
    conn = await mysql.createConnection(opts);
    await conn.query(`SET time_zone = '+05:30'`);
    dumper = await mysql.createConnection(opts);
    await conn.query(`CREATE TABLE ${DB}.\`rt marker\` (n bigint PRIMARY KEY)`);
    src = await runSource(url);
    const exec = async (sql: string, params: unknown[] = []) => (await conn.query(sql, params))[0];
    const q = (s: string) => '`' + s.replace(/`/g, '``') + '`';
    side = {
      system: 'mariadb',
      schema: DB,
      q,
      exec,
      async tx(fn) {
        const gtid = async () => String(((await exec('SELECT @@last_gtid AS g')) as { g: string }[])[0].g);
        const before = await gtid();
        await inTransaction(exec, 'START TRANSACTION', fn);
        // Why compare: a transaction that changed no row (an UPDATE to the same values) is not binlogged and
        // gets no GTID; @@last_gtid then still names the previous transaction (maybe a bystander's).
        const after = await gtid();
        return after === before ? `not-logged-${++unlogged}` : after;
      },
      async createTable(name, key, cols) {
        await exec(`CREATE TABLE ${q(DB)}.${q(name)} (${q(key)} bigint PRIMARY KEY, ${cols.map((x) => `${q(x.name)} ${x.type}`).join(', ')}) ENGINE=InnoDB CHARACTER SET utf8mb4`);
      },
      async dump(name, key, cols) {
        // Binary protocol (execute): FLOAT/DOUBLE arrive as their exact binary values, everything else as text.
        const exprs = cols.map((x) => (x.type.dump ?? ((c: string) => `CAST(${c} AS CHAR)`))(q(x.name)));
        const [rows] = await dumper.execute({ sql: `SELECT CAST(${q(key)} AS CHAR), ${exprs.join(', ')} FROM ${q(DB)}.${q(name)} ORDER BY ${q(key)}`, rowsAsArray: true });
        return (rows as unknown[][]).map((r) => r.map((v) => (v === null ? null : typeof v === 'number' ? (Object.is(v, -0) ? '-0' : String(v)) : String(v))));
      },
      caughtUp: () => caughtUp(side, () => undefined, src.done),
      store: () => src.store,
      config: () => parseConfig({ sources: [{ name: 'shop', kind: 'mysql', url }], store: { path: src.dir } }, {}),
      runScript: (sql) => m.sql(sql, DB),
      placeholder: (t) => t.param ?? '?',
    };
  });
  afterAll(async () => {
    await src?.stop();
    await conn?.end();
    await dumper?.end();
    await m?.destroy();
  });
  it('restores the chosen transactions exactly, leaving the interleaved ones', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb('mariadb', MARIA_CAPTURE), (c) => roundTrip(side, MARIA_CAPTURE, c)),
      { numRuns: 50, ...fcSeed() },
    );
  }, 300_000);
});
