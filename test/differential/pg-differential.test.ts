/**
 * Differential capture test, PostgreSQL: generated workloads (fast-check) run against a real server while
 * rowtrail captures them live; every change rowtrail stored is compared with what the server's own decoder
 * (`test_decoding`, on a second slot created before the workload) says about the same WAL: transaction,
 * commit time, op, table, key, before and after images, unchanged TOAST, changed columns, TRUNCATE flags.
 *
 * Replay a failure with ROWTRAIL_FC_SEED=<seed printed on failure>; see fc-params.ts.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { sharedPg } from '../harness/shared.js';
import { startCapture, sql, type Capture } from '../postgres/capture-helpers.js';
import type { ChangeEvent } from '../../src/model/index.js';
import { failOn, fcParams } from './fc-params.js';
import { assertSame, diffDatabase, opCounts, runWorkload, tdRecords, type DiffDb } from './pg-harness.js';
import { uniqueTables, workloadArb } from './pg-workload.js';

const server = sharedPg();
let d: DiffDb;
let cap: Capture;

beforeAll(async () => {
  d = await diffDatabase(server, 'diffpg');
  cap = startCapture(d.url, d.sources[0]);
});

afterAll(async () => {
  await cap?.destroy();
  await sql(d.url, `SELECT pg_drop_replication_slot($1)`, [d.tdSlot]).catch(() => undefined);
});

describe('PostgreSQL capture against test_decoding', () => {
  it('stores every change of generated workloads exactly as test_decoding decodes it', async () => {
    let run = 0;
    let seen = 0;
    const totals: Record<string, number> = {};
    const out = await fc.check(
      fc.asyncProperty(
        workloadArb({ prefix: 'w' }),
        async (generated) => {
          // Table names are unique per run (shrinking replays runs), so runs never see each other's tables.
          const w = uniqueTables(generated, `w${run++}`);
          const log = await runWorkload(d.url, w);
          await cap.caughtUp(60_000);
          const records = await tdRecords(d);
          const all: ChangeEvent[] = [...cap.store.changes({ source: 'pg' })];
          const events = all.slice(seen);
          seen = all.length;
          for (const [k, v] of Object.entries(opCounts(events))) totals[k] = (totals[k] ?? 0) + v;
          assertSame(records, events, w, log);
        },
      ),
      fcParams('pg-differential', 15),
    );
    failOn(out);
    const streamed = await sql(d.url, `SELECT stream_txns, spill_txns FROM pg_stat_replication_slots WHERE slot_name = $1`, [d.sources[0].slot]);
    console.log(`[pg-differential] ${run} workloads, events ${JSON.stringify(totals)}, slot stats ${JSON.stringify(streamed.rows[0] ?? {})}`);
  }, 180_000);
});
