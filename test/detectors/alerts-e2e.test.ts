/**
 * Detection end to end on real servers, with the daemon in-process (sources + identity + detectors): a steady
 * workload raises nothing; then an AI agent (on a shared account, tagging its SQL) deletes 30% of a table in
 * one transaction, and within a minute `rowtrail alerts` shows one bulk-transaction alert naming the agent,
 * whose undo command puts every row back (checked by checksum).
 *
 * The clock is real: the "3 am" of the story does not matter to bulk-transaction, which needs no history (the
 * off-hours and volume-spike detectors are tested on simulated weeks in detectors.test.ts and bench/detectors).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { sharedPg } from '../harness/shared.js';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { setupSource, sql } from '../postgres/capture-helpers.js';
import { parseConfig } from '../../src/config/index.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { CaptureStatus } from '../../src/detection/index.js';
import { silentLogger } from '../../src/log/index.js';
import type { Alert } from '../../src/model/index.js';
import { cli } from '../undo/run-cli.js';

interface Rig {
  cfgFile: string;
  daemon: Daemon;
  dir: string;
}

function rig(sources: unknown[]): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'rowtrail-alerts-'));
  const raw = { sources, store: { path: join(dir, 'store') }, actors: [{ match: { agent: 'deploy-bot' }, kind: 'ai-agent' }] };
  const cfgFile = join(dir, 'rowtrail.yaml');
  writeFileSync(cfgFile, JSON.stringify(raw));
  return { cfgFile, daemon: startDaemon(parseConfig(raw, {}), silentLogger), dir };
}

/** Waits until detection has seen every stored transaction. */
async function detected(r: Rig): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const last = r.daemon.store.db.prepare(`SELECT coalesce(max(commit_seq), 0) AS s FROM transactions WHERE state = 'committed'`).get() as { s: number };
    if (r.daemon.detection.stats().lastSeq >= last.s) return;
    if (Date.now() > deadline) throw new Error('detection did not catch up');
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function alerts(r: Rig): Promise<Alert[]> {
  const out = await cli('alerts', '--config', r.cfgFile, '--json');
  expect(out.code, out.stderr).toBe(0);
  return out.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
}

/** Polls `rowtrail alerts` until one matches; returns it and how long it took after `since`. */
async function alertFor(r: Rig, pred: (a: Alert) => boolean, since: number): Promise<{ alert: Alert; ms: number }> {
  for (;;) {
    const a = (await alerts(r)).find(pred);
    if (a) return { alert: a, ms: Date.now() - since };
    if (Date.now() - since > 60_000) throw new Error(`no alert within a minute; have: ${JSON.stringify(await alerts(r))}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Runs the alert's undo command through the CLI with --apply --yes. */
async function applyUndo(r: Rig, a: Alert): Promise<void> {
  expect(a.undo).toMatch(/^rowtrail undo /);
  const args = a.undo!.split(' ').slice(1);
  const out = await cli(...args, '--config', r.cfgFile, '--apply', '--yes');
  expect(out.code, out.stderr + out.stdout).toBe(0);
}

describe('detection on PostgreSQL (precise identity)', () => {
  let r: Rig;
  let url: string;
  const checksum = async () => (await sql(url, `SELECT count(*) AS n, md5(string_agg(id || ':' || name || ':' || email, ',' ORDER BY id)) AS h FROM customers`)).rows[0];
  beforeAll(async () => {
    const pg = sharedPg();
    const db = await pg.freshDatabase('detect');
    url = pg.url(db);
    await sql(url, `CREATE TABLE public.customers (id int PRIMARY KEY, name text, email text); CREATE TABLE public.orders (id serial PRIMARY KEY, customer int, total numeric(10,2))`);
    await sql(url, `INSERT INTO customers SELECT g, 'c' || g, 'c' || g || '@x.io' FROM generate_series(1, 1000) g; ANALYZE customers`);
    const src = await setupSource(url, { identity: 'precise' });
    r = rig([{ name: src.name, kind: 'postgres', url, slot: src.slot, publication: src.publication, identity: 'precise' }]);
  });
  afterAll(async () => {
    await r?.daemon.stop();
    if (r) rmSync(r.dir, { recursive: true, force: true });
  });

  it('raises nothing on steady traffic, then one alert naming the agent whose undo restores the table', async () => {
    for (let i = 0; i < 40; i++) {
      await sql(url, `/*app='shop'*/ INSERT INTO orders (customer, total) VALUES (${(i % 50) + 1}, ${i}.50)`);
      if (i % 4 === 0) await sql(url, `UPDATE customers SET name = name || '' WHERE id = ${i + 1}`);
    }
    await detected(r);
    expect(await alerts(r)).toEqual([]);
    const before = await checksum();
    const t0 = Date.now();
    await sql(url, `/*agent='deploy-bot',run='r-1'*/ DELETE FROM customers WHERE id % 10 < 3`);
    const { alert, ms } = await alertFor(r, (a) => a.detector === 'bulk-transaction', t0);
    expect(ms).toBeLessThan(60_000);
    expect(alert).toMatchObject({
      severity: 'warning',
      state: 'open',
      table: 'public.customers',
      actor: { agent: 'deploy-bot', kind: 'ai-agent', confidence: 'exact', user: 'postgres' },
      evidence: { deleted: 300, tableRows: 1000, fraction: 0.3 },
    });
    expect(alert.title).toBe('AI agent deploy-bot (on postgres, exact) deleted 300 rows of public.customers (30% of the table) in one transaction');
    expect((await alerts(r)).filter((a) => a.detector === 'bulk-transaction')).toHaveLength(1);
    await applyUndo(r, alert);
    expect(await checksum()).toEqual(before);
  });
});

describe('detection on MariaDB', () => {
  let m: MariaServer;
  let r: Rig;
  let c: mysql.Connection;
  const checksum = async () => (await c.query(`SELECT count(*) AS n, md5(group_concat(id, ':', name, ':', email ORDER BY id SEPARATOR ',')) AS h FROM customers`))[0];
  beforeAll(async () => {
    m = await startMariadb();
    await m.sql(`CREATE DATABASE shop; CREATE TABLE shop.customers (id int PRIMARY KEY, name varchar(20), email varchar(40)); CREATE TABLE shop.orders (id int AUTO_INCREMENT PRIMARY KEY, customer int, total decimal(10,2))`);
    await m.sql(`USE shop; INSERT INTO shop.customers SELECT seq, CONCAT('c', seq), CONCAT('c', seq, '@x.io') FROM seq_1_to_1000; ANALYZE TABLE shop.customers`);
    r = rig([{ name: 'shop', kind: 'mysql', url: m.url('shop') }]);
    c = await mysql.createConnection({ uri: m.url('shop') });
    await c.query('SET SESSION group_concat_max_len = 1000000');
    const deadline = Date.now() + 30_000;
    while (!r.daemon.store.position('shop')) {
      if (Date.now() > deadline) throw new Error('MariaDB source did not start');
      await new Promise((res) => setTimeout(res, 25));
    }
  });
  afterAll(async () => {
    await c?.end();
    await r?.daemon.stop();
    await m?.destroy();
    if (r) rmSync(r.dir, { recursive: true, force: true });
  });

  it('raises nothing on steady traffic, then one alert naming the agent whose undo restores the table', async () => {
    for (let i = 0; i < 40; i++) await c.query(`INSERT INTO orders (customer, total) VALUES (${(i % 50) + 1}, ${i}.50)`);
    await new Promise((res) => setTimeout(res, 500));
    await detected(r);
    expect(await alerts(r)).toEqual([]);
    const before = await checksum();
    const t0 = Date.now();
    await c.query(`/*agent='deploy-bot',run='r-2'*/ DELETE FROM customers WHERE id % 10 < 3`);
    const { alert, ms } = await alertFor(r, (a) => a.detector === 'bulk-transaction', t0);
    expect(ms).toBeLessThan(60_000);
    expect(alert).toMatchObject({ table: 'shop.customers', actor: { agent: 'deploy-bot', kind: 'ai-agent' }, evidence: { deleted: 300 } });
    expect(alert.title).toContain('deploy-bot');
    expect(alert.title).toContain('deleted 300 rows of shop.customers');
    await applyUndo(r, alert);
    expect(await checksum()).toEqual(before);
  });

  it('capture-health reads the binlog retention and names every table irreversible while binlog_row_image is not FULL', async () => {
    const status = new CaptureStatus(parseConfig({ sources: [{ name: 'shop', kind: 'mysql', url: m.url('shop') }] }, {}), silentLogger, () => []);
    await status.refresh();
    const [ok] = status.sample();
    expect(ok).toMatchObject({ kind: 'mysql', irreversible: [] });
    expect(ok.retentionSeconds).toBeGreaterThanOrEqual(0);
    await m.sql(`SET GLOBAL binlog_row_image = 'MINIMAL'`);
    try {
      await status.refresh();
      expect(status.sample()[0].irreversible).toEqual([{ table: '*', reason: 'binlog_row_image is MINIMAL' }]);
    } finally {
      await m.sql(`SET GLOBAL binlog_row_image = 'FULL'`);
    }
  });
});
