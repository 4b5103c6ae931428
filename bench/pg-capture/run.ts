/**
 * bench/pg-capture: N mixed row changes (inserts, updates, deletes in small transactions) plus one
 * single transaction of M rows, captured into the store by rowtrail, against pg_recvlogical (pgoutput,
 * same options) reading the same WAL to /dev/null in the same run.
 *
 *   node --import tsx bench/pg-capture/run.ts [--changes 1000000] [--big 1000000] [--runs 1]
 *
 * Prints changes/s, the wall-time ratio to pg_recvlogical, and rowtrail's peak RSS. With
 * ROWTRAIL_BENCH_DETECT=1 the detectors run beside capture, reading the store, as in `watch`. With
 * ROWTRAIL_BENCH_MASK=compare each run also captures with masking on (ROWTRAIL_BENCH_MASK=1: on only); with
 * ROWTRAIL_BENCH_DETECT=compare each run also captures with the detectors on (the other captures: off).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { startPostgres } from '../../test/harness/postgres.js';

const run = promisify(execFile);
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('changes', 1_000_000);
const BIG = arg('big', 1_000_000);
const RUNS = arg('runs', 1);
/** ROWTRAIL_BENCH_MASK: `1` capture with masking on (as `watch` by default), `compare` off and on in the same run. */
const COMPARE = process.env.ROWTRAIL_BENCH_MASK === 'compare';
/** ROWTRAIL_BENCH_DETECT: `1` the detectors run beside capture (as in `watch`), `compare` off and on in the same run. */
const DETECT_COMPARE = process.env.ROWTRAIL_BENCH_DETECT === 'compare';
/** The extra captures of each run, beside rowtrail as configured ('rt') and pg_recvlogical ('base'). */
const VARIANTS = [
  ...(COMPARE ? [{ who: 'rt-masked', slot: 'rtm', label: 'masking on', env: { ROWTRAIL_BENCH_MASK: '1', ROWTRAIL_BENCH_DETECT: '0' } }] : []),
  ...(DETECT_COMPARE ? [{ who: 'rt-detect', slot: 'rtd', label: 'detectors on', env: { ROWTRAIL_BENCH_DETECT: '1' } }] : []),
];

const pg = await startPostgres();
try {
  const url = pg.url('postgres');
  const psql = (s: string) => pg.psql(s);
  await psql(`CREATE TABLE items (id bigint PRIMARY KEY, sku text, price numeric(12,2), qty int, updated timestamptz DEFAULT now())`);
  await psql(`ALTER TABLE items REPLICA IDENTITY FULL`);
  await psql(`CREATE TABLE bulk (id bigint PRIMARY KEY, payload text, amount numeric)`);
  await psql(`ALTER TABLE bulk REPLICA IDENTITY FULL`);
  await psql(`CREATE PUBLICATION bench FOR ALL TABLES`);
  for (let r = 0; r < RUNS; r++) {
    await psql(`SELECT pg_create_logical_replication_slot('rt_${r}', 'pgoutput')`);
    await psql(`SELECT pg_create_logical_replication_slot('base_${r}', 'pgoutput')`);
    for (const v of VARIANTS) await psql(`SELECT pg_create_logical_replication_slot('${v.slot}_${r}', 'pgoutput')`);
  }
  // Workload: half inserts (100 rows per transaction), a quarter updates, a quarter deletes.
  const ins = Math.floor(N / 2);
  const upd = Math.floor(N / 4);
  const del = N - ins - upd;
  const t0 = Date.now();
  await psql(`DO $$ BEGIN FOR b IN 0..${Math.ceil(ins / 100) - 1} LOOP
      INSERT INTO items (id, sku, price, qty) SELECT g, 'sku-' || g, (g % 10000) / 100.0, g % 7 FROM generate_series(b * 100 + 1, least((b + 1) * 100, ${ins})) g;
      COMMIT; END LOOP; END $$`);
  await psql(`DO $$ BEGIN FOR b IN 0..${Math.ceil(upd / 100) - 1} LOOP
      UPDATE items SET qty = qty + 1, price = price + 0.01 WHERE id BETWEEN b * 100 + 1 AND least((b + 1) * 100, ${upd});
      COMMIT; END LOOP; END $$`);
  await psql(`DO $$ BEGIN FOR b IN 0..${Math.ceil(del / 100) - 1} LOOP
      DELETE FROM items WHERE id BETWEEN ${ins - del} + b * 100 + 1 AND ${ins - del} + least((b + 1) * 100, ${del});
      COMMIT; END LOOP; END $$`);
  if (BIG > 0) await psql(`INSERT INTO bulk SELECT g, md5(g::text), g / 3.0 FROM generate_series(1, ${BIG}) g`);
  const endLsn = (await psql(`SELECT pg_current_wal_insert_lsn()`)).trim();
  await psql(`CHECKPOINT`);
  const total = N + BIG;
  console.log(`workload: ${N} mixed changes + one ${BIG}-row transaction written in ${((Date.now() - t0) / 1000).toFixed(1)} s; end ${endLsn}`);

  const results: { base: number; rt: number; rss: number; changes: number; extra: Record<string, { seconds: number; maxRssMB: number }> }[] = [];
  for (let r = 0; r < RUNS; r++) {
    // Alternate the order so neither side always gets a warm cache.
    const order = r % 2 === 0 ? ['base', 'rt'] : ['rt', 'base'];
    for (const v of VARIANTS) order.splice(r % 2 === 0 ? 1 : 0, 0, v.who);
    let base = 0;
    let rt = { seconds: 0, changes: 0, maxRssMB: 0 };
    const extra: Record<string, typeof rt> = {};
    for (const who of order) {
      if (who === 'base') {
        const s = Date.now();
        await run(join(pg.bin, 'pg_recvlogical'), [
          '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', 'postgres', '--slot', `base_${r}`, '--start', `--endpos=${endLsn}`,
          '-o', 'proto_version=2', '-o', 'publication_names=bench', '-o', 'messages=true', '-o', 'streaming=on', '-f', '/dev/null', '--no-loop',
        ]);
        base = (Date.now() - s) / 1000;
      } else {
        const prof = process.env.ROWTRAIL_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=bench/out'] : [];
        const v = VARIANTS.find((x) => x.who === who);
        const on = who === 'rt-masked' || (!COMPARE && process.env.ROWTRAIL_BENCH_MASK === '1');
        const slot = v ? `${v.slot}_${r}` : `rt_${r}`;
        const detect = DETECT_COMPARE ? { ROWTRAIL_BENCH_DETECT: '0' } : {};
        const { stdout } = await run(process.execPath, [...prof, '--import', 'tsx', join(import.meta.dirname, 'capture-child.ts'), url, slot, 'bench', endLsn], {
          maxBuffer: 1 << 20,
          env: { ...process.env, ROWTRAIL_BENCH_MASK: on ? '1' : '0', ...detect, ...v?.env },
        });
        const got = JSON.parse(stdout.trim().split('\n').pop()!);
        if (v) extra[v.who] = got;
        else rt = got;
      }
    }
    results.push({ base, rt: rt.seconds, rss: rt.maxRssMB, changes: rt.changes, extra });
    for (const v of VARIANTS) {
      const x = extra[v.who];
      const cpu = (y: object) => (y as { cpuSeconds?: number }).cpuSeconds ?? NaN;
      const caught = (x as { detectSeconds?: number | null }).detectSeconds;
      console.log(
        `run ${r + 1}: ${v.label} ${x.seconds.toFixed(2)} s (${x.changes} stored), peak RSS ${x.maxRssMB.toFixed(0)} MB, ` +
          `CPU ${cpu(x).toFixed(2)} s · on/off throughput ${((100 * rt.seconds) / x.seconds).toFixed(1)} %, CPU ${((100 * cpu(x)) / cpu(rt)).toFixed(0)} %` +
          (caught ? ` · detection caught up at ${caught.toFixed(2)} s` : ''),
      );
    }
    const cpuNote = (rt as { cpuSeconds?: number }).cpuSeconds;
    const detectNote = (rt as { detectSeconds?: number | null }).detectSeconds;
    const slotStats = (rt as { slotStats?: Record<string, unknown> }).slotStats;
    if (slotStats) console.log(`run ${r + 1}: slot ${JSON.stringify(slotStats)}`);
    console.log(
      `run ${r + 1}: pg_recvlogical ${base.toFixed(2)} s · rowtrail ${rt.seconds.toFixed(2)} s ` +
        `(${Math.round(total / rt.seconds).toLocaleString('en')} changes/s, ${rt.changes} stored) · ratio ${(rt.seconds / base).toFixed(2)}x · ` +
        `peak RSS ${rt.maxRssMB.toFixed(0)} MB · rowtrail CPU ${cpuNote?.toFixed(2)} s` +
        (detectNote ? ` · detection caught up at ${detectNote.toFixed(2)} s` : ''),
    );
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const mb = med(results.map((x) => x.base));
  const mr = med(results.map((x) => x.rt));
  console.log(
    `\nmedian of ${RUNS}: rowtrail ${Math.round(total / mr).toLocaleString('en')} changes/s into the store, ${(mr / mb).toFixed(2)}x pg_recvlogical's wall time, peak RSS ${Math.max(...results.map((x) => x.rss)).toFixed(0)} MB`,
  );
  for (const v of VARIANTS) {
    const mm = med(results.map((x) => x.extra[v.who].seconds));
    const rss = Math.max(...results.map((x) => x.extra[v.who].maxRssMB));
    const off = v.who === 'rt-masked' ? 'masking off' : 'detectors off';
    console.log(`${v.label}: ${Math.round(total / mm).toLocaleString('en')} changes/s, ${((100 * mr) / mm).toFixed(1)} % of ${off}'s throughput (medians), peak RSS ${rss.toFixed(0)} MB`);
  }
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
} finally {
  await pg.destroy();
}
