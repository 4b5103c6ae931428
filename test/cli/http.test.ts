/** The daemon's HTTP endpoint: health without a token, metrics only with it, on 127.0.0.1 by default. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, runCli, spawnCli } from '../harness/cli.js';
import { sharedPg } from '../harness/shared.js';

const pg = sharedPg();
let dir: string;
let db: string;
let daemon: ReturnType<typeof spawnCli>;
let base: string;

beforeAll(async () => {
  db = await pg.freshDatabase('http');
  await pg.psql(`CREATE TABLE t (id int PRIMARY KEY, v text)`, db);
  dir = mkdtempSync(join(tmpdir(), 'rowtrail-http-'));
  const config = join(dir, 'rowtrail.yaml');
  writeFileSync(config, `sources:\n  - name: app\n    kind: postgres\n    url: ${pg.url(db)}\n    slot: s_${db}\n    publication: p_${db}\n    identity: precise\nstore:\n  path: ./data\n`);
  const setup = await runCli(['setup', '--config', config, '--replica-identity', 'full']);
  expect(setup.code, setup.stderr).toBe(0);
  daemon = spawnCli(['watch', '--config', config]);
  for (let i = 0; i < 300 && !/metrics endpoint/.test(daemon.output()); i++) await new Promise((r) => setTimeout(r, 50));
  // Healthy once the source streams (a loaded machine may answer 503 'connecting' before that).
  for (let i = 0; i < 600 && !/streaming changes/.test(daemon.output()); i++) await new Promise((r) => setTimeout(r, 50));
  const line = daemon.output().split('\n').find((l) => l.includes('metrics endpoint'))!;
  base = JSON.parse(line).url.replace(/\/metrics$/, '');
});

afterAll(async () => {
  daemon?.kill('SIGTERM');
  if (daemon) await exited(daemon);
  await pg.psql(`SELECT pg_drop_replication_slot('s_${db}')`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('http', () => {
  it('binds to 127.0.0.1 and answers /healthz without a token', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetch(`${base}/healthz`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { status: string; sources: Record<string, Record<string, unknown>> };
    expect(body.status).toBe('ok');
    // Per source, what SourceHealth says ('unknown' while the source cannot report it; see http/health.ts).
    expect(Object.keys(body.sources)).toEqual(['app']);
    expect(['streaming', 'unknown']).toContain(body.sources.app.state);
    for (const k of ['connectedSince', 'lastMessageAt', 'reconnects', 'lagBytes', 'lagSeconds', 'lastError', 'healthy', 'problems']) {
      expect(body.sources.app).toHaveProperty(k);
    }
  });

  it('serves Prometheus metrics only with the generated token (kept 0600 in the store)', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const tokenFile = join(dir, 'data', 'http-token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(daemon.output()).not.toContain(token);
    await pg.psql(`INSERT INTO t VALUES (1, 'a'), (2, 'b')`, db);
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      if (/rowtrail_changes_total\{source="app",kind="postgres"\} 2/.test(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(text).toMatch(/rowtrail_changes_total\{source="app",kind="postgres"\} 2/);
    expect(text).toMatch(/rowtrail_exact_transactions_total\{source="app",kind="postgres"\} 1/);
    expect(text).toMatch(/rowtrail_attribution_ratio\{source="app",kind="postgres",confidence="exact"\} 1\n/);
    expect(text).toMatch(/rowtrail_attribution_ratio\{source="app",kind="postgres",confidence="inferred"\} 0\n/);
    expect(text).toMatch(/# TYPE rowtrail_lag_seconds gauge/);
  });
});
