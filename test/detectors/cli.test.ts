/** The detection commands as a user runs them: backtest, alerts, baseline; and bad input to each. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../undo/run-cli.js';
import { Store } from '../../src/store/index.js';
import { DetectorEngine } from '../../detectors/index.js';
import { agent, tx, MONDAY } from './fixtures.js';

let dir: string;
let cfg: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rowtrail-detect-cli-'));
  cfg = join(dir, 'rowtrail.yaml');
  writeFileSync(cfg, `sources:\n  - { name: app, kind: postgres, url: 'postgres://u@127.0.0.1:1/db' }\nstore: { path: ${join(dir, 'store')} }\n`);
  // A store with one alert and a saved engine state, as a daemon would leave them.
  const store = Store.open(join(dir, 'store'));
  const engine = new DetectorEngine({}, { tableRows: () => 5000 });
  const alerts = engine.process(tx(MONDAY, agent, [{ table: 'public.customers', op: 'delete', n: 3000 }]), 1).map((c) => c.alert);
  store.saveDetection(alerts, 'engine', engine.lastSeq, engine.snapshot());
  store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rowtrail backtest', () => {
  it('prints one scored row per input row', async () => {
    const csv = join(dir, 'series.csv');
    const rows = Array.from({ length: 48 }, (_, h) => `2026-01-05 ${String(h % 24).padStart(2, '0')}:00:00`.replace('05', h < 24 ? '05' : '06') + `,${h === 40 ? 500 : 10 + (h % 3)}`);
    writeFileSync(csv, ['timestamp,value', ...rows].join('\n') + '\n');
    const out = await cli('backtest', '--detector', 'volume-spike', '--csv', csv);
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual(rows);
    const scores = lines.slice(1).map((l) => Number(l.split(',')[2]));
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(scores.indexOf(Math.max(...scores))).toBe(40);
  });
  it('names the bad line, and refuses other detectors', async () => {
    const csv = join(dir, 'bad.csv');
    writeFileSync(csv, 'timestamp,value\n2026-01-05 00:00:00,1\n2026-01-05 01:00:00,lots\n');
    const bad = await cli('backtest', '--detector', 'volume-spike', '--csv', csv);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(`rowtrail: ${csv}:3: value 'lots' is not a finite number`);
    const other = await cli('backtest', '--detector', 'off-hours', '--csv', csv);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('backtest supports --detector volume-spike');
    const missing = await cli('backtest', '--detector', 'volume-spike', '--csv', join(dir, 'nope.csv'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
  });
});

describe('rowtrail alerts and baseline', () => {
  it('lists alerts, shows one with its evidence and undo command', async () => {
    const list = await cli('alerts', '--config', cfg, '--json');
    expect(list.code, list.stderr).toBe(0);
    const all = list.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(all.map((x) => x.detector).sort()).toEqual(['bulk-transaction', 'destructive-operation']);
    const a = all.find((x) => x.detector === 'bulk-transaction');
    expect(a).toMatchObject({ detector: 'bulk-transaction', severity: 'critical', state: 'open', table: 'public.customers' });
    const show = await cli('alerts', 'show', a.id.slice(0, 20), '--config', cfg);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('deleted 3,000 rows of public.customers (60% of the table)');
    expect(show.stdout).toContain(`undo      rowtrail undo --tx ${a.txIds[0]} --source app --table public.customers`);
    const none = await cli('alerts', 'show', 'nope', '--config', cfg);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no alert 'nope'");
    const bad = await cli('alerts', '--config', cfg, '--limit', 'abc');
    expect(bad.code).toBe(2);
  });
  it('shows the learned baselines', async () => {
    const out = await cli('baseline', 'show', '--config', cfg, '--json');
    expect(out.code, out.stderr).toBe(0);
    const rows = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toContainEqual(expect.objectContaining({ detector: 'volume-spike', actor: 'deploy-bot', table: 'public.customers', op: 'delete', learned: false }));
  });
  it('refuses an unknown detector in the config at watch start', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `sources:\n  - { name: app, kind: postgres, url: 'postgres://u@127.0.0.1:1/db' }\nstore: { path: ${join(dir, 'store2')} }\nhttp: { port: 0 }\ndetectors: { volume-spik: { enabled: false } }\n`);
    const out = await cli('watch', '--config', bad);
    expect(out.code).toBe(2);
    expect(out.stderr.trim()).toMatch(/^rowtrail: detectors\.volume-spik: unknown detector \(known: volume-spike, /);
  });
});
