/**
 * Guards on a real PostgreSQL, through the daemon (sources + precise identity + guards, in process): an AI
 * agent's transaction that deletes 20 000 rows is terminated before it commits, the table keeps every row, the
 * store holds none of the streamed deletes and one critical alert names the guard and the agent. A human under
 * an agents-only guard, an actor without a precise message, and an `action: alert` guard never end a session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sharedPg } from '../harness/shared.js';
import { setupSource, sql } from '../postgres/capture-helpers.js';
import { parseConfig } from '../../src/config/index.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log/index.js';
import type { Alert } from '../../src/model/index.js';
import { cli } from '../undo/run-cli.js';

const ROWS = 20_000;
const TABLES = ['customers', 'orders', 'invoices'];

describe('guards stop a transaction before it commits (PostgreSQL, precise identity)', () => {
  let url: string;
  let daemon: Daemon;
  let dir: string;
  let cfgFile: string;

  const guardAlerts = (): Alert[] => daemon.store.alerts({}).filter((a) => a.detector === 'guard');
  const count = async (t: string) => Number((await sql(url, `SELECT count(*) AS n FROM public.${t}`)).rows[0].n);

  async function alertFor(table: string, done: (a: Alert) => boolean): Promise<Alert> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const a = guardAlerts().find((x) => x.table === `public.${table}`);
      if (a && done(a)) return a;
      if (Date.now() > deadline) throw new Error(`no settled guard alert for ${table}; alerts: ${JSON.stringify(guardAlerts().map((x) => x.title))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A session that deletes every row of `table` in one transaction and leaves it open. */
  async function openDelete(table: string, application: string, comment: string): Promise<{ c: pg.Client; errors: Error[] }> {
    const c = new pg.Client({ connectionString: url, application_name: application });
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    await c.connect();
    await c.query('BEGIN');
    const r = await c.query(`${comment} DELETE FROM public.${table}`);
    expect(r.rowCount).toBe(ROWS);
    return { c, errors };
  }

  beforeAll(async () => {
    const server = sharedPg();
    const db = await server.freshDatabase('guards');
    url = server.url(db);
    for (const t of TABLES) {
      await sql(url, `CREATE TABLE public.${t} (id int PRIMARY KEY, note text)`);
      await sql(url, `INSERT INTO public.${t} SELECT g, 'row ' || g FROM generate_series(1, ${ROWS}) g`);
    }
    await sql(url, `CREATE TABLE public.notes (id int PRIMARY KEY, note text)`);
    await sql(url, `INSERT INTO public.notes SELECT g, 'note ' || g FROM generate_series(1, 100) g`);
    // orders stays in sampling mode: its transactions carry no session message, so no guard acts on them.
    const src = await setupSource(url, { identity: 'precise', preciseTables: ['public.customers', 'public.invoices', 'public.notes'] });
    dir = mkdtempSync(join(tmpdir(), 'rowtrail-guard-'));
    const raw = {
        sources: [{ ...src, identity: 'precise' }],
        store: { path: join(dir, 'store') },
        actors: [{ match: { application: 'console' }, kind: 'human' }],
        guards: [
          { name: 'agents-no-mass-delete', match: { kind: 'ai-agent' }, when: { op: 'delete', rowsOver: 10_000, tables: ['public.customers'] }, action: 'terminate' },
          { name: 'orders-anyone', when: { op: 'delete', rowsOver: 10_000, tables: ['public.orders'] }, action: 'terminate' },
          { name: 'humans-dry-run', match: { kind: 'human' }, when: { op: 'delete', rowsOver: 10_000 }, action: 'alert' },
          { name: 'notes-small', match: { kind: 'ai-agent' }, when: { op: 'delete', rowsOver: 50, tables: ['public.notes'] }, action: 'terminate' },
          { name: 'invoices-dry-run', match: { agent: 'report-bot' }, when: { op: 'delete', rowsOver: 10_000, tables: ['public.invoices'] }, action: 'alert' },
        ],
      };
    cfgFile = join(dir, 'rowtrail.yaml');
    writeFileSync(cfgFile, JSON.stringify(raw)); // JSON is YAML
    daemon = startDaemon(parseConfig(raw, {}), silentLogger);
    const deadline = Date.now() + 30_000;
    while (daemon.health()[0]?.health?.state !== 'streaming') {
      if (Date.now() > deadline) throw new Error('the source did not start streaming');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    await daemon?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("terminates an AI agent's mass delete before commit: every row stays, nothing is stored as committed, one critical alert", async () => {
    const { c, errors } = await openDelete('customers', 'agent-runner', "/*agent='deploy-bot',run='r-9'*/");
    const a = await alertFor('customers', (x) => x.evidence.outcome === 'rolled-back');
    await expect(c.query('COMMIT')).rejects.toThrow();
    expect(errors.map((e) => e.message).join()).toMatch(/terminat/); // the server said why it closed the session
    await c.end().catch(() => undefined);
    expect(await count('customers')).toBe(ROWS);
    expect(a).toMatchObject({ detector: 'guard', severity: 'critical', table: 'public.customers', actor: { agent: 'deploy-bot', kind: 'ai-agent', confidence: 'exact' } });
    expect(a.title).toMatch(/^Stopped before commit: deploy-bot \(ai-agent, user \w+\) deleted [\d,]+ rows of public\.customers \(guard agents-no-mass-delete, terminated\)$/);
    expect(a.evidence).toMatchObject({ guard: 'agents-no-mass-delete', action: 'terminate', acted: true, outcome: 'rolled-back', result: { done: true } });
    expect(a.evidence.msCrossingToAction).toEqual(expect.any(Number));
    const seen = a.evidence.seen as { table: string; op: string; rows: number }[];
    expect(seen).toEqual([{ table: 'public.customers', op: 'delete', rows: 10_001 }]);
    expect(JSON.stringify(a)).not.toContain('row 1'); // counts only, never a row's values
    expect(guardAlerts().filter((x) => x.table === 'public.customers')).toHaveLength(1);
    // The streamed deletes of the rolled-back transaction are never presented as committed.
    // Capture goes on exactly once past the terminated transaction: the next change of the table is the only one stored.
    await sql(url, `UPDATE public.customers SET note = 'after' WHERE id = 7`);
    const deadline = Date.now() + 30_000;
    let stored = [...daemon.store.changes({})].filter((e) => e.table === 'customers');
    while (stored.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      stored = [...daemon.store.changes({})].filter((e) => e.table === 'customers');
    }
    expect(stored.map((e) => [e.op, e.key])).toEqual([['update', { id: '7' }]]);
  });

  it("a human's equally large transaction under an agents-only guard is not touched (a dry-run guard alerts)", async () => {
    const { c, errors } = await openDelete('customers', 'console', '');
    const a = await alertFor('customers', (x) => x.evidence.guard === 'humans-dry-run');
    expect(a.evidence).toMatchObject({ action: 'alert', acted: false, reason: 'dry run (action: alert)', outcome: 'in-flight' });
    expect(a.title).toMatch(/^Guard humans-dry-run would have stopped \w+ \(human\) before commit: deleted [\d,]+ rows of public\.customers$/);
    await c.query('ROLLBACK'); // the session is alive: its transaction is the user's to end
    await c.end();
    expect(errors).toEqual([]);
    expect((await alertFor('customers', (x) => x.evidence.guard === 'humans-dry-run' && x.evidence.outcome === 'rolled-back')).evidence.acted).toBe(false);
  });

  it('an actor without a precise session message is never ended, even under a terminate guard: alert only, and the commit goes through', async () => {
    const { c, errors } = await openDelete('orders', 'agent-runner', "/*agent='deploy-bot'*/");
    const a = await alertFor('orders', () => true);
    expect(a.evidence).toMatchObject({ guard: 'orders-anyone', action: 'terminate', acted: false });
    expect(String(a.evidence.reason)).toMatch(/never ends a session on a guess/);
    await c.query('COMMIT');
    await c.end();
    expect(errors).toEqual([]);
    expect(await count('orders')).toBe(0);
    const settled = await alertFor('orders', (x) => x.evidence.outcome === 'committed');
    expect(settled.title).toMatch(/^Guard orders-anyone would have stopped/);
  });

  it('action: alert never kills, even an exact AI agent', async () => {
    const { c, errors } = await openDelete('invoices', 'agent-runner', "/*agent='report-bot'*/");
    const a = await alertFor('invoices', () => true);
    expect(a.evidence).toMatchObject({ guard: 'invoices-dry-run', acted: false });
    expect(a.actor).toMatchObject({ agent: 'report-bot', confidence: 'exact' });
    await c.query('COMMIT');
    await c.end();
    expect(errors).toEqual([]);
    expect(await count('invoices')).toBe(0);
  });

  it('a transaction too small to be streamed is seen only once committed: the guard alerts what it would have done', async () => {
    await sql(url, `/*agent='deploy-bot'*/ DELETE FROM public.notes`);
    const a = await alertFor('notes', (x) => x.evidence.outcome === 'committed');
    expect(a.evidence).toMatchObject({ guard: 'notes-small', acted: false, observed: 51 });
    expect(String(a.evidence.reason)).toMatch(/had committed before rowtrail saw it \(it was not streamed/);
    expect(a.undo).toMatch(/^rowtrail undo --tx \d+ --source pg$/);
    expect(await count('notes')).toBe(0);
  });

  it('`rowtrail guards` lists the guards and their recent actions', async () => {
    const r = await cli('guards', '--config', cfgFile, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.guards.map((g: { name: string; watches: string[] }) => [g.name, g.watches])).toEqual([
      ['agents-no-mass-delete', ['pg']],
      ['orders-anyone', ['pg']],
      ['humans-dry-run', ['pg']],
      ['notes-small', ['pg']],
      ['invoices-dry-run', ['pg']],
    ]);
    expect(j.decodingWorkMem).toEqual({ pg: '256kB' });
    const acted = j.actions.filter((a: Alert) => a.evidence.acted);
    expect(acted.map((a: Alert) => [a.evidence.guard, a.evidence.outcome])).toEqual([['agents-no-mass-delete', 'rolled-back']]);
    const text = await cli('guards', '--config', cfgFile);
    expect(text.stdout).toMatch(/agents-no-mass-delete\s+kind=ai-agent\s+delete > 10000 rows on public\.customers\s+terminate\s+pg/);
    expect(text.stdout).toMatch(/terminate\s+rolled-back\s+Stopped before commit: deploy-bot/);
  });
});
