/** `rowtrail backtest`'s core: CSV in, one scored row per input row out; bad lines named. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backtest, backtestCsv, parseSeries } from '../../detectors/backtest.js';
import { negBinLower, negBinUpper, poissonLower, poissonUpper } from '../../detectors/stats.js';

function series(hours: number, spikeAt: number, factor: number): string {
  let s = 'timestamp,value\n';
  let r = 7;
  const rnd = () => ((r = (r * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const t0 = Date.UTC(2026, 0, 5);
  for (let h = 0; h < hours; h++) {
    const base = 20 + 15 * Math.sin((2 * Math.PI * (h % 24)) / 24);
    let v = Math.round(base + (rnd() - 0.5) * 2 * Math.sqrt(base) * 1.7);
    if (h === spikeAt) v = Math.round(base * factor);
    const d = new Date(t0 + h * 3_600_000).toISOString();
    s += `${d.slice(0, 10)} ${d.slice(11, 19)},${Math.max(0, v)}\n`;
  }
  return s;
}

describe('backtest', () => {
  it('prints one row per input row, same timestamps in the same order, scores in [0,1], the spike on top', () => {
    const text = series(24 * 21, 24 * 15 + 10, 5);
    const rows = parseSeries(text);
    const out = backtest(rows);
    expect(out.map((r) => r.timestamp)).toEqual(rows.map((r) => r.timestamp));
    expect(out.every((r) => r.score >= 0 && r.score <= 1)).toBe(true);
    const best = out.reduce((a, b) => (b.score > a.score ? b : a));
    expect(best.timestamp).toBe(rows[24 * 15 + 10].timestamp);
    // few other rows look as anomalous as the spike
    expect(out.filter((r) => r.score > 0.999).length).toBeLessThan(8);
    const csv = backtestCsv(out).trim().split('\n');
    expect(csv[0]).toBe('timestamp,value,anomaly_score');
    expect(csv).toHaveLength(rows.length + 1);
    expect(csv[1].split(',').slice(0, 2).join(',')).toBe(text.split('\n')[1]);
  });
  it('reads ISO-8601 timestamps and real values', () => {
    const rows = parseSeries('timestamp,value\n2026-01-05T00:00:00Z,1.5\n2026-01-05T02:00:00+01:00,2.5\n2026-01-05T02:00:00.000,0.25\n');
    expect(rows.map((r) => r.ms - Date.UTC(2026, 0, 5))).toEqual([0, 3_600_000, 7_200_000]);
    expect(rows.map((r) => r.x)).toEqual([1.5, 2.5, 0.25]);
    expect(backtest(rows).map((r) => r.value)).toEqual(['1.5', '2.5', '0.25']);
  });
  it('names the line of a bad row, and scores rows out of time order in input order with one warning', () => {
    expect(() => parseSeries('ts,v\n')).toThrow(/:1: the header must be 'timestamp,value'/);
    expect(() => parseSeries('timestamp,value\n2026-01-05 00:00:00,1\nyesterday,2\n')).toThrow(/input:3: cannot read timestamp 'yesterday'/);
    expect(() => parseSeries('timestamp,value\n2026-01-05 00:00:00,1\n2026-01-05 01:00:00,NaN\n')).toThrow(/input:3: value 'NaN' is not a finite number/);
    const warnings: string[] = [];
    const rows = parseSeries('timestamp,value\n2026-01-05 01:00:00,1\n2026-01-05 00:00:00,2\n2026-01-05 00:00:00,3\n', 'x.csv', warnings);
    expect(warnings).toEqual(["x.csv:3: timestamp 2026-01-05 00:00:00 is not after the previous row's (and 1 more such rows): scored in input order; sort the series for a faithful backtest"]);
    expect(backtest(rows).map((r) => r.value)).toEqual(['1', '2', '3']);
  });
});

describe('count tails', () => {
  const pmfPois = (k: number, mu: number) => Math.exp(-mu + k * Math.log(mu) - lgam(k + 1));
  function lgam(n: number): number {
    let s = 0;
    for (let i = 2; i < n; i++) s += Math.log(i);
    return s;
  }
  it('Poisson tails equal the summed probabilities', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.double({ min: 0.1, max: 50, noNaN: true }), (k, mu) => {
        let lower = 0;
        for (let i = 0; i <= k; i++) lower += pmfPois(i, mu);
        expect(poissonLower(k, mu)).toBeCloseTo(lower, 9);
        expect(poissonUpper(k + 1, mu)).toBeCloseTo(1 - lower, 9);
      }),
    );
  });
  it('negative binomial tails equal the summed probabilities and tend to Poisson', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.double({ min: 0.5, max: 30, noNaN: true }), fc.double({ min: 0.5, max: 20, noNaN: true }), (k, mu, r) => {
        const p = r / (r + mu);
        let lower = 0;
        let pmf = p ** r;
        for (let i = 0; i <= k; i++) {
          lower += pmf;
          pmf *= ((i + r) / (i + 1)) * (1 - p);
        }
        expect(negBinLower(k, mu, r)).toBeCloseTo(lower, 8);
        expect(negBinUpper(k + 1, mu, r)).toBeCloseTo(1 - lower, 8);
      }),
    );
    expect(negBinUpper(10, 3, 1e9)).toBeCloseTo(poissonUpper(10, 3), 9);
  });
});
