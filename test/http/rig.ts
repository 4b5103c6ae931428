/**
 * A real daemon with its HTTP face, for the API and browser tests: a fresh database on the shared
 * PostgreSQL (precise identity), the daemon in-process (sources, identity, detectors on a real store) and
 * the HTTP server on a free port with a known token.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedPg } from '../harness/shared.js';
import { setupSource, sql } from '../postgres/capture-helpers.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log/index.js';
import { assessHealth, startHttp, type HttpServer } from '../../src/http/index.js';

export const TOKEN = 'web-test-token-0123456789abcdef';

export interface WebRig {
  url: string;
  /** The database URL. */
  db: string;
  dir: string;
  cfg: Config;
  daemon: Daemon;
  http: HttpServer;
  /** Runs SQL in one transaction; remembers its xid for `settled()`. */
  sql(text: string): Promise<unknown>;
  /** GET with the token (or `token: null` for none); the parsed JSON body. */
  get(path: string, opts?: { token?: string | null }): Promise<{ status: number; body: any; headers: Headers }>;
  /** Waits until the last transaction `sql()` ran is in the store and seen by the detectors. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWebRig(prefix: string, schema: string): Promise<WebRig> {
  const pg = sharedPg();
  const name = await pg.freshDatabase(prefix);
  const db = pg.url(name);
  await sql(db, schema);
  const src = await setupSource(db, { identity: 'precise' });
  const dir = mkdtempSync(join(tmpdir(), `rowtrail-${prefix}-`));
  const raw = {
    sources: [{ name: src.name, kind: 'postgres', url: db, slot: src.slot, publication: src.publication, identity: 'precise' }],
    store: { path: join(dir, 'store') },
    actors: [{ match: { agent: 'deploy-bot' }, kind: 'ai-agent' }],
    http: { host: '127.0.0.1', port: 0, token: TOKEN },
  };
  const cfg = parseConfig(raw, {});
  const daemon = startDaemon(cfg, silentLogger);
  const http = await startHttp({
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    config: cfg,
    storeDir: cfg.store.path,
    metrics: () => daemon.health().map((h, i) => ({ ...h, stats: daemon.sources[i].stats(), identity: daemon.identities[i].stats() })),
    health: () => assessHealth(daemon.health(), Date.now()),
  });
  let lastXid: string | null = null;
  const rig: WebRig = {
    url: http.url,
    db,
    dir,
    cfg,
    daemon,
    http,
    async sql(text) {
      // One simple query runs its statements in one transaction: the xid is that of the writes.
      const res = (await sql(db, `${text}; SELECT pg_current_xact_id()::text AS xid`)) as unknown as { rows: { xid?: string }[] }[];
      lastXid = res[res.length - 1].rows[0].xid!;
      return res;
    },
    async get(path, opts = {}) {
      const token = opts.token === undefined ? TOKEN : opts.token;
      const res = await fetch(`${http.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body, headers: res.headers };
    },
    async settled() {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const stored = lastXid === null || [...daemon.store.changes({ txIds: [lastXid], limit: 1 })].length > 0;
        if (stored && daemon.detection.stats().lastSeq >= daemon.store.latestSeq()) return;
        if (Date.now() > deadline) throw new Error(`transaction ${lastXid} did not reach the store`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await http.close();
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}
