/**
 * Delivery guarantees a user relies on: a daemon killed with SIGKILL mid-stream, or a PostgreSQL restart
 * under a running daemon, loses nothing and duplicates nothing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sharedPg } from '../harness/shared.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { exited, runCli, spawnCli } from '../harness/cli.js';
import { Store } from '../../src/store/index.js';
import { compareLsn } from '../../src/sources/postgres/index.js';
import { currentLsn, setupSource, sql, startCapture } from './capture-helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Commits `n` transactions of 3 inserts + 1 update each, as fast as it can, until done or stopped. */
async function writer(url: string, from: number, n: number, stop: { now: boolean }): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  let i = from;
  try {
    for (; i < from + n && !stop.now; i++) {
      await c.query(`BEGIN`);
      await c.query(`INSERT INTO ev (id, tx, v) VALUES ($1, $4, 'a'), ($2, $4, 'b'), ($3, $4, 'c')`, [i * 3, i * 3 + 1, i * 3 + 2, i]);
      await c.query(`UPDATE ev SET v = v || '!' WHERE id = $1`, [i * 3]);
      await c.query(`COMMIT`);
    }
  } finally {
    await c.end().catch(() => undefined);
  }
  return i;
}

async function waitStored(storeDir: string, url: string, timeoutMs = 60_000): Promise<void> {
  const target = await currentLsn(url);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let pos: string | null = null;
    try {
      const s = Store.open(storeDir, { readonly: true });
      pos = s.position('pg');
      s.close();
    } catch {
      /* not created yet */
    }
    if (pos && compareLsn(pos, target) >= 0) return;
    if (Date.now() > deadline) throw new Error(`store did not reach ${target} (at ${pos})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Committed transactions in the store (0 before it exists). */
function storedTx(storeDir: string): number {
  try {
    const s = Store.open(storeDir, { readonly: true });
    try {
      return (s.db.prepare(`SELECT count(*) AS n FROM transactions WHERE state = 'committed'`).get() as { n: number }).n;
    } finally {
      s.close();
    }
  } catch {
    return 0;
  }
}

function checkExactlyOnce(storeDir: string, txCount: number): void {
  const s = Store.open(storeDir, { readonly: true });
  try {
    const inserts = new Map<string, number>();
    let updates = 0;
    for (const ev of s.changes({ table: 'public.ev' })) {
      if (ev.op === 'insert') inserts.set(ev.after!.id!, (inserts.get(ev.after!.id!) ?? 0) + 1);
      if (ev.op === 'update') updates++;
    }
    expect(inserts.size).toBe(txCount * 3);
    expect([...inserts.values()].every((n) => n === 1)).toBe(true);
    expect(updates).toBe(txCount);
    const txs = s.db.prepare(`SELECT count(*) AS n, count(DISTINCT position) AS p FROM transactions WHERE state = 'committed'`).get() as { n: number; p: number };
    expect(txs.n).toBe(txs.p);
    const open = s.db.prepare(`SELECT count(*) AS n FROM transactions WHERE state = 'open'`).get() as { n: number };
    expect(open.n).toBe(0);
  } finally {
    s.close();
  }
}

async function waitForOutput(child: ReturnType<typeof spawnCli>, re: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(child.output())) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`daemon never printed ${re}: ${child.output().slice(-1000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('delivery', () => {
  it('finds every committed change exactly once after the daemon is killed with SIGKILL mid-stream', async () => {
    const server = sharedPg();
    const db = await server.freshDatabase('kill');
    const url = server.url(db);
    await sql(url, `CREATE TABLE ev (id int PRIMARY KEY, tx int, v text)`);
    const dir = mkdtempSync(join(tmpdir(), 'rowtrail-kill-'));
    dirs.push(dir);
    const config = join(dir, 'rowtrail.yaml');
    writeFileSync(config, `sources:\n  - name: pg\n    kind: postgres\n    url: ${url}\n    slot: s_${db}\nstore:\n  path: ./data\n`);
    const setup = await runCli(['setup', '--config', config, '--replica-identity', 'full']);
    expect(setup.stderr).toBe('');
    expect(setup.code).toBe(0);

    const stop = { now: false };
    const writing = writer(url, 0, 1_000_000, stop);
    let daemon = spawnCli(['watch', '--config', config]);
    // Kill it twice while transactions keep committing; note how many were stored at each kill.
    const storedAtKill: number[] = [];
    for (let k = 0; k < 2; k++) {
      await waitForOutput(daemon, /streaming changes/);
      await new Promise((r) => setTimeout(r, 400));
      storedAtKill.push(storedTx(join(dir, 'data')));
      daemon.kill('SIGKILL');
      await exited(daemon);
      daemon = spawnCli(['watch', '--config', config]);
    }
    await waitForOutput(daemon, /streaming changes/);
    await new Promise((r) => setTimeout(r, 300));
    stop.now = true;
    const total = await writing;
    // each kill landed mid-stream: the writer kept committing after it, so the store had only part of the total
    for (const n of storedAtKill) expect(n).toBeLessThan(total);
    await waitStored(join(dir, 'data'), url);
    daemon.kill('SIGTERM');
    const code = await exited(daemon);
    expect(code, daemon.output().slice(-2000)).toBe(0);
    checkExactlyOnce(join(dir, 'data'), total);
  }, 180_000);

  it('loses nothing when PostgreSQL restarts under the running source', async () => {
    let server: PgServer | undefined;
    try {
      // synchronous_commit on: an immediate (crash) restart must not lose commits the writer saw succeed.
      server = await startPostgres({ conf: { synchronous_commit: 'on' } });
      const url = server.url('postgres');
      await sql(url, `CREATE TABLE ev (id int PRIMARY KEY, tx int, v text)`);
      const cfg = await setupSource(url);
      const cap = startCapture(url, cfg);
      dirs.push(cap.storeDir);
      const stop = { now: false };
      const first = await writer(url, 0, 200, stop);
      await server.restart('immediate');
      const second = await writer(url, first, 200, stop);
      await server.restart('fast');
      await writer(url, second, 100, stop);
      await cap.caughtUp(60_000);
      await cap.stop();
      cap.store.close();
      checkExactlyOnce(cap.storeDir, 500);
    } finally {
      await server?.destroy();
    }
  }, 180_000);
});
