/**
 * "Schema change seen in the stream" events do not depend on where pgoutput put its RELATION messages.
 * Live capture receives a large transaction streamed while it is still open; when that transaction (or a
 * savepoint in it) then rolls back, the RELATION messages it carried must count for nothing: a catch-up,
 * decoding the same WAL after the rollback, does not see them. Live and catch-up store the same events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sharedPg } from '../harness/shared.js';
import { setupSource, sql, startCapture, type Capture } from './capture-helpers.js';
import type { SourceConfig } from '../../src/config/index.js';
import type { ChangeEvent } from '../../src/model/index.js';

const server = sharedPg();
let url: string;
let live: Capture;
let later: Capture | undefined;
let catchUpCfg: SourceConfig;

beforeAll(async () => {
  const db = await server.freshDatabase('streamschema');
  url = server.url(db);
  // The server streams any transaction over 64 kB before it commits.
  await sql(url, `ALTER DATABASE ${db} SET logical_decoding_work_mem = '64kB'`);
  const cfg = await setupSource(url);
  catchUpCfg = await setupSource(url, { slot: `s1_${db}` }); // read only after the workload: the catch-up
  live = startCapture(url, cfg);
});

afterAll(async () => {
  await live?.destroy();
  await later?.destroy();
});

/** Transactions the server streamed on a slot so far. */
async function streamed(slot: string): Promise<number> {
  const r = await sql(url, `SELECT coalesce(sum(stream_txns), 0)::int AS n FROM pg_stat_replication_slots WHERE slot_name = $1`, [slot]);
  return Number(r.rows[0].n);
}

/** Runs `open` in a transaction, waits until live capture was streamed its changes, then runs `close`. */
async function streamThen(open: string, close: string): Promise<void> {
  const before = await streamed(live.cfg.slot!);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`BEGIN; ${open}`);
    const deadline = Date.now() + 30_000;
    while ((await streamed(live.cfg.slot!)) <= before) {
      if (Date.now() > deadline) throw new Error('the server did not stream the open transaction to live capture');
      await new Promise((r) => setTimeout(r, 25));
    }
    await c.query(close);
  } finally {
    await c.end();
  }
}

const big = (t: string) => `INSERT INTO ${t} (id, a) SELECT g, 'gone' FROM generate_series(1000, 4000) g`;
const comparable = ({ actor: _actor, ...e }: ChangeEvent) => e;
const ddls = (events: ChangeEvent[], table: string) => events.filter((e) => e.op === 'ddl' && e.table === table).map((e) => e.ddl);

describe('schema changes seen in the stream, live and caught up', () => {
  it('are the same whether or not rolled-back streamed changes carried the new shape first', async () => {
    for (const t of ['t_drop', 't_first', 't_sub']) await sql(url, `CREATE TABLE ${t} (id int PRIMARY KEY, a text, b text)`);
    // 1. A column dropped; a rolled-back streamed transaction carries the new shape; a committed insert follows.
    await sql(url, `INSERT INTO t_drop VALUES (1, 'x', 'y')`);
    await sql(url, `ALTER TABLE t_drop DROP COLUMN b`);
    await streamThen(big('t_drop'), 'ROLLBACK');
    await sql(url, `INSERT INTO t_drop VALUES (2, 'z')`);
    // 2. A table's first changes are rolled back (old shape); then a column is dropped and a row committed.
    await streamThen(big('t_first'), 'ROLLBACK');
    await sql(url, `ALTER TABLE t_first DROP COLUMN b`);
    await sql(url, `INSERT INTO t_first VALUES (1, 'x')`);
    // 3. Like 1, inside a savepoint of a streamed transaction that commits.
    await sql(url, `INSERT INTO t_sub VALUES (1, 'x', 'y')`);
    await sql(url, `ALTER TABLE t_sub DROP COLUMN b`);
    await streamThen(`SAVEPOINT s; ${big('t_sub')}`, `ROLLBACK TO s; INSERT INTO t_sub VALUES (2, 'z'); COMMIT`);
    await live.caughtUp();

    const liveEvents = [...live.store.changes({ source: 'pg' })];
    expect(ddls(liveEvents, 't_drop')).toEqual(['-- schema change seen in the stream: dropped column b']);
    expect(ddls(liveEvents, 't_first')).toEqual([]);
    expect(ddls(liveEvents, 't_sub')).toEqual(['-- schema change seen in the stream: dropped column b']);
    // The ddl event comes first in the transaction of the row that used the new shape.
    const drop = liveEvents.filter((e) => e.table === 't_drop').map((e) => [e.op, e.tx.index]);
    expect(drop).toEqual([
      ['insert', 0],
      ['ddl', 0],
      ['insert', 1],
    ]);

    later = startCapture(url, catchUpCfg);
    await later.caughtUp();
    const cuEvents = [...later.store.changes({ source: 'pg' })];
    expect(cuEvents.map(comparable)).toEqual(liveEvents.map(comparable));
  }, 60_000);
});
