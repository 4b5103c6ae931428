/**
 * `rowtrail watch` as a process, on the harness PostgreSQL: it stops (exits) when told, refuses a store
 * another daemon writes, says when its HTTP port is taken, and read-only commands work beside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, runCli, spawnCli } from '../harness/cli.js';
import { sharedPg } from '../harness/shared.js';

const pg = sharedPg();
let dir: string;
let db: string;
let config: string;

beforeAll(async () => {
  db = await pg.freshDatabase('watchproc');
  await pg.psql(`CREATE TABLE t (id int PRIMARY KEY, v text)`, db);
  dir = mkdtempSync(join(tmpdir(), 'rowtrail-watchproc-'));
  config = join(dir, 'rowtrail.yaml');
  writeFileSync(config, `sources:\n  - name: app\n    kind: postgres\n    url: ${pg.url(db)}\n    slot: s_${db}\n    publication: p_${db}\n    identity: precise\nstore:\n  path: ./data\n`);
  const setup = await runCli(['setup', '--config', config, '--replica-identity', 'full']);
  expect(setup.code, setup.stderr).toBe(0);
});

afterAll(async () => {
  await pg.psql(`SELECT pg_drop_replication_slot('s_${db}')`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves with the exit code, or 'still running' when the process did not exit within `ms`. */
function exitWithin(child: ReturnType<typeof spawnCli>, ms: number): Promise<number | null | 'still running'> {
  return Promise.race([exited(child), new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms).unref())]);
}

describe('watch process', () => {
  it('refuses a second daemon on the same store, serves readers beside it, and exits 0 on SIGTERM', async () => {
    const first = spawnCli(['watch', '--config', config]);
    let client: Socket | null = null;
    try {
      await until(() => /rowtrail watching/.test(first.output()), 'the first daemon to start');
      await pg.psql(`INSERT INTO t VALUES (1, 'a')`, db);
      let changes = await runCli(['changes', '--json', '--config', config]);
      for (let i = 0; i < 100 && !changes.stdout.includes('"table":"t"'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        changes = await runCli(['changes', '--json', '--config', config]);
      }
      expect(changes.code, changes.stderr).toBe(0);
      expect(JSON.parse(changes.stdout.trim().split('\n')[0]).after).toEqual({ id: '1', v: 'a' });
      const actors = await runCli(['actors', '--config', config]);
      expect(actors.code, actors.stderr).toBe(0);
      const blame = await runCli(['blame', '--config', config, 'public.t', '1']);
      expect(blame.code, blame.stderr).toBe(0);
      const undo = await runCli(['undo', '--config', config, '--table', 'public.t']);
      expect(undo.code, undo.stderr).toBe(0);
      expect(undo.stdout).toMatch(/DELETE FROM "public"."t" WHERE "id" = '1'::integer/);

      const second = await runCli(['watch', '--config', config], { timeoutMs: 20_000 });
      expect(second.code).toBe(1);
      expect(second.stderr.trim()).toMatch(new RegExp(`^rowtrail: store \\S+ is in use by rowtrail watch pid ${first.pid}:`));
      expect(second.stderr.trim().split('\n')).toHaveLength(1);

      // A client in the middle of a request (a slow scraper) when the daemon is told to stop.
      await until(() => /metrics endpoint/.test(first.output()), 'the metrics endpoint');
      const url = new URL(JSON.parse(first.output().split('\n').find((l) => l.includes('metrics endpoint'))!).url);
      client = connect(Number(url.port), url.hostname);
      client.on('error', () => undefined);
      await new Promise((r) => client!.once('connect', r));
      client.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    } finally {
      first.kill('SIGTERM');
    }
    // "A daemon that says stopped must have exited": nothing may keep the event loop alive.
    expect(await exitWithin(first, 5_000)).toBe(0);
    expect(first.output()).toMatch(/"msg":"stopped"/);
    client?.destroy();
  });

  it('exits non-zero with one line when its HTTP port is taken', async () => {
    const held: Server = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const port = (held.address() as { port: number }).port;
    try {
      const child = spawnCli(['watch', '--config', config], { env: { ROWTRAIL_HTTP_PORT: String(port) } });
      const code = await exitWithin(child, 20_000);
      if (code === 'still running') child.kill('SIGKILL');
      expect(code).toBe(2);
      expect(child.output()).toContain(`rowtrail: http: 127.0.0.1:${port} is in use; set http.port (or ROWTRAIL_HTTP_PORT)`);
    } finally {
      held.close();
    }
  });
});
