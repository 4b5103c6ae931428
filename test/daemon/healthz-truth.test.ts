/**
 * `/healthz` tells the truth about a running `watch`: 200 while the source streams, 503 (with the reason)
 * while its database is down, 200 again once it came back. Needs a source that reports its health
 * (`Source.health()`); skipped while the PostgreSQL source cannot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, runCli, spawnCli } from '../harness/cli.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { PostgresSource } from '../../src/sources/postgres/index.js';

const reportsHealth = typeof (PostgresSource.prototype as { health?: unknown }).health === 'function';

interface Healthz {
  status: number;
  body: { status: string; sources: Record<string, { state: string; healthy: boolean; problems: string[]; lastError: string | null }> };
}

describe.skipIf(!reportsHealth)('healthz tells the truth', () => {
  let pg: PgServer;
  let dir: string;
  let config: string;
  beforeAll(async () => {
    pg = await startPostgres();
    const db = await pg.freshDatabase('healthz');
    await pg.psql(`CREATE TABLE t (id int PRIMARY KEY, v text)`, db);
    dir = mkdtempSync(join(tmpdir(), 'rowtrail-healthz-'));
    config = join(dir, 'rowtrail.yaml');
    writeFileSync(config, `sources:\n  - name: app\n    kind: postgres\n    url: ${pg.url(db)}\nstore:\n  path: ./data\n`);
    const setup = await runCli(['setup', '--config', config]);
    expect(setup.code, setup.stderr).toBe(0);
  });
  afterAll(async () => {
    await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function healthz(base: string): Promise<Healthz> {
    const r = await fetch(`${base}/healthz`);
    return { status: r.status, body: (await r.json()) as Healthz['body'] };
  }

  async function until(base: string, pred: (h: Healthz) => boolean, what: string): Promise<Healthz> {
    let last: Healthz | null = null;
    for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
      last = await healthz(base);
      if (pred(last)) return last;
    }
    throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
  }

  it('is 200 while streaming, 503 with the reason while the database is down, 200 again after', async () => {
    const daemon = spawnCli(['watch', '--config', config]);
    try {
      for (let i = 0; i < 600 && !/metrics endpoint/.test(daemon.output()); i++) await new Promise((r) => setTimeout(r, 50));
      const line = daemon.output().split('\n').find((l) => l.includes('metrics endpoint'))!;
      const base = JSON.parse(line).url.replace(/\/metrics$/, '');

      const up = await until(base, (h) => h.body.sources.app?.state === 'streaming', 'the source to stream');
      expect(up.status).toBe(200);
      expect(up.body.status).toBe('ok');

      await pg.stop('fast');
      const down = await until(base, (h) => h.status === 503, '/healthz to report the database down');
      expect(down.body.status).toBe('unhealthy');
      expect(down.body.sources.app.healthy).toBe(false);
      expect(down.body.sources.app.state).not.toBe('streaming');
      expect(down.body.sources.app.problems.length).toBeGreaterThan(0);

      await pg.start();
      const back = await until(base, (h) => h.status === 200, '/healthz to recover');
      expect(back.body.sources.app.state).toBe('streaming');
    } finally {
      daemon.kill('SIGTERM');
      await exited(daemon);
    }
  });
});
