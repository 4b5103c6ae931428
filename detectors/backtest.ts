/**
 * `rowtrail backtest`: scores a `timestamp,value` series with the volume-spike detector's baseline, online
 * (each row is scored against what came before it, then learned), so a user can tune the detector on their
 * own history and anyone can score it on public benchmarks. Pure: text in, rows out.
 */
import { RowtrailError } from '../src/errors.js';
import { SeasonalBaseline, tailP } from './baseline.js';

export interface BacktestRow {
  /** The timestamp exactly as given. */
  timestamp: string;
  /** The value exactly as given. */
  value: string;
  /** Anomaly score in [0, 1]: 1 − the two-sided tail probability of the value under the baseline. */
  score: number;
}

export interface ParsedRow {
  line: number;
  timestamp: string;
  ms: number;
  value: string;
  x: number;
}

/** `YYYY-MM-DD HH:MM:SS` (UTC) or ISO-8601 with or without zone (no zone: UTC). */
export function parseTimestamp(s: string): number {
  const t = s.trim();
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$/.exec(t);
  if (m) return Date.parse(`${m[1]}T${m[2]}${m[3] ?? 'Z'}`);
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) return Date.parse(`${t}T00:00:00Z`);
  return Number.NaN;
}

/**
 * Parses the CSV; throws a one-line RowtrailError naming the line for anything it cannot read. Rows whose
 * timestamp is not after the previous one (real exports have them: a DST hour twice, a duplicated sample) are
 * kept and scored in input order; `warnings` gets one line naming the first of them.
 */
export function parseSeries(text: string, file = 'input', warnings: string[] = []): ParsedRow[] {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').trim().toLowerCase().split(',').map((h) => h.trim().replace(/^"|"$/g, ''));
  if (header.length < 2 || header[0] !== 'timestamp' || header[1] !== 'value') {
    throw new RowtrailError('USAGE', `${file}:1: the header must be 'timestamp,value' (got '${(lines[0] ?? '').slice(0, 60)}')`);
  }
  const rows: ParsedRow[] = [];
  const unordered: string[] = [];
  let prev = Number.NEGATIVE_INFINITY;
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.trim() === '') continue;
    const cells = raw.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
    if (cells.length < 2) throw new RowtrailError('USAGE', `${file}:${i + 1}: expected 'timestamp,value', got '${raw.slice(0, 60)}'`);
    const ms = parseTimestamp(cells[0]);
    if (!Number.isFinite(ms)) {
      throw new RowtrailError('USAGE', `${file}:${i + 1}: cannot read timestamp '${cells[0].slice(0, 40)}' (use YYYY-MM-DD HH:MM:SS UTC or ISO-8601)`);
    }
    const x = Number(cells[1]);
    if (cells[1] === '' || !Number.isFinite(x)) throw new RowtrailError('USAGE', `${file}:${i + 1}: value '${cells[1].slice(0, 40)}' is not a finite number`);
    if (ms <= prev) unordered.push(`${file}:${i + 1}: timestamp ${cells[0]} is not after the previous row's`);
    prev = Math.max(prev, ms);
    rows.push({ line: i + 1, timestamp: cells[0], ms, value: cells[1], x });
  }
  if (unordered.length) {
    const more = unordered.length > 1 ? ` (and ${unordered.length - 1} more such rows)` : '';
    warnings.push(`${unordered[0]}${more}: scored in input order; sort the series for a faithful backtest`);
  }
  return rows;
}

/** The series' bucket width: the median gap between consecutive rows. */
export function bucketWidth(rows: ParsedRow[]): number {
  const gaps = rows.slice(1).map((r, i) => r.ms - rows[i].ms).filter((g) => g > 0).sort((a, b) => a - b);
  return gaps.length ? gaps[Math.floor(gaps.length / 2)] : 3_600_000;
}

/** Scores every row, online. Rows in the warm-up (one day of buckets, 12 to 288 rows) score 0. */
export function backtest(rows: ParsedRow[]): BacktestRow[] {
  const width = bucketWidth(rows);
  const counts = rows.every((r) => r.x >= 0 && Number.isInteger(r.x));
  const warmup = Math.min(288, Math.max(12, Math.round(86_400_000 / width)));
  const base = new SeasonalBaseline(width);
  const out: BacktestRow[] = [];
  for (const r of rows) {
    let score = 0;
    if (base.history >= warmup) {
      const p = tailP(r.x, base.expect(r.ms), 1, counts, base);
      score = 1 - Math.min(1, 2 * Math.min(p.upper, p.lower));
    }
    out.push({ timestamp: r.timestamp, value: r.value, score });
    base.push(r.ms, r.x);
  }
  return out;
}

/** The CSV `rowtrail backtest` prints. */
export function backtestCsv(rows: BacktestRow[]): string {
  const lines = ['timestamp,value,anomaly_score'];
  for (const r of rows) lines.push(`${r.timestamp},${r.value},${r.score.toFixed(6)}`);
  return lines.join('\n') + '\n';
}
