/**
 * Precise mode per source. The objects of precise mode (schema rowtrail, its functions, the DDL event
 * triggers) are one set per database, but several sources may watch one database, each with its own tables.
 * `rowtrail.precise_sources` records which source asked for which tables, so that setup installs the union,
 * and `setup --uninstall` of one source removes only the triggers no other source still needs (before this,
 * uninstalling one source silently left the other's changes `unknown`). The shared objects go with the last
 * source.
 */
import { SCHEMA, TRIGGER_NAME, preciseStatus, preciseUninstallSql, quoteTable, type SqlClient } from './postgres-precise.js';

const q = (s: string): string => "'" + s.replace(/'/g, "''") + "'";
const REGISTRY = `${SCHEMA}.precise_sources`;

/**
 * When precise mode was installed for `source` (ms), or null. Read from the registry's comment (catalog rows
 * any role may read), so a capture role without access to schema rowtrail gets it too.
 */
export async function preciseSince(client: SqlClient, source: string): Promise<number | null> {
  const r = await client.query(
    `SELECT pg_catalog.obj_description(c.oid, 'pg_class') AS d FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'precise_sources'`,
    [SCHEMA],
  );
  try {
    const at = (JSON.parse(r.rows[0]?.d ?? '{}') as Record<string, string>)[source];
    return at ? Date.parse(at) : null;
  } catch {
    return null; // a comment someone else wrote
  }
}

/** Tables per registered source (null = every table). Empty when nothing is registered (or an older install). */
export async function preciseSources(client: SqlClient): Promise<Map<string, string[] | null>> {
  const exists = await client.query(`SELECT pg_catalog.to_regclass($1) IS NOT NULL AS e`, [REGISTRY]);
  if (!exists.rows[0]?.e) return new Map();
  const r = await client.query(`SELECT source, all_tables, tables FROM ${REGISTRY} ORDER BY source`);
  return new Map(r.rows.map((x: { source: string; all_tables: boolean; tables: string[] }) => [x.source, x.all_tables ? null : x.tables]));
}

/** The union of table lists (null, every table, wins). */
export function unionTables(lists: Iterable<readonly string[] | null>): string[] | null {
  const out = new Set<string>();
  for (const l of lists) {
    if (l === null) return null;
    for (const t of l) out.add(t);
  }
  return [...out].sort();
}

/** What to install for `source`: its own tables plus those the other registered sources need. */
export async function preciseTablesFor(client: SqlClient, source: string, tables: readonly string[] | null): Promise<string[] | null> {
  const reg = await preciseSources(client);
  reg.delete(source);
  return unionTables([...reg.values(), tables]);
}

/** Why a comment: schema rowtrail is closed to PUBLIC, but pg_description is not; the capture role's doctor reads it. */
const COMMENT_SINCE = `DO $c$ BEGIN EXECUTE pg_catalog.format('COMMENT ON TABLE ${REGISTRY} IS %L',
  (SELECT pg_catalog.json_object_agg(source, installed_at)::text FROM ${REGISTRY})); END $c$`;

/**
 * First statement of the registry's transaction: the DDL event triggers stay quiet for rowtrail's own
 * bookkeeping (else setup puts DDL events on rowtrail.precise_sources into the user's change stream). Event
 * triggers do not fire under session_replication_role=replica, which only a superuser may set; without
 * superuser there are no event triggers to quiet (installing them needs one too).
 */
const QUIET = `DO $q$ BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
    SET LOCAL session_replication_role = replica;
  END IF;
END $q$`;

/** Statements that record `source`'s tables, for one transaction (run after the install created schema rowtrail). */
export function preciseRegisterStatements(source: string, tables: readonly string[] | null): string[] {
  return [
    QUIET,
    // installed_at: doctor reports the attribution rate since precise mode is in force, not the sampling before.
    `CREATE TABLE IF NOT EXISTS ${REGISTRY} (source text PRIMARY KEY, all_tables boolean NOT NULL, tables text[] NOT NULL,
  installed_at timestamptz NOT NULL DEFAULT pg_catalog.now())`,
    `REVOKE ALL ON ${REGISTRY} FROM PUBLIC`,
    `INSERT INTO ${REGISTRY} (source, all_tables, tables) VALUES (${q(source)}, ${tables === null}, ARRAY[${(tables ?? []).map(q).join(', ')}]::text[])
ON CONFLICT (source) DO UPDATE SET all_tables = EXCLUDED.all_tables, tables = EXCLUDED.tables`,
    COMMENT_SINCE,
  ];
}

export interface ScopedUninstall {
  /** Statements to run, in order (one transaction). */
  statements: string[];
  /** Whether the shared objects go too (no other source needs precise mode). */
  full: boolean;
  /** Tables whose trigger is dropped. */
  dropped: string[];
  /** Other sources that keep precise mode. */
  kept: string[];
}

/**
 * What uninstalling precise mode for `source` (watching `tables`, null = all) must run. Without a registry
 * (an install older than it) the triggers on tables outside this source's list are left alone too.
 */
export async function preciseUninstallFor(
  client: SqlClient,
  source: string,
  tables: readonly string[] | null,
): Promise<ScopedUninstall | null> {
  const st = await preciseStatus(client);
  if (st.version === null) return null;
  const reg = await preciseSources(client);
  reg.delete(source);
  const mine = tables === null ? null : new Set(tables);
  const foreignTriggers = st.tables.filter((t) => mine !== null && !mine.has(t));
  if (reg.size === 0 && foreignTriggers.length === 0) {
    return { statements: [preciseUninstallSql()], full: true, dropped: st.tables, kept: [] };
  }
  // Keep what other sources registered; without a registry, keep every trigger this source did not ask for.
  const keep = reg.size ? unionTables(reg.values()) : foreignTriggers;
  const keepSet = keep === null ? null : new Set(keep);
  const dropped = st.tables.filter((t) => (mine === null || mine.has(t)) && keepSet !== null && !keepSet.has(t));
  const statements = [QUIET, ...dropped.map((t) => `DROP TRIGGER IF EXISTS ${TRIGGER_NAME} ON ${quoteTable(t)}`)];
  statements.push(
    `UPDATE ${SCHEMA}.precise_config SET all_tables = ${keep === null}, tables = ARRAY[${(keep ?? []).map(q).join(', ')}]::text[] WHERE id = 1`,
  );
  if (reg.size) statements.push(`DELETE FROM ${REGISTRY} WHERE source = ${q(source)}`, COMMENT_SINCE);
  return { statements, full: false, dropped, kept: [...reg.keys()] };
}

/** Runs a scoped uninstall in one transaction. */
export async function runInTransaction(client: SqlClient, statements: string[]): Promise<void> {
  await client.query('BEGIN');
  try {
    for (const s of statements) await client.query(s);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
