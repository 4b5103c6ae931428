/**
 * bench/alert-latency: commit of an offending transaction → signed webhook received, over N incidents, with
 * the daemon's default settings (detection polls the store every 0.5 s; delivery is woken when alerts are
 * saved). Each incident is an AI agent deleting half of its own 200-row table in one transaction
 * (bulk-transaction); the receiver is a real local HTTP server that verifies nothing and answers 200.
 *
 *   node --import tsx bench/alert-latency/run.ts [--incidents 100] [--gap-ms 400]
 *
 * Prints p50 / p90 / p99 / max of commit → webhook (ms) and the same for commit → alert stored, so what bounds
 * the latency shows (capture + the detectors' poll, then the send).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres } from '../../test/harness/postgres.js';
import { parseConfig } from '../../src/config/index.js';
import { startDaemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log/index.js';
import { postgresSetup } from '../../src/sources/postgres/postgres-setup.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('incidents', 100);
const GAP = arg('gap-ms', 400);

const server = await startPostgres();
const dir = mkdtempSync(join(tmpdir(), 'rowtrail-alert-bench-'));
try {
  const url = server.url(await server.freshDatabase('alertbench'));
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  for (let t = 0; t < N; t++) {
    await c.query(`CREATE TABLE t${t} (id int PRIMARY KEY, v text); INSERT INTO t${t} SELECT g, 'v' || g FROM generate_series(1, 200) g`);
  }
  await c.query('ANALYZE');
  await c.query('SET synchronous_commit = on');

  const received = new Map<string, number>();
  const http = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const at = Date.now();
      try {
        for (const tx of JSON.parse(body).txIds as string[]) if (!received.has(tx)) received.set(tx, at);
      } catch {
        // not an alert
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook`;

  const raw = {
    sources: [{ name: 'bench', kind: 'postgres', url, identity: 'precise' }],
    store: { path: join(dir, 'store') },
    actors: [{ match: { agent: 'cleanup-bot' }, kind: 'ai-agent' }],
    alerts: { webhook: { url: hook, secret: 'bench-secret-0123456789' } },
    http: { port: 0 },
  };
  const cfg = parseConfig(raw, {});
  await postgresSetup(url, cfg.sources[0]!, { replicaIdentity: 'full' });
  const daemon = startDaemon(cfg, silentLogger);
  // wait until capture runs
  await c.query(`UPDATE t0 SET v = v WHERE id = 1`);
  while (!daemon.store.position('bench')) await new Promise((r) => setTimeout(r, 20));

  const committed = new Map<string, number>();
  for (let t = 0; t < N; t++) {
    await c.query('BEGIN');
    const { rows } = await c.query(`/*agent='cleanup-bot'*/ DELETE FROM t${t} WHERE id <= 100 RETURNING txid_current()::text AS xid`);
    await c.query('COMMIT');
    committed.set(rows[0].xid, Date.now());
    await new Promise((r) => setTimeout(r, GAP));
  }
  const deadline = Date.now() + 30_000;
  while (received.size < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const stored = new Map<string, number>();
  for (const row of daemon.store.db.prepare(`SELECT body, created_ms FROM alert_outbox`).all() as { body: string; created_ms: number }[]) {
    for (const tx of JSON.parse(row.body).txIds as string[]) stored.set(tx, row.created_ms);
  }
  await daemon.stop();
  http.close();
  await c.end();

  const lat = (m: Map<string, number>) =>
    [...committed].filter(([x]) => m.has(x)).map(([x, t]) => m.get(x)! - t).sort((a, b) => a - b);
  const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? Number.NaN;
  const line = (name: string, xs: number[]) =>
    `${name.padEnd(28)} n=${xs.length}  p50 ${q(xs, 50)} ms  p90 ${q(xs, 90)} ms  p99 ${q(xs, 99)} ms  max ${xs.at(-1)} ms`;
  process.stdout.write(`alert latency, ${N} incidents ${GAP} ms apart (default settings)\n`);
  process.stdout.write(`${line('commit → alert enqueued', lat(stored))}\n`);
  process.stdout.write(`${line('commit → webhook received', lat(received))}\n`);
  if (received.size < N) process.stdout.write(`MISSING: ${N - received.size} incidents without a webhook\n`);
} finally {
  await server.destroy();
  rmSync(dir, { recursive: true, force: true });
}
