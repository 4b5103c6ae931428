/**
 * The undo is recorded: with a real daemon (sources + identity, in-process), `rowtrail undo --apply` reverts an
 * agent's transaction, capture stores the reverting transaction attributed to agent `rowtrail-undo` and the
 * undo's run id, and `rowtrail changes --agent-run <run id>` lists it.
 *
 * PostgreSQL runs precise identity (setup installs the statement triggers), so the attribution is exact.
 * MariaDB has no precise mode: its DML carries no thread id, so the agent and run come from the statement
 * comment in the annotated row events, and the session itself stays unknown unless the sampler saw it.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { sharedPg } from '../harness/shared.js';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { setupSource, sql } from '../postgres/capture-helpers.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log/index.js';
import type { ChangeEvent } from '../../src/model/index.js';
import { cli } from './run-cli.js';

interface Rig {
  cfg: Config;
  cfgFile: string;
  daemon: Daemon;
  dir: string;
}

function rig(raw: Record<string, unknown>): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'rowtrail-undo-rec-'));
  const full = { ...raw, store: { path: join(dir, 'store') } };
  const cfgFile = join(dir, 'rowtrail.yaml');
  writeFileSync(cfgFile, JSON.stringify(full)); // JSON is YAML
  const cfg = parseConfig(full, {});
  return { cfg, cfgFile, daemon: startDaemon(cfg, silentLogger), dir };
}

async function waitFor(r: Rig, pred: (evs: ChangeEvent[]) => boolean, what: string): Promise<ChangeEvent[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const evs = [...r.daemon.store.changes({})];
    if (pred(evs)) return evs;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stored: ${JSON.stringify(evs.map((e) => [e.table, e.op, e.actor.agent, e.actor.context]))}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

/** `rowtrail undo --agent-run RUN --apply --yes`, then the run id it printed. */
async function undoRun(r: Rig, run: string): Promise<string> {
  const out = await cli('undo', '--config', r.cfgFile, '--agent-run', run, '--apply', '--yes');
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  const m = /applied undo (u-[a-z0-9-]+): 1 statement\(s\), 1 row\(s\)/.exec(out.stdout);
  expect(m, out.stdout).not.toBeNull();
  expect(out.stdout).toContain(`rowtrail changes --agent-run ${m![1]}`);
  return m![1];
}

async function listed(r: Rig, runId: string): Promise<ChangeEvent[]> {
  const out = await cli('changes', '--config', r.cfgFile, '--agent-run', runId, '--json');
  expect(out.code).toBe(0);
  return out.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChangeEvent);
}

/**
 * Waits for the agent's change, undoes its run through the CLI, and checks that the reverting update is in the
 * change stream as run `rowtrail-undo` (one event, the row put back) and that `changes --agent-run` lists it.
 */
async function undoIsRecorded(r: Rig, agentRun: string, actor: Partial<ChangeEvent['actor']>): Promise<ChangeEvent> {
  await waitFor(r, (evs) => evs.some((e) => e.actor.context?.run === agentRun), 'the agent change');
  const runId = await undoRun(r, agentRun);
  const evs = await waitFor(r, (evs) => evs.some((e) => e.actor.context?.run === runId), 'the undo in the change stream');
  const undo = evs.filter((e) => e.actor.context?.run === runId);
  expect(undo).toHaveLength(1);
  expect(undo[0]).toMatchObject({
    table: 'accounts',
    op: 'update',
    before: { id: '2', owner: 'mallory', balance: '0.00' },
    after: { id: '2', owner: 'bob', balance: '50.50' },
    // rowtrail's own undo is a service, not an AI agent, without any actors: rule saying so.
    actor: { agent: 'rowtrail-undo', kind: 'service', ...actor },
  });
  expect((await listed(r, runId)).map((e) => e.id)).toEqual([undo[0].id]);
  return undo[0];
}

describe('the undo is recorded (PostgreSQL, precise identity)', () => {
  let r: Rig;
  let url: string;
  beforeAll(async () => {
    const pg = sharedPg();
    const db = await pg.freshDatabase('undo_rec');
    url = pg.url(db);
    await sql(url, `CREATE TABLE public.accounts (id int PRIMARY KEY, owner text, balance numeric(12,2))`);
    await sql(url, `INSERT INTO public.accounts VALUES (1, 'ann', 100.00), (2, 'bob', 50.50)`);
    const src = await setupSource(url, { identity: 'precise' });
    r = rig({ sources: [{ name: src.name, kind: 'postgres', url, slot: src.slot, publication: src.publication, identity: 'precise' }] });
  });
  afterAll(async () => {
    await r?.daemon.stop();
    if (r) rmSync(r.dir, { recursive: true, force: true });
  });

  it('attributes the reverting transaction to rowtrail-undo and its run, exactly', async () => {
    await sql(url, `/*agent='deploy-bot',run='r-17'*/ UPDATE public.accounts SET balance = 0, owner = 'mallory' WHERE id = 2`);
    const undo = await undoIsRecorded(r, 'r-17', { confidence: 'exact', application: 'rowtrail-undo', user: 'postgres' });
    // Who ran it, as the OS knows them (the CLI ran as this process's user).
    expect(undo.actor.context).toMatchObject({ agent: 'rowtrail-undo', os_user: userInfo().username });
    expect(undo.actor.method).toBe('precise-message');
    expect((await sql(url, 'SELECT owner, balance FROM public.accounts WHERE id = 2')).rows).toEqual([{ owner: 'bob', balance: '50.50' }]);
  });
});

describe('the undo is recorded (MariaDB)', () => {
  let m: MariaServer;
  let r: Rig;
  let c: mysql.Connection;
  beforeAll(async () => {
    m = await startMariadb();
    await m.sql(`CREATE DATABASE shop; CREATE TABLE shop.accounts (id int PRIMARY KEY, owner varchar(20), balance decimal(12,2))`);
    await m.sql(`INSERT INTO shop.accounts VALUES (1, 'ann', 100.00), (2, 'bob', 50.50)`);
    r = rig({ sources: [{ name: 'shop', kind: 'mysql', url: m.url('shop') }] });
    c = await mysql.createConnection({ uri: m.url('shop') });
    // The source starts at the binlog's end: wait until it stored its first position.
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

  it('attributes the reverting transaction to rowtrail-undo and its run (from the statement comment)', async () => {
    await c.query(`/*agent='deploy-bot',run='r-18'*/ UPDATE accounts SET balance = 0, owner = 'mallory' WHERE id = 2`);
    const undo = await undoIsRecorded(r, 'r-18', {});
    // What MariaDB can say about the session (no thread id in DML events): printed for the record.
    console.log(`MariaDB undo attribution: ${JSON.stringify(undo.actor)}`);
  });
});
