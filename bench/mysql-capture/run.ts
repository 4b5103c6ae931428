/**
 * bench/mysql-capture: binlog → store throughput and peak RSS of the MySQL source, against the C decoder
 * `mariadb-binlog --read-from-remote-server -v --base64-output=DECODE-ROWS` decoding the same binlog to a
 * file in the same run.
 *
 *   node --import tsx bench/mysql-capture/run.ts [--rows 400000] [--big 1000000] [--runs 3] [--profile DIR]
 *
 * Each workload is decoded `--runs` times by each tool, alternating, and the medians are compared (single
 * runs vary ±20% on a shared machine). `--profile DIR` writes a V8 CPU profile of each capture run there.
 *
 * Workload 1 ("mixed"): ROWS row changes in transactions of 1000 (half inserts, a quarter updates, a
 * quarter deletes) on a table of int/varchar/decimal/datetime(6)/bigint/text columns.
 * Workload 2 ("big"): one transaction of BIG inserted rows (memory must stay bounded).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startMariadb, type MariaServer } from '../../test/harness/mariadb.js';

const run = promisify(execFile);
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROWS = arg('rows', 400_000);
const BIG = arg('big', 1_000_000);
const RUNS = arg('runs', 3);
const PROFILE = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1] : null;

async function mark(m: MariaServer): Promise<{ gtid: string; file: string; pos: number }> {
  const [gtid, status] = await Promise.all([m.sql('SELECT @@GLOBAL.gtid_binlog_pos'), m.sql('SHOW MASTER STATUS')]);
  const [file, pos] = status.trim().split('\t');
  return { gtid: gtid.trim(), file, pos: Number(pos) };
}

async function baseline(m: MariaServer, from: { file: string; pos: number }, to: { pos: number; file: string }): Promise<{ seconds: number; rows: number; bytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'rowtrail-bench-binlog-'));
  const out = join(dir, 'out.sql');
  const t0 = performance.now();
  await run('mariadb-binlog', [
    '--read-from-remote-server', '-h', '127.0.0.1', '-P', String(m.port), '-u', 'root', '-v', '--base64-output=DECODE-ROWS',
    `--start-position=${from.pos}`, `--stop-position=${to.pos}`, `--result-file=${out}`, from.file,
  ], { maxBuffer: 1 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  const { stdout } = await run('grep', ['-c', '-E', '^### (INSERT|UPDATE|DELETE)', out]);
  const bytes = statSync(out).size;
  rmSync(dir, { recursive: true, force: true });
  return { seconds, rows: Number(stdout.trim()), bytes };
}

/** ROWTRAIL_BENCH_MASK: `1` capture with masking on (as `watch` by default), `compare` off and on in the same run. */
const MASK = process.env.ROWTRAIL_BENCH_MASK ?? '0';

function capture(
  m: MariaServer,
  start: string,
  expected: number,
  mask = MASK === '1',
): Promise<{ changes: number; transactions: number; seconds: number; maxRssMb: number; cpuSeconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'rowtrail-bench-store-'));
  const prof = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [];
  const script = join(import.meta.dirname, 'capture-child.ts');
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', script, m.url('bench'), dir, start, String(expected)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ROWTRAIL_BENCH_MASK: mask ? '1' : '0' },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`capture exited ${code}`));
    });
  });
}

async function main() {
  console.log(`# bench/mysql-capture  ${new Date().toISOString()}  node ${process.version}  ${cpus().length} cpu ${cpus()[0]?.model}  ${Math.round(totalmem() / 2 ** 30)} GB`);
  const m = await startMariadb({ args: ['--max-allowed-packet=256M'] });
  try {
    await m.sql('CREATE DATABASE bench');
    await m.sql(`CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12,2), at DATETIME(6), n BIGINT, note TEXT)`, 'bench');
    const version = (await m.sql('SELECT VERSION()')).trim();
    console.log(`server: MariaDB ${version}`);

    // --- mixed workload ---
    const inserts = ROWS / 2;
    const per = 1000;
    const stmts: string[] = [];
    for (let a = 1; a <= inserts; a += per) {
      const b = Math.min(inserts, a + per - 1);
      stmts.push(`INSERT INTO t SELECT seq, CONCAT('name-', seq), seq / 100, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq MICROSECOND, seq * 1000003, REPEAT('x', seq % 50) FROM seq_${a}_to_${b};`);
    }
    for (let a = 1; a <= ROWS / 4; a += per) stmts.push(`UPDATE t SET amount = amount + 1.25, note = 'updated' WHERE id BETWEEN ${a} AND ${Math.min(ROWS / 4, a + per - 1)};`);
    for (let a = ROWS / 4 + 1; a <= ROWS / 2; a += per) stmts.push(`DELETE FROM t WHERE id BETWEEN ${a} AND ${Math.min(ROWS / 2, a + per - 1)};`);
    const from = await mark(m);
    await m.sql(stmts.join('\n'), 'bench');
    const to = await mark(m);
    const [base, cap] = await medians(() => baseline(m, from, to), () => capture(m, from.gtid, ROWS));
    report('mixed', ROWS, base, cap);
    if (MASK === 'compare') maskingReport(cap, await medians(() => baseline(m, from, to), () => capture(m, from.gtid, ROWS, true)));

    // --- one big transaction ---
    if (BIG > 0) {
      await m.sql('CREATE TABLE big (id INT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12,2), n BIGINT)', 'bench');
      const f2 = await mark(m);
      await m.sql(`INSERT INTO big SELECT seq, CONCAT('name-', seq), seq / 100, seq * 1000003 FROM seq_1_to_${BIG}`, 'bench');
      const t2 = await mark(m);
      const [base2, cap2] = await medians(() => baseline(m, f2, t2), () => capture(m, f2.gtid, BIG));
      report(`one ${BIG}-row transaction`, BIG, base2, cap2);
      if (MASK === 'compare') maskingReport(cap2, await medians(() => baseline(m, f2, t2), () => capture(m, f2.gtid, BIG, true)));
    }
  } finally {
    await m.destroy();
  }
}

/** Runs the baseline and the capture RUNS times each, alternating; the run with the median time of each. */
async function medians<B extends { seconds: number }, C extends { seconds: number; maxRssMb: number }>(
  base: () => Promise<B>,
  cap: () => Promise<C>,
): Promise<[B, C & { runs: number[]; baseRuns: number[] }]> {
  const bs: B[] = [];
  const cs: C[] = [];
  for (let i = 0; i < RUNS; i++) {
    bs.push(await base());
    cs.push(await cap());
  }
  const mid = <T extends { seconds: number }>(xs: T[]) => [...xs].sort((a, b) => a.seconds - b.seconds)[Math.floor(xs.length / 2)];
  const c = mid(cs);
  const maxRssMb = Math.max(...cs.map((x) => x.maxRssMb));
  return [mid(bs), { ...c, maxRssMb, runs: cs.map((x) => x.seconds), baseRuns: bs.map((x) => x.seconds) }];
}

function report(
  name: string,
  n: number,
  base: { seconds: number; rows: number },
  cap: { changes: number; seconds: number; maxRssMb: number; transactions: number; runs: number[]; baseRuns: number[] },
) {
  const baseRate = base.rows / base.seconds;
  const capRate = cap.changes / cap.seconds;
  console.log(`\n## ${name}: ${n} row changes`);
  console.log(`mariadb-binlog -v DECODE-ROWS to a file: ${base.rows} rows in ${base.seconds.toFixed(3)} s = ${Math.round(baseRate)} rows/s`);
  console.log(`rowtrail MysqlSource into the store:     ${cap.changes} changes (${cap.transactions} tx) in ${cap.seconds.toFixed(3)} s = ${Math.round(capRate)} changes/s, peak RSS ${cap.maxRssMb.toFixed(0)} MB`);
  const secs = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(' ');
  console.log(`runs (s): mariadb-binlog ${secs(cap.baseRuns)} | rowtrail ${secs(cap.runs)} (medians above; peak RSS: the highest run)`);
  console.log(`ratio rowtrail / mariadb-binlog (medians): ${(capRate / baseRate).toFixed(3)}x`);
}

/** Masking on against off, in the same run (each with its own baseline runs beside it). */
function maskingReport(
  off: { changes: number; seconds: number; cpuSeconds?: number },
  [base, on]: [{ seconds: number }, { changes: number; seconds: number; maxRssMb: number; cpuSeconds?: number }],
) {
  const rate = (c: { changes: number; seconds: number }) => c.changes / c.seconds;
  console.log(`masking on: ${Math.round(rate(on))} changes/s (baseline ${base.seconds.toFixed(3)} s beside it), peak RSS ${on.maxRssMb.toFixed(0)} MB`);
  console.log(`masking on / off throughput: ${((100 * rate(on)) / rate(off)).toFixed(1)} %`);
  // On a loaded machine wall time follows the scheduler; CPU seconds per change follow the work.
  const cpu = (c: { changes: number; cpuSeconds?: number }) => (1e6 * (c.cpuSeconds ?? NaN)) / c.changes;
  console.log(`CPU per change (decode + write threads): off ${cpu(off).toFixed(1)} µs, on ${cpu(on).toFixed(1)} µs → on/off ${((100 * cpu(off)) / cpu(on)).toFixed(1)} % throughput at equal CPU`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
