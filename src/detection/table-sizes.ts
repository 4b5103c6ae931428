/**
 * Table sizes for the bulk-transaction detector, from each source's catalog statistics: PostgreSQL
 * `pg_class.reltuples` (the planner's estimate; `n_live_tup` where the table was never analyzed), MySQL and
 * MariaDB `information_schema.TABLES.TABLE_ROWS` (InnoDB's estimate). Estimates lag behind: the detector
 * only ever uses them as "the table held at least this many rows". Cached for five minutes per table; a
 * source that cannot be asked yields "unknown" (the absolute thresholds still apply), with one warning.
 */
import pg from 'pg';
import type { Config, SourceConfig } from '../config/index.js';
import { sourceUrl } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { close, connect, parseUrl, query } from '../sources/mysql/mysql-client.js';

const TTL_MS = 5 * 60_000;

export class TableSizes {
  private readonly cache = new Map<string, { rows: number | null; at: number }>();
  private readonly warned = new Set<string>();
  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
  ) {}

  /** The cached estimate (null where unknown or not fetched). */
  get(source: string, table: string): number | null {
    return this.cache.get(`${source}|${table}`)?.rows ?? null;
  }

  /** Fetches the estimates of tables not cached (or stale); never throws. */
  async prefetch(source: string, tables: string[]): Promise<void> {
    const now = Date.now();
    const need = [...new Set(tables)].filter((t) => {
      const c = this.cache.get(`${source}|${t}`);
      return !c || now - c.at > TTL_MS;
    });
    const src = this.cfg.sources.find((s) => s.name === source);
    if (!need.length || !src) return;
    try {
      const rows = src.kind === 'postgres' ? await pgSizes(src, need) : await mysqlSizes(src, need);
      for (const t of need) this.cache.set(`${source}|${t}`, { rows: rows.get(t) ?? null, at: now });
    } catch (e) {
      for (const t of need) this.cache.set(`${source}|${t}`, { rows: null, at: now });
      if (!this.warned.has(source)) {
        this.warned.add(source);
        this.log.warn({ source, err: (e as Error)?.message }, 'detectors: cannot read table sizes; bulk-transaction alerts use absolute row counts only');
      }
    }
  }
}

async function pgSizes(src: SourceConfig, tables: string[]): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: sourceUrl(src), application_name: 'rowtrail-meta', connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const res = await client.query<{ t: string; n: string }>(
      `SELECT n.nspname || '.' || c.relname AS t,
              (CASE WHEN c.reltuples > 0 THEN c.reltuples ELSE coalesce(s.n_live_tup, 0) END)::bigint AS n
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE n.nspname || '.' || c.relname = ANY($1)`,
      [tables],
    );
    return new Map(res.rows.map((r) => [r.t, Number(r.n)]));
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function mysqlSizes(src: SourceConfig, tables: string[]): Promise<Map<string, number>> {
  const conn = await connect(parseUrl(sourceUrl(src)));
  try {
    const rows = await query<{ t: string; n: number | string | null }>(
      conn,
      `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t, TABLE_ROWS AS n FROM information_schema.TABLES
        WHERE CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) IN (${tables.map(() => '?').join(',')})`,
      tables,
    );
    return new Map(rows.filter((r) => r.n !== null).map((r) => [r.t, Number(r.n)]));
  } finally {
    close(conn);
  }
}
