/**
 * The volume-spike baseline on public labelled series: the Numenta Anomaly Benchmark (NAB), whose CSVs are
 * exactly `rowtrail backtest`'s input (`timestamp,value`). Usage:
 *
 *   npx tsx bench/detectors/nab.ts /path/to/NAB [--threshold 0.999] [--all]
 *
 * (a checkout of github.com/numenta/NAB: its data/ and labels/combined_windows.json; nothing of it is kept in
 * this repository). By default it scores the count series (tweet volumes per 5 min, taxi rides per 30 min,
 * ELB requests); `--all` adds every NAB series. For each series it prints the labelled anomaly windows that
 * got a score ≥ threshold, false-alarm episodes per day outside the windows (alarms closer than an hour apart
 * are one episode), and the delay from a window's start to its first alarm — for rowtrail's baseline and for
 * a naive one measured in the same run (z-score against the mean and standard deviation of the last day).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { backtest, parseSeries, type ParsedRow } from '../../detectors/backtest.js';
import { normalUpper } from '../../detectors/stats.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: nab.ts /path/to/NAB [--threshold 0.999] [--all]');
  process.exit(2);
}
const ti = process.argv.indexOf('--threshold');
const threshold = ti > 0 ? Number(process.argv[ti + 1]) : 0.999;
const all = process.argv.includes('--all');
const windows: Record<string, [string, string][]> = JSON.parse(readFileSync(join(dir, 'labels', 'combined_windows.json'), 'utf8'));
const COUNT_SERIES = /realTweets\/|nyc_taxi|elb_request_count/;

/** Naive baseline: |z| against the last day's mean and standard deviation. */
function naive(rows: ParsedRow[]): number[] {
  const gaps = rows.slice(1).map((r, i) => r.ms - rows[i].ms).sort((a, b) => a - b);
  const n = Math.max(12, Math.round(86_400_000 / (gaps[gaps.length >> 1] || 3_600_000)));
  return rows.map((r, i) => {
    if (i < n) return 0;
    const w = rows.slice(i - n, i).map((x) => x.x);
    const m = w.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(w.reduce((a, b) => a + (b - m) ** 2, 0) / n) || 1e-9;
    return 1 - Math.min(1, 2 * normalUpper(Math.abs(r.x - m) / sd));
  });
}

function evaluate(rows: ParsedRow[], scores: number[], wins: [number, number][], threshold: number) {
  let hit = 0;
  const delays: number[] = [];
  for (const [a, b] of wins) {
    const i = rows.findIndex((r, k) => r.ms >= a && r.ms <= b && scores[k] >= threshold);
    if (i >= 0) {
      hit++;
      delays.push((rows[i].ms - a) / 60_000);
    }
  }
  let fp = 0;
  let prev = Number.NEGATIVE_INFINITY;
  rows.forEach((r, k) => {
    if (scores[k] < threshold || wins.some(([a, b]) => r.ms >= a && r.ms <= b)) return;
    if (r.ms - prev > 3_600_000) fp++;
    prev = r.ms;
  });
  const days = (rows[rows.length - 1].ms - rows[0].ms) / 86_400_000;
  return { hit, fpPerDay: fp / days, delays };
}

const files = readdirSync(join(dir, 'data'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.csv') && (all || COUNT_SERIES.test(f)))
  .sort();
const totals = { rt: { hit: 0, fp: 0 }, nv: { hit: 0, fp: 0 }, wins: 0, series: 0 };
const SWEEP = [0.99, 0.995, 0.999, 0.9999];
const sweep = SWEEP.map(() => ({ rt: { hit: 0, fp: 0 }, nv: { hit: 0, fp: 0 } }));
console.log(`threshold ${threshold}`);
console.log('series'.padEnd(52), 'windows', 'rowtrail: caught fp/day median-delay-min', '| naive: caught fp/day');
for (const f of files) {
  const key = f.replace(/\\/g, '/');
  const wins = (windows[key] ?? []).map(([a, b]) => [Date.parse(a.replace(' ', 'T') + 'Z'), Date.parse(b.replace(' ', 'T') + 'Z')] as [number, number]);
  let rows: ParsedRow[];
  try {
    rows = parseSeries(readFileSync(join(dir, 'data', f), 'utf8'), f);
  } catch (e) {
    console.log(`${key.padEnd(52)} skipped: ${(e as Error).message}`);
    continue;
  }
  const rtScores = backtest(rows).map((r) => r.score);
  const nvScores = naive(rows);
  const rt = evaluate(rows, rtScores, wins, threshold);
  const nv = evaluate(rows, nvScores, wins, threshold);
  SWEEP.forEach((t, i) => {
    const a = evaluate(rows, rtScores, wins, t);
    const b = evaluate(rows, nvScores, wins, t);
    sweep[i].rt.hit += a.hit;
    sweep[i].rt.fp += a.fpPerDay;
    sweep[i].nv.hit += b.hit;
    sweep[i].nv.fp += b.fpPerDay;
  });
  const med = rt.delays.length ? rt.delays.sort((a, b) => a - b)[rt.delays.length >> 1] : NaN;
  console.log(key.padEnd(52), String(wins.length).padStart(7), `${rt.hit}`.padStart(10), rt.fpPerDay.toFixed(2).padStart(7), med.toFixed(0).padStart(8), '|', `${nv.hit}`.padStart(6), nv.fpPerDay.toFixed(2).padStart(7));
  totals.rt.hit += rt.hit;
  totals.nv.hit += nv.hit;
  totals.rt.fp += rt.fpPerDay;
  totals.nv.fp += nv.fpPerDay;
  totals.wins += wins.length;
  totals.series++;
}
console.log(
  `total: ${totals.series} series, ${totals.wins} windows; rowtrail caught ${totals.rt.hit} (${((100 * totals.rt.hit) / totals.wins).toFixed(0)}%), ` +
    `${(totals.rt.fp / totals.series).toFixed(2)} false-alarm episodes/day per series; naive caught ${totals.nv.hit} (${((100 * totals.nv.hit) / totals.wins).toFixed(0)}%), ${(totals.nv.fp / totals.series).toFixed(2)}/day`,
);
console.log('\nthreshold sweep (windows caught, false-alarm episodes per day per series):');
console.log('threshold  rowtrail          naive');
SWEEP.forEach((t, i) => {
  const f = (x: { hit: number; fp: number }) => `${String(x.hit).padStart(3)}/${totals.wins} ${(x.fp / totals.series).toFixed(2).padStart(5)}/day`;
  console.log(`${String(t).padEnd(9)}  ${f(sweep[i].rt)}   ${f(sweep[i].nv)}`);
});
