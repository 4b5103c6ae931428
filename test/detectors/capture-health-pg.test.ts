/**
 * capture-health on a real PostgreSQL, through the daemon's pieces (CaptureStatus reading the server, the
 * DetectionRunner, the store): a watched table with REPLICA IDENTITY DEFAULT is named in an open alert that
 * resolves once the table logs full before images; WAL the (inactive) slot holds back is measured and alerts
 * above the configured bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedPg } from '../harness/shared.js';
import { setupSource, sql } from '../postgres/capture-helpers.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log/index.js';
import { Store } from '../../src/store/index.js';
import { CaptureStatus, DetectionRunner } from '../../src/detection/index.js';

describe('capture-health on PostgreSQL', () => {
  let url: string;
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    const pg = sharedPg();
    url = pg.url(await pg.freshDatabase('health'));
    await sql(url, `CREATE TABLE public.accounts (id int PRIMARY KEY, balance numeric); CREATE TABLE public.events (id int PRIMARY KEY, v text)`);
    await sql(url, `ALTER TABLE public.events REPLICA IDENTITY FULL`);
    dir = mkdtempSync(join(tmpdir(), 'rowtrail-health-'));
    store = Store.open(join(dir, 'store'));
  });
  afterAll(() => {
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('names the table undo cannot revert until it logs full before images, and measures the retained WAL', async () => {
    const src = await setupSource(url, { tables: ['public.accounts', 'public.events'] }, false);
    const cfg = parseConfig(
      {
        sources: [{ name: 'app', kind: 'postgres', url, slot: src.slot, publication: src.publication, tables: src.tables }],
        store: { path: join(dir, 'store') },
        detectors: { 'capture-health': { retainedBytes: 64 * 1024 } },
      },
      {},
    );
    // No source runs: the slot stays where setup created it while the server writes WAL.
    const status = new CaptureStatus(cfg, silentLogger, () => []);
    const runner = new DetectionRunner(store, cfg, silentLogger, { health: status, healthMs: 0 });
    await sql(url, `INSERT INTO accounts SELECT g, g FROM generate_series(1, 2000) g`);
    await status.refresh();
    const [s] = status.sample();
    expect(s.irreversible).toEqual([{ table: 'public.accounts', reason: 'REPLICA IDENTITY DEFAULT' }]);
    expect(s.retainedBytes).toBeGreaterThan(64 * 1024);
    expect(s.walStatus).toBe('reserved');
    await runner.runOnce();
    const open = store.alerts().filter((a) => a.detector === 'capture-health');
    expect(open.map((a) => [a.evidence.condition, a.state, a.table]).sort()).toEqual([
      ['irreversible', 'open', 'public.accounts'],
      ['retention', 'open', null],
    ]);
    expect(open.find((a) => a.evidence.condition === 'irreversible')!.title).toBe(
      '1 table(s) of app cannot be reverted (no full before image): public.accounts',
    );

    await sql(url, `ALTER TABLE public.accounts REPLICA IDENTITY FULL`);
    await status.refresh();
    await runner.runOnce();
    const irreversible = store.alerts().filter((a) => a.evidence.condition === 'irreversible');
    expect(irreversible.map((a) => a.state)).toEqual(['resolved']);
  });
});
