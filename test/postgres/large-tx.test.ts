/**
 * Large transactions: streamed in progress (protocol v2) into the store in slices, so memory stays bounded;
 * a streamed transaction that rolls back leaves nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedPg } from '../harness/shared.js';
import { setupSource, sql, startCapture, type Capture } from './capture-helpers.js';

const pg = sharedPg();
let url: string;
let cap: Capture;
let db: string;

beforeAll(async () => {
  db = await pg.freshDatabase('bigtx');
  url = pg.url(db);
  // Make the server stream (rather than spill to disk) as early as it can: any transaction over 64 kB.
  await sql(url, `ALTER DATABASE ${db} SET logical_decoding_work_mem = '64kB'`);
  await sql(url, `CREATE TABLE big (id bigint PRIMARY KEY, v text, n numeric)`);
  cap = startCapture(url, await setupSource(url));
});

afterAll(async () => {
  await cap?.destroy();
});

async function streamedTxns(): Promise<number> {
  const r = await sql(url, `SELECT coalesce(sum(stream_txns), 0)::int AS n FROM pg_stat_replication_slots WHERE slot_name = 's_' || current_database()`);
  return Number(r.rows[0].n);
}

describe('large transactions', () => {
  it('captures a 1M-row transaction that the server streams before it commits', async () => {
    const before = await streamedTxns();
    await sql(url, `INSERT INTO big SELECT g, 'row ' || g, g / 7.0 FROM generate_series(1, 1000000) g`);
    await cap.caughtUp(240_000);
    expect(await streamedTxns()).toBeGreaterThan(before);
    const t = cap.store.db
      .prepare(`SELECT t.size, count(*) AS n, min(c.idx) AS lo, max(c.idx) AS hi FROM transactions t JOIN changes c ON c.tx_pk = t.tx_pk WHERE c.tbl = 'big' GROUP BY t.tx_pk`)
      .all() as { size: number; n: number; lo: number; hi: number }[];
    expect(t).toEqual([{ size: 1_000_000, n: 1_000_000, lo: 0, hi: 999_999 }]);
    const last = [...cap.store.changes({ table: 'public.big', key: { id: '1000000' } })];
    expect(last[0].after).toEqual({ id: '1000000', v: 'row 1000000', n: '142857.142857142857' });
  }, 300_000);

  it('leaves no trace of a streamed transaction that rolls back, or of its rolled-back savepoints', async () => {
    await sql(url, `BEGIN; INSERT INTO big SELECT g, 'gone', 0 FROM generate_series(2000001, 2100000) g; ROLLBACK;`);
    await sql(
      url,
      `BEGIN;
       INSERT INTO big SELECT g, 'kept', 1 FROM generate_series(3000001, 3020000) g;
       SAVEPOINT s1;
       INSERT INTO big SELECT g, 'undone', 2 FROM generate_series(3100001, 3120000) g;
       ROLLBACK TO s1;
       INSERT INTO big SELECT g, 'kept too', 3 FROM generate_series(3200001, 3220000) g;
       COMMIT;`,
    );
    await cap.caughtUp(120_000);
    const counts = cap.store.db
      .prepare(`SELECT json_extract(after, '$.v') AS v, count(*) AS n FROM changes WHERE tbl = 'big' AND json_extract(after, '$.v') IN ('gone', 'kept', 'undone', 'kept too') GROUP BY 1 ORDER BY 1`)
      .all();
    expect(counts).toEqual([
      { v: 'kept', n: 20_000 },
      { v: 'kept too', n: 20_000 },
    ]);
    const open = cap.store.db.prepare(`SELECT count(*) AS n FROM transactions WHERE state = 'open'`).get() as { n: number };
    expect(open.n).toBe(0);
    // The kept transaction's indexes are dense: 0..39999.
    const idx = cap.store.db
      .prepare(`SELECT min(idx) AS lo, max(idx) AS hi, count(*) AS n FROM changes WHERE tx_pk = (SELECT tx_pk FROM changes WHERE tbl = 'big' AND json_extract(after, '$.v') = 'kept' LIMIT 1)`)
      .get();
    expect(idx).toEqual({ lo: 0, hi: 39_999, n: 40_000 });
  }, 180_000);
});
