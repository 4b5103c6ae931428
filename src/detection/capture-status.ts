/**
 * The capture-health detector's I/O edge: one `HealthSample` per source, from the source's own health (lag,
 * no I/O) and from facts read off the database every few minutes in the background: PostgreSQL, the slot's
 * retained WAL (`slotWal`) and the replica identity of the watched tables (`watchedTables`); MySQL / MariaDB,
 * the binlog retention and binlog_row_image. `sample()` never waits for the database: it returns what is
 * known (null until the first read), so detection is never held up by a slow server, and never throws.
 */
import pg from 'pg';
import type { Config, SourceConfig } from '../config/index.js';
import { sourceUrl } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { SourceHealth } from '../sources/source.js';
import { slotName, slotWal, watchedTables } from '../sources/postgres/index.js';
import { close, connect, parseUrl, serverFacts } from '../sources/mysql/mysql-client.js';
import { binlogRetentionSeconds } from '../sources/mysql/mysql-settings.js';
import type { HealthSample } from '../../detectors/index.js';

/** How often the database facts are re-read (ms). */
export const CATALOG_REFRESH_MS = 5 * 60_000;

type Facts = Pick<HealthSample, 'retainedBytes' | 'safeBytes' | 'walStatus' | 'retentionSeconds' | 'irreversible'>;

const UNKNOWN: Facts = { retainedBytes: null, safeBytes: null, walStatus: null, retentionSeconds: null, irreversible: null };

const IDENTITY: Record<string, string> = {
  d: 'REPLICA IDENTITY DEFAULT',
  i: 'REPLICA IDENTITY USING INDEX',
  n: 'REPLICA IDENTITY NOTHING',
};

export class CaptureStatus {
  private readonly facts = new Map<string, { facts: Facts; at: number }>();
  private readonly warned = new Set<string>();
  private refreshing: Promise<void> | null = null;
  private lastRefresh = -Infinity;

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
    /** Each source's live health (the daemon's `health()`), null where the source cannot say. */
    private readonly health: () => { name: string; health: SourceHealth | null }[],
    private readonly refreshMs = CATALOG_REFRESH_MS,
  ) {}

  /** One sample per configured source; starts a background refresh of the database facts when they are stale. */
  sample(now = Date.now()): HealthSample[] {
    if (!this.refreshing && now - this.lastRefresh >= this.refreshMs) void this.refresh();
    const live = new Map(this.health().map((h) => [h.name, h.health]));
    return this.cfg.sources.map((src) => {
      const h = live.get(src.name) ?? null;
      const f = this.facts.get(src.name)?.facts ?? UNKNOWN;
      // The retained WAL the source itself polls every few seconds (the metric's) is fresher than this read.
      const retainedBytes = h?.retainedBytes ?? f.retainedBytes;
      return { source: src.name, kind: src.kind, at: now, lagSeconds: h?.lagSeconds ?? null, lagBytes: h?.lagBytes ?? null, ...f, retainedBytes };
    });
  }

  /** Re-reads every source's facts (a source that cannot be read keeps null facts, with one warning). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      this.lastRefresh = Date.now();
      for (const src of this.cfg.sources) {
        try {
          const facts = src.kind === 'postgres' ? await pgFacts(src) : await mysqlFacts(src);
          this.facts.set(src.name, { facts, at: Date.now() });
        } catch (e) {
          this.facts.delete(src.name);
          const msg = (e as Error)?.message ?? String(e);
          if (!this.warned.has(`${src.name}|${msg}`)) {
            this.warned.add(`${src.name}|${msg}`);
            this.log.warn({ source: src.name, err: msg }, 'capture-health: cannot read retention and replica identity; these checks wait');
          }
        }
      }
    })().finally(() => (this.refreshing = null));
    return this.refreshing;
  }
}

async function pgFacts(src: SourceConfig): Promise<Facts> {
  const client = new pg.Client({ connectionString: sourceUrl(src), application_name: 'rowtrail-meta', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const wal = await slotWal(client, slotName(src));
    const { found } = await watchedTables(client, src.tables);
    const irreversible = found
      .filter((t) => t.replicaIdentity !== 'f')
      .map((t) => ({ table: `${t.schema}.${t.table}`, reason: IDENTITY[t.replicaIdentity] + (t.hasPrimaryKey ? '' : ', no primary key') }));
    return { ...UNKNOWN, ...(wal ?? {}), irreversible };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function mysqlFacts(src: SourceConfig): Promise<Facts> {
  const conn = await connect(parseUrl(sourceUrl(src)));
  try {
    const image = (await serverFacts(conn)).rowImage;
    const irreversible = image === 'FULL' ? [] : [{ table: '*', reason: `binlog_row_image is ${image || 'unknown'}` }];
    return { ...UNKNOWN, retentionSeconds: await binlogRetentionSeconds(conn), irreversible };
  } finally {
    close(conn);
  }
}
