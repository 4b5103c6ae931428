/** Runs a PostgresSource in-process against a test database and waits for what it stored. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseConfig } from '../../src/config/index.js';
import { Store } from '../../src/store/index.js';
import { PostgresSource, postgresSetup, compareLsn, type PostgresSourceOptions } from '../../src/sources/postgres/index.js';
import { silentLogger, createLogger } from '../../src/log/index.js';
import { unknownResolver, type IdentityResolver } from '../../src/identity/resolver.js';
import type { SourceConfig } from '../../src/config/index.js';

export interface Capture {
  store: Store;
  source: PostgresSource;
  cfg: SourceConfig;
  storeDir: string;
  /** Waits until everything committed on the server so far is durable in the store. */
  caughtUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  /** Stops and removes the store. */
  destroy(): Promise<void>;
  /** Set when the source failed (rejected run). */
  error: unknown;
}

export async function currentLsn(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l;
  } finally {
    await c.end();
  }
}

/** Every value as the server's text output (what psql shows), never parsed by pg-types. */
const rawTypes = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

export async function sql(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url, types: rawTypes });
  await c.connect();
  try {
    return await c.query(text, params);
  } finally {
    await c.end();
  }
}

/**
 * A source config for a test database. Slots are cluster-wide and test files share one server, so the slot
 * and publication are named after the database.
 */
export function sourceConfig(url: string, extra: Partial<SourceConfig> = {}): SourceConfig {
  const db = new URL(url).pathname.slice(1).replace(/[^a-z0-9_]/g, '_');
  return parseConfig({ sources: [{ name: 'pg', kind: 'postgres', url, slot: `s_${db}`, publication: `p_${db}`, ...extra }] }, {}).sources[0];
}

/** Runs setup (publication + slot) for the source. */
export async function setupSource(url: string, extra: Partial<SourceConfig> = {}, replicaIdentityFull = true): Promise<SourceConfig> {
  const cfg = sourceConfig(url, extra);
  // The progress `rowtrail setup` draws on a terminal: each step announced once, in order, with the total.
  const steps: string[] = [];
  const onStep = (done: number, total: number, note: string) => steps.push(`${done + 1}/${total} ${note}`);
  const res = await postgresSetup(url, cfg, { ...(replicaIdentityFull ? { replicaIdentity: 'full' } : {}), onStep });
  const announced = steps.map((s) => s.slice(s.indexOf(' ') + 1));
  if (steps.some((s, i) => !s.startsWith(`${i + 1}/${steps.length} `)) || announced.some((n) => !res.notes.includes(n))) {
    throw new Error(`setup progress out of step with what it did: ${JSON.stringify({ steps, notes: res.notes })}`);
  }
  return cfg;
}

export function startCapture(url: string, cfg: SourceConfig, opts: { storeDir?: string; identity?: IdentityResolver; source?: PostgresSourceOptions } = {}): Capture {
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'rowtrail-store-'));
  const store = Store.open(storeDir, { synchronous: 'NORMAL' });
  const root = parseConfig({ sources: [{ name: cfg.name, kind: 'postgres', url }] }, {});
  const source = new PostgresSource({ config: cfg, root, store, log: process.env.ROWTRAIL_TEST_LOG ? createLogger({ pretty: false }) : silentLogger, identity: opts.identity ?? unknownResolver, url }, opts.source);
  const ac = new AbortController();
  const cap: Capture = {
    store,
    source,
    cfg,
    storeDir,
    error: undefined,
    async caughtUp(timeoutMs = 30_000) {
      const target = await currentLsn(url);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (cap.error) throw cap.error;
        const pos = store.position(cfg.name);
        if (pos && compareLsn(pos, target) >= 0) return;
        if (Date.now() > deadline) throw new Error(`capture did not reach ${target} (at ${pos})`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      ac.abort();
      await running;
    },
    async destroy() {
      await cap.stop();
      store.close();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  const running = source.run(ac.signal).catch((e) => {
    cap.error = e;
  });
  return cap;
}
