/**
 * Child process of the pg-capture bench: runs rowtrail's PostgreSQL source on one slot into a fresh store
 * until the store reaches END_LSN, then prints one JSON line with wall time and peak RSS.
 * With ROWTRAIL_BENCH_DETECT=1 the daemon's detection runner reads the same store meanwhile (as in `watch`):
 * `seconds` is still the capture time; `detectSeconds` is when detection had seen every stored transaction.
 * ROWTRAIL_BENCH_WORK_MEM=64kB sets the replication connection's logical_decoding_work_mem (sources[].decodingWorkMem);
 * ROWTRAIL_BENCH_GUARD=1 watches every row with a guard that never fires (the counting cost of guards). The child
 * then also prints the slot's streaming and spill counters (pg_stat_replication_slots): the server's side of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { Store, openMasking } from '../../src/store/index.js';
import { PostgresSource, compareLsn } from '../../src/sources/postgres/index.js';
import { silentLogger } from '../../src/log/index.js';
import { unknownResolver } from '../../src/identity/resolver.js';
import { DetectionRunner } from '../../src/detection/index.js';
import { GuardRunner } from '../../src/guard/index.js';
import pg from 'pg';

const [url, slot, publication, endLsn] = process.argv.slice(2);
// set ROWTRAIL_BENCH_PROFILE=1 to write a CPU profile (node --cpu-prof) of this child
const dir = mkdtempSync(join(tmpdir(), 'rowtrail-bench-store-'));
const store = Store.open(dir);
const workMem = process.env.ROWTRAIL_BENCH_WORK_MEM;
const guards = process.env.ROWTRAIL_BENCH_GUARD === '1' ? [{ name: 'never', when: { op: 'delete', rowsOver: 1e12 }, action: 'alert' }] : [];
const root = parseConfig({ sources: [{ name: 'bench', kind: 'postgres', url, slot, publication, ...(workMem ? { decodingWorkMem: workMem } : {}) }], guards }, {});
const inflight = guards.length ? new GuardRunner({ source: 'bench', guards: root.guards, url, store, resolver: unknownResolver, log: silentLogger }) : undefined;
// ROWTRAIL_BENCH_MASK=1: masking on, as `watch` runs by default (key generated in the temp store)
if (process.env.ROWTRAIL_BENCH_MASK === '1') store.useMasker(openMasking(store, root.masking, { write: true })!.masker);
const source = new PostgresSource({ config: root.sources[0], root, store, log: silentLogger, identity: unknownResolver, url, inflight });
const ac = new AbortController();
const t0 = process.hrtime.bigint();
const run = source.run(ac.signal);
const detect = process.env.ROWTRAIL_BENCH_DETECT === '1' ? new DetectionRunner(store, root, silentLogger) : null;
const detectAc = new AbortController();
const detecting = detect?.run(detectAc.signal);
let failed: unknown = null;
run.catch((e) => (failed = e));
for (;;) {
  const pos = store.position('bench');
  if (pos && compareLsn(pos, endLsn) >= 0) break;
  if (failed) throw failed;
  await new Promise((r) => setTimeout(r, 20));
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
ac.abort();
await run;
let detectSeconds: number | null = null;
if (detect) {
  const last = () => (store.db.prepare(`SELECT coalesce(max(commit_seq), 0) AS s FROM transactions WHERE state = 'committed'`).get() as { s: number }).s;
  while (detect.stats().lastSeq < last()) await new Promise((r) => setTimeout(r, 20));
  detectSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  detectAc.abort();
  await detecting;
}
const changes = (store.db.prepare('SELECT count(*) AS n FROM changes').get() as { n: number }).n;
await inflight?.stop();
const c = new pg.Client({ connectionString: url });
await c.connect();
const slotStats = (
  await c.query(
    `SELECT stream_txns::int, stream_count::int, stream_bytes::bigint::text, spill_txns::int, spill_count::int, spill_bytes::bigint::text
       FROM pg_stat_replication_slots WHERE slot_name = $1`,
    [slot],
  )
).rows[0];
await c.end();
store.close();
rmSync(dir, { recursive: true, force: true });
const ru = process.resourceUsage();
const cpuSeconds = (ru.userCPUTime + ru.systemCPUTime) / 1e6;
process.stdout.write(`${JSON.stringify({ seconds, changes, maxRssMB: ru.maxRSS / 1024, cpuSeconds, detectSeconds, slotStats })}\n`);
