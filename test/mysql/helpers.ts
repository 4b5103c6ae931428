/** Shared test helpers for the MySQL source: run a MysqlSource against a fresh store, query the server. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { silentLogger, type Logger } from '../../src/log/index.js';
import { unknownResolver, type IdentityResolver, type TxFacts } from '../../src/identity/resolver.js';
import { Store } from '../../src/store/index.js';
import type { ChangeEvent } from '../../src/model/index.js';
import { MysqlSource, type MysqlSourceOptions } from '../../src/sources/mysql/index.js';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';

export interface Running {
  store: Store;
  source: MysqlSource;
  dir: string;
  /** Resolves when run() ends; rejects with its error. */
  done: Promise<void>;
  stop(): Promise<void>;
  changes(): ChangeEvent[];
  waitFor(pred: (events: ChangeEvent[]) => boolean, timeoutMs?: number): Promise<ChangeEvent[]>;
}

export function sourceConfig(url: string, extra: Record<string, unknown> = {}) {
  return configSchema.parse({ sources: [{ name: 'shop', kind: 'mysql', url, ...extra }] });
}

/** Starts a MysqlSource for `url` and waits until its binlog stream is up. */
export async function runSource(
  url: string,
  opts: MysqlSourceOptions & { dir?: string; extra?: Record<string, unknown>; storeOpts?: { synchronous?: 'FULL' | 'NORMAL' }; identity?: IdentityResolver; log?: Logger } = {},
): Promise<Running> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'rowtrail-mysql-test-'));
  const store = Store.open(dir, opts.storeOpts ?? { synchronous: 'NORMAL' });
  const root = sourceConfig(url, opts.extra);
  let streaming!: () => void;
  const up = new Promise<void>((r) => (streaming = r));
  const source = new MysqlSource(
    { config: root.sources[0], root, store, log: opts.log ?? silentLogger, identity: opts.identity ?? unknownResolver, url },
    {
      flushIntervalMs: 20,
      ...opts,
      onStreaming: (p) => {
        opts.onStreaming?.(p);
        streaming();
      },
    },
  );
  const ac = new AbortController();
  const done = source.run(ac.signal);
  await Promise.race([up, done.catch(() => undefined)]);
  const changes = () => [...store.changes({ source: 'shop' })];
  return {
    store,
    source,
    dir,
    done,
    async stop() {
      ac.abort();
      await done.catch(() => undefined);
      store.close();
    },
    changes,
    async waitFor(pred, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ev = changes();
        if (pred(ev)) return ev;
        if (Date.now() > deadline) throw new Error(`timed out waiting; have ${ev.length} changes, stats ${JSON.stringify(source.stats())}`);
        await Promise.race([new Promise((r) => setTimeout(r, 50)), done]);
      }
    },
  };
}

export async function client(m: MariaServer, db = 'test'): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1',
    port: m.port,
    user: 'root',
    database: db,
    charset: 'utf8mb4',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    multipleStatements: true,
  });
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The server's current GTID position (to start a source exactly here). */
export async function gtidPos(c: mysql.Connection): Promise<string> {
  const [rows] = await c.query('SELECT @@GLOBAL.gtid_binlog_pos AS p');
  return (rows as { p: string }[])[0].p;
}

/** An identity resolver that records what the source tells it. */
export function recordingResolver(): IdentityResolver & { seen: TxFacts[] } {
  const seen: TxFacts[] = [];
  return {
    seen,
    resolve: (f) => {
      seen.push(f);
      return { kind: 'unknown', confidence: 'unknown', method: 'none' };
    },
  };
}

/** A pino-compatible logger that keeps warnings and info lines (for one-line-reason assertions). */
export function recordingLogger(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  const l = Object.create(silentLogger) as Logger & { warnings: string[]; infos: string[] };
  l.warnings = warnings;
  l.infos = infos;
  const keep = (into: string[]) => (a: unknown, b?: string) => void into.push(typeof a === 'string' ? a : String(b));
  (l as unknown as { warn: (a: unknown, b?: string) => void }).warn = keep(warnings);
  (l as unknown as { info: (a: unknown, b?: string) => void }).info = keep(infos);
  return l;
}

/** One MariaDB server and a client connection for a test file (started before its tests, destroyed after). */
export function mariadbForFile(): { m: MariaServer; c: mysql.Connection } {
  const s = {} as { m: MariaServer; c: mysql.Connection };
  beforeAll(async () => {
    s.m = await startMariadb();
    s.c = await client(s.m);
  });
  afterAll(async () => {
    await s.c?.end().catch(() => undefined);
    await s.m?.destroy();
  });
  return s;
}
