/** Catalog reads shared by doctor, setup and the stream (I/O edge; one query each). */
import type pg from 'pg';
import { TRIGGER_NAME } from '../../model/precise.js';

export interface WatchedTable {
  schema: string;
  table: string;
  /** `d` default, `n` nothing, `f` full, `i` index. */
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  hasPrimaryKey: boolean;
  owner: string;
  /** Whether the connected role owns the table (or is superuser). */
  canAlter: boolean;
}

/** The tables to watch: the configured list (missing ones reported), or every user table (not rowtrail's own schema). */
export async function watchedTables(client: pg.Client, tables: string[] | undefined): Promise<{ found: WatchedTable[]; missing: string[] }> {
  const r = await client.query(
    `SELECT n.nspname AS schema, c.relname AS "table", c.relreplident AS ri,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS pk,
            pg_get_userbyid(c.relowner) AS owner,
            pg_has_role(c.relowner, 'USAGE') AS can_alter
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'rowtrail') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1, 2`,
  );
  const all: WatchedTable[] = r.rows.map((x: any) => ({
    schema: x.schema,
    table: x.table,
    replicaIdentity: x.ri,
    hasPrimaryKey: x.pk,
    owner: x.owner,
    canAlter: x.can_alter,
  }));
  if (!tables) return { found: all, missing: [] };
  const byName = new Map(all.map((t) => [`${t.schema}.${t.table}`, t]));
  const found: WatchedTable[] = [];
  const missing: string[] = [];
  for (const name of tables) {
    const t = byName.get(name);
    if (t) found.push(t);
    else missing.push(name);
  }
  return { found, missing };
}

/** Primary key columns (in key order) by table oid: of every table, or of one (`relid`). */
export async function primaryKeys(client: pg.Client, relid: number | null = null): Promise<Map<number, string[]>> {
  const r = await client.query(
    `SELECT i.indrelid::int AS relid, array_agg(a.attname::text ORDER BY k.ord) AS cols
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indisprimary AND ($1::oid IS NULL OR i.indrelid = $1::oid)
      GROUP BY i.indrelid`,
    [relid],
  );
  return new Map(r.rows.map((x: { relid: number; cols: string[] }) => [x.relid, x.cols]));
}

/**
 * Oids of the tables whose precise-identity statement trigger (identity/postgres-precise.ts) fires for
 * ordinary sessions (enabled, not disabled nor replica-only).
 */
export async function preciseTriggerTables(client: pg.Client): Promise<Set<number>> {
  const r = await client.query(`SELECT tgrelid::int AS relid FROM pg_catalog.pg_trigger WHERE tgname = $1 AND tgenabled IN ('O', 'A')`, [TRIGGER_NAME]);
  return new Set(r.rows.map((x: { relid: number }) => x.relid));
}

/** `schema.table` of every table a publication lists. */
export async function publicationTables(client: pg.Client, publication: string): Promise<Set<string>> {
  const r = await client.query(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1`, [publication]);
  return new Set(r.rows.map((x: { t: string }) => x.t));
}

export function qualified(t: { schema: string; table: string }): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
}

/** A double-quoted SQL identifier. */
export function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/**
 * The server's newest WAL position as SQL: on a standby (PostgreSQL 16+ decodes there) pg_current_wal_lsn()
 * raises an error, so the position replayed so far.
 */
export const SERVER_LSN_SQL = 'CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END';

/** The WAL a replication slot holds back, and how close the server is to removing what it still needs. */
export interface SlotWal {
  /** The server's position (SERVER_LSN_SQL) minus the slot's restart_lsn: WAL kept for the slot (bytes). */
  retainedBytes: number | null;
  /** safe_wal_size (PostgreSQL 13+): WAL that may still be written before the slot loses what it needs; null: no limit. */
  safeBytes: number | null;
  /** wal_status (PostgreSQL 13+): reserved, extended, unreserved or lost. */
  walStatus: string | null;
}

/** The slot's retained WAL; null when the slot does not exist. Columns PostgreSQL 12 lacks read as null. */
export async function slotWal(client: pg.Client, slot: string): Promise<SlotWal | null> {
  const r = await client.query(
    `SELECT pg_wal_lsn_diff(${SERVER_LSN_SQL}, s.restart_lsn)::text AS retained,
            to_jsonb(s) ->> 'safe_wal_size' AS safe, to_jsonb(s) ->> 'wal_status' AS status
       FROM pg_replication_slots s WHERE s.slot_name = $1`,
    [slot],
  );
  const x = r.rows[0] as { retained: string | null; safe: string | null; status: string | null } | undefined;
  if (!x) return null;
  const n = (v: string | null) => (v === null ? null : Number(v));
  return { retainedBytes: n(x.retained), safeBytes: n(x.safe), walStatus: x.status };
}
