/**
 * The PostgreSQL source under faults a daemon meets in production: a stop while the server does not answer,
 * a silent (partitioned) connection, a slot another process holds, and health that tells the truth.
 */
import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedPg } from '../harness/shared.js';
import { freePort } from '../harness/ports.js';
import { exited, spawnCli } from '../harness/cli.js';
import { setupSource, sourceConfig, sql, startCapture, type Capture } from './capture-helpers.js';
import { startProxy } from './blackhole-proxy.js';
import type { PostgresSourceOptions } from '../../src/sources/postgres/index.js';

const server = sharedPg();
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Resolves with 'done' when `p` settles within `ms`, else with 'still running'. */
function within(p: Promise<unknown>, ms: number): Promise<'done' | 'still running'> {
  return Promise.race([p.then(() => 'done' as const), new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms))]);
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function track(cap: Capture): Capture {
  cleanups.push(() => cap.destroy());
  return cap;
}

/** WAL senders serving the database of `url`. */
async function walSenders(url: string): Promise<number> {
  return Number((await sql(url, `SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'walsender' AND datname = current_database()`)).rows[0].n);
}

/** A fresh database with table `ev`, set up for capture, a source running on it and one row captured. */
async function capturing(prefix: string, source: PostgresSourceOptions = {}): Promise<{ url: string; cfg: Capture['cfg']; cap: Capture }> {
  const url = server.url(await server.freshDatabase(prefix));
  await sql(url, `CREATE TABLE ev (id int PRIMARY KEY, v text)`);
  const cfg = await setupSource(url);
  const cap = track(startCapture(url, cfg, { source }));
  await sql(url, `INSERT INTO ev VALUES (1, 'x')`);
  await cap.caughtUp();
  return { url, cfg, cap };
}

describe('stop while connecting', () => {
  it('ends run at once when the server accepts the connection and never answers', async () => {
    const accepted: net.Socket[] = [];
    const silent = net.createServer((s) => {
      accepted.push(s);
      s.on('error', () => undefined);
      s.resume(); // read (and drop) what the client sends, so its close is seen
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
    const url = `postgres://postgres@127.0.0.1:${(silent.address() as net.AddressInfo).port}/nowhere`;
    const cap = track(startCapture(url, sourceConfig(url)));
    await until('the connection attempt', () => accepted.length > 0);
    expect(cap.source.health().state).toBe('connecting');
    // Default timeouts (10 s connect, 20 s receive) are far longer than this bound: only the stop can end it.
    expect(await within(cap.stop(), 3_000)).toBe('done');
    expect(cap.source.health().state).toBe('stopped');
    // …and the socket it opened is closed, not left to the server.
    await until('the socket to close', () => accepted.every((s) => s.destroyed), 3_000);
  });

  it('ends run at once while it retries a port nobody listens on', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/nowhere`;
    const cap = track(startCapture(url, sourceConfig(url)));
    await until('a failed attempt', () => cap.source.health().reconnects > 0);
    expect(cap.source.health()).toMatchObject({ state: 'reconnecting', lastError: expect.stringMatching(/connection refused/) });
    expect(await within(cap.stop(), 3_000)).toBe('done');
  });
});

describe('a silent connection', () => {
  it('is noticed by the receive watchdog, and capture resumes without loss once the network is back', async () => {
    const db = await server.freshDatabase('partition');
    const direct = server.url(db);
    await sql(direct, `CREATE TABLE ev (id int PRIMARY KEY, v text)`);
    const proxy = await startProxy(server.port);
    cleanups.push(() => proxy.close());
    const url = proxy.via(direct);
    const cfg = await setupSource(direct, { url });
    const cap = track(startCapture(url, cfg, { source: { receiveTimeoutMs: 1_500, connectTimeoutMs: 1_000 } }));
    await sql(direct, `INSERT INTO ev SELECT g, 'before' FROM generate_series(1, 10) g`);
    await cap.caughtUp();
    proxy.blackhole();
    await sql(direct, `INSERT INTO ev SELECT g, 'during' FROM generate_series(11, 20) g`);
    await until('the dead connection to be noticed', () => cap.source.health().reconnects > 0);
    expect(cap.source.health().lastError).toMatch(/no message from the server|no answer from the server/);
    proxy.pass();
    await sql(direct, `INSERT INTO ev SELECT g, 'after' FROM generate_series(21, 30) g`);
    await cap.caughtUp(60_000);
    const ids = [...cap.store.changes({ table: 'public.ev' })].map((e) => Number(e.after!.id));
    expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(cap.source.health().state).toBe('streaming');
    // The WAL sender of the partitioned connection (still holding the slot on the server) was ended, not left.
    expect(await walSenders(direct)).toBe(1);
  }, 90_000);
});

describe('health', () => {
  it('reads no lag on a caught-up idle database, however long ago the last commit was', async () => {
    const { cap } = await capturing('health');
    // Idle from here on: the last commit gets older, the lag must not.
    await new Promise((r) => setTimeout(r, 1_500));
    await until('the lag to be measured', () => cap.source.health().lagBytes === 0, 20_000);
    const h = cap.source.health();
    expect(h).toMatchObject({ state: 'streaming', reconnects: 0, lagBytes: 0, lagSeconds: 0, lastError: null });
    expect(Date.parse(h.connectedSince!)).toBeLessThanOrEqual(Date.parse(h.lastMessageAt!));
    expect(cap.source.stats().lagSeconds).toBe(0);
    await cap.stop();
    expect(cap.source.health().state).toBe('stopped');
  }, 60_000);

  it('keeps hearing from an idle server, so a quiet database is not mistaken for a dead connection', async () => {
    // The server itself stays silent while the client reports in time; the stream asks it for keepalives.
    const { cap } = await capturing('quiet', { receiveTimeoutMs: 2_000 });
    const idleFrom = Date.now();
    await until('a message from the idle server', () => Date.parse(cap.source.health().lastMessageAt!) > idleFrom + 1_000, 20_000);
    await until('another one', () => Date.parse(cap.source.health().lastMessageAt!) > idleFrom + 3_000, 20_000);
    expect(cap.source.health()).toMatchObject({ state: 'streaming', reconnects: 0 });
  }, 60_000);

  it('says failed with the reason when the source stops on a fatal error', async () => {
    const db = await server.freshDatabase('nohealth');
    const url = server.url(db);
    const cap = track(startCapture(url, sourceConfig(url)));
    await until('the failure', () => cap.error !== undefined);
    expect(cap.source.health()).toMatchObject({ state: 'failed', lastError: expect.stringMatching(/replication slot .* does not exist/) });
  });
});

describe('a slot held by another process', () => {
  it('stops a second watch with a clear reason, releases every connection, and obeys SIGTERM while it waits', async () => {
    const { url, cfg, cap: first } = await capturing('twice');
    const dir = mkdtempSync(join(tmpdir(), 'rowtrail-twice-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'rowtrail.yaml');
    writeFileSync(config, `sources:\n  - name: pg\n    kind: postgres\n    url: ${url}\n    slot: ${cfg.slot}\n    publication: ${cfg.publication}\nstore:\n  path: ./data\n`);

    // Left alone, it gives up with the reason and a non-zero exit.
    const second = spawnCli(['watch', '--config', config]);
    expect(await exited(second)).toBe(1);
    expect(second.output()).toMatch(/replication slot '[^']+' is in use by PID \d+/);

    // Stopped while it waits for the slot, it exits at once.
    const third = spawnCli(['watch', '--config', config]);
    await until('the daemon to start', () => /rowtrail watching/.test(third.output()) || third.exitCode !== null, 20_000);
    await new Promise((r) => setTimeout(r, 1_000));
    third.kill('SIGTERM');
    expect(await within(exited(third), 5_000)).toBe('done');
    expect(third.exitCode).toBe(0);

    // Nothing leaked: the first source's WAL sender is the only one, and it still captures.
    expect(await walSenders(url)).toBe(1);
    await sql(url, `INSERT INTO ev VALUES (2, 'y')`);
    await first.caughtUp();
    expect([...first.store.changes({ table: 'public.ev' })]).toHaveLength(2);
  }, 90_000);
});
