/**
 * End to end on a real PostgreSQL: the daemon (in-process) captures into its store and its Elasticsearch sink
 * sends to a real local HTTP server that answers like a data stream (http-servers.ts). A user checks that each
 * row change is one document whose images hold the database's own text (numeric, int8, µs timestamps, jsonb,
 * NULL), the same as the store's readable query gives; that capture goes on while Elasticsearch is down; and
 * that the sink catches up afterwards and after a daemon restart, without a duplicate or a gap.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedPg } from '../harness/shared.js';
import { setupSource, sql } from '../postgres/capture-helpers.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log/index.js';
import { createEsClient, installTemplates, streamNames } from '../../src/sinks/elasticsearch/index.js';
import { EsHttp } from './http-servers.js';

const S = streamNames('e2e');
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const committed = (d: Daemon) => (d.store.db.prepare(`SELECT count(*) AS n FROM changes`).get() as { n: number }).n;

describe('PostgreSQL → store → Elasticsearch sink', () => {
  it('sends every change once with exact text values, keeps capturing through an outage, catches up after it and after a restart', async () => {
    const pg = sharedPg();
    const url = pg.url(await pg.freshDatabase('essink'));
    await sql(url, `CREATE TABLE ledger (id int8 PRIMARY KEY, amount numeric(30,12), big int8, at timestamptz, doc jsonb, note text)`);
    const source = await setupSource(url);
    const es = new EsHttp();
    const esUrl = await es.start();
    const port = Number(new URL(esUrl).port);
    cleanups.push(() => es.stop());
    const dir = mkdtempSync(join(tmpdir(), 'rowtrail-es-e2e-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const cfg: Config = parseConfig(
      {
        sources: [{ ...source, url }],
        store: { path: join(dir, 'store') },
        elasticsearch: { node: esUrl, namespace: 'e2e', batchSize: 40 },
      },
      {},
    );
    await installTemplates(createEsClient(cfg.elasticsearch!), cfg.elasticsearch!);
    let daemon = startDaemon(cfg, silentLogger);
    cleanups.push(() => daemon.stop());

    await sql(
      url,
      `INSERT INTO ledger VALUES
        (1, 12345678901234567.123456789012, 9223372036854775807, '2026-11-26 10:00:00.123456+00', '{"a": [1, 2.50, "x"], "b": null}', 'héllo ✓'),
        (2, -0.000000000001, -9223372036854775808, NULL, 'null', NULL)`,
    );
    await sql(url, `UPDATE ledger SET amount = amount + 1, note = 'changed' WHERE id = 1`);
    await sql(url, `DELETE FROM ledger WHERE id = 2`);
    await until('the first 4 documents', () => es.ids(S.changes).length >= 4);

    const docs = es.docs(S.changes);
    const events = [...daemon.store.changes({ table: 'public.ledger' })];
    expect(docs.map((d) => d.event.id)).toEqual(events.map((e) => e.id));
    expect(docs.map((d) => [d.event.action, d.rowtrail.key, d.rowtrail.before, d.rowtrail.after])).toEqual(
      events.map((e) => [e.op, e.key, e.before, e.after]),
    );
    // The database's own text, as psql prints it.
    const text = (await sql(url, `SELECT id::text, amount::text, big::text, at::text, doc::text, note FROM ledger WHERE id = 1`)).rows[0];
    expect(docs[2].rowtrail.after).toEqual(text);
    expect(docs[0].rowtrail.after).toEqual({
      id: '1',
      amount: '12345678901234567.123456789012',
      big: '9223372036854775807',
      at: '2026-11-26 10:00:00.123456+00',
      doc: '{"a": [1, 2.50, "x"], "b": null}',
      note: 'héllo ✓',
    });
    expect(docs[1].rowtrail.after).toEqual({ id: '2', amount: '-0.000000000001', big: '-9223372036854775808', at: null, doc: 'null', note: null });
    expect(docs[3]).toMatchObject({ event: { action: 'delete', type: ['deletion'] }, db: { operation: { name: 'DELETE' }, collection: { name: 'public.ledger' } } });
    expect(docs[0]['@timestamp']).toBe(events[0].tx.commitTime);

    // Outage: Elasticsearch goes away; capture goes on into the store.
    await es.stop();
    await sql(url, `INSERT INTO ledger SELECT g, g, g, NULL, NULL, 'outage' FROM generate_series(100, 199) g`);
    await until('capture during the outage', () => committed(daemon) >= 104);
    expect(es.ids(S.changes)).toHaveLength(4);
    await es.start(port);
    await until('catch-up after the outage', () => es.ids(S.changes).length >= 104);

    // Restart: the sink resumes from its cursor in the store.
    await daemon.stop();
    await sql(url, `UPDATE ledger SET note = 'after restart' WHERE id BETWEEN 100 AND 149`);
    daemon = startDaemon(cfg, silentLogger);
    await until('catch-up after the restart', () => es.ids(S.changes).length >= 154);
    await new Promise((r) => setTimeout(r, 1500));
    const ids = es.ids(S.changes);
    expect(ids).toEqual([...daemon.store.changes({ table: 'public.ledger' })].map((e) => e.id));
    expect(new Set(ids).size).toBe(154);
    expect(daemon.sink!.stats().duplicates).toBe(0);
  }, 120_000);
});
