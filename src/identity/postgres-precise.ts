/**
 * PostgreSQL precise mode: the objects `rowtrail setup` installs so that every transaction that writes a
 * watched table (or runs DDL) carries one transactional logical message with its session facts
 * (format: ./message.ts).
 *
 * - `rowtrail.capture_session()`: a BEFORE … FOR EACH STATEMENT trigger on each watched table (INSERT,
 *   UPDATE, DELETE, TRUNCATE), no WHEN clause: PostgreSQL 15 deserializes and initializes a trigger's WHEN
 *   expression on every statement (measured: dearer than calling the function). The function's first
 *   statement checks the transaction-local marker `rowtrail.tx`; only the first watched write of a
 *   transaction sets it and emits (see triggerBody). The marker reverts at commit and at ROLLBACK TO
 *   SAVEPOINT, together with the message that savepoint discards, so a transaction whose emitting
 *   subtransaction rolled back emits again. BEFORE, not AFTER: no after-trigger queue entry. Costs and
 *   variants measured: bench/RESULTS.md (identity-overhead).
 *   With `native`, the same function name is a C function from native/postgres (same message, no GUC
 *   marker: once per transaction is kept in the backend; a fraction of the cost).
 * - `rowtrail.session_start()`: backend start, read once per session (session GUC `rowtrail.session`).
 * - `rowtrail.capture_ddl()` / `rowtrail.capture_drop()`: event triggers (ddl_command_end, sql_drop) that emit
 *   the session message and one `rowtrail.ddl` message per object, and put the statement trigger on tables
 *   created later that are watched.
 * - SECURITY DEFINER, because setup revokes EXECUTE on pg_logical_emit_message from PUBLIC (otherwise any
 *   role could emit a forged `rowtrail` message in its own transaction). No `SET search_path` clause (on
 *   PostgreSQL 15 a function SET clause costs a pass over all GUCs at every call): every name is
 *   schema-qualified and every operator written OPERATOR(pg_catalog.…), so a hostile search_path cannot
 *   hijack the definer's rights. Inside the definer, current_user is the owner: the caller's SET ROLE is read
 *   from the `role` GUC instead.
 * - Nothing that can fail: no EXCEPTION block (a subtransaction per call), no table access on the hot path.
 *   The statement trigger does not test wal_level (a GUC lookup on every transaction's path): below logical
 *   the message is written and never read; `setup` and `doctor` warn about that wal_level.
 * - Versioned: functions carry `COMMENT 'rowtrail precise vN'`; install first removes every trigger and event
 *   trigger whose function lives in schema rowtrail (any version), then creates this version. Idempotent.
 */

import { RowtrailError } from '../errors.js';
import { TRIGGER_NAME, PRECISE_SCHEMA as SCHEMA } from '../model/precise.js';

/** v4: DDL messages carry the table's primary key (model/precise.ts). */
export const PRECISE_VERSION = 4;
export { TRIGGER_NAME, SCHEMA };

/** Minimal client: `pg.Client`/`pg.PoolClient` fit. */
export interface SqlClient {
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

export interface PreciseOptions {
  /** Longest statement text copied into a message (characters); the agent context lives in its comment. */
  maxQueryChars?: number;
  /** Revoke EXECUTE on pg_logical_emit_message from PUBLIC (default true; needs superuser). */
  revokePublicEmit?: boolean;
  /** Install the DDL event triggers (default true; needs superuser). */
  ddl?: boolean;
  /**
   * Use the C statement trigger from native/postgres (`rowtrail_native` library, installed on the server)
   * instead of the PL/pgSQL one: same message, a fraction of the cost (bench/RESULTS.md). Needs superuser.
   */
  native?: boolean;
}

/** The C library and symbol of the native statement trigger (native/postgres/rowtrail_native.c). */
export const NATIVE_LIBRARY = 'rowtrail_native';

const q = (s: string): string => "'" + s.replace(/'/g, "''") + "'";
const ident = (s: string): string => '"' + s.replace(/"/g, '""') + '"';

/** `schema.table` → quoted `"schema"."table"`. */
export function quoteTable(t: string): string {
  const dot = t.indexOf('.');
  return `${ident(t.slice(0, dot))}.${ident(t.slice(dot + 1))}`;
}

/** What the session message carries in its backend_start and query slots (see sessionMessage). */
interface MessageParts {
  /** SQL for backend_start: `rowtrail.session_start()`, a CASE around it, or `NULL`. */
  start: string;
  /** SQL for the query slot: `NULL`, or current_query() cut to the context limit. */
  query: string;
}

const START_ONCE = `CASE WHEN pg_catalog.current_setting('rowtrail.session', true) IS DISTINCT FROM '1' THEN rowtrail.session_start() END`;
const HAS_COMMENT = `pg_catalog.strpos(pg_catalog.current_query(), '/*') OPERATOR(pg_catalog.<>) 0`;
const queryCut = (maxQuery: number) => `pg_catalog.left(pg_catalog.current_query(), ${maxQuery})`;

/**
 * SQL expression: sets the transaction-local marker `rowtrail.tx` and emits the session message (format:
 * ./message.ts). set_config() returns the value it set, which serves as the message prefix: a function's
 * arguments are evaluated before it runs, so the marker is set by the same expression that emits. Always NULL
 * (of type record, so a trigger function may RETURN it).
 *
 * The marker reverts at commit, and at ROLLBACK TO SAVEPOINT together with the message that savepoint
 * discards, so a transaction whose emitting subtransaction rolled back emits again.
 */
function sessionMessage(p: MessageParts): string {
  return `CASE WHEN pg_catalog.pg_logical_emit_message(true, pg_catalog.set_config('rowtrail.tx', 'rowtrail', true), pg_catalog.json_build_array(1,
      pg_catalog.pg_backend_pid(), ${p.start},
      SESSION_USER, pg_catalog.current_setting('role'), pg_catalog.current_setting('application_name'),
      pg_catalog.inet_client_addr(), pg_catalog.current_setting('rowtrail.actor', true), ${p.query})::pg_catalog.text) IS NULL
    THEN NULL::pg_catalog.record END`;
}

/** The message with every check inside: backend_start once per session, the statement only with a comment. */
const fullMessage = (maxQuery: number): string =>
  sessionMessage({ start: START_ONCE, query: `CASE WHEN ${HAS_COMMENT} THEN ${queryCut(maxQuery)} END` });

/**
 * The statement trigger's body. PostgreSQL re-initializes every PL/pgSQL expression a function evaluates
 * once per transaction, per trigger (each table's trigger has its own compiled copy), and the cost grows with
 * the expression's size, untaken CASE branches included. So the body is a chain of small tests, each
 * followed by its own RETURN: a statement evaluates only the expressions on its path.
 *
 * - Second and later watched statements of a transaction: one GUC test (`rowtrail.tx`), then RETURN NULL.
 * - The first: the message, in the variant this session needs, so no unused branch is initialized:
 *   `backend_start` only in a session's first message (rowtrail.session_start() reads it once from
 *   pg_stat_get_activity and sets the session GUC `rowtrail.session`); current_query() copied only when it
 *   holds a comment (the agent context). Plain statements are not copied into the WAL.
 *
 * Measured (bench/RESULTS.md, instructions added per transaction under callgrind, PostgreSQL 15): v2's
 * one-expression body +62.6k on a single-row insert and +174.7k on tpcb-like (four watched tables); this
 * chain +56.2k and +104.5k.
 */
function triggerBody(maxQuery: number): string {
  return `BEGIN
  -- this transaction already carries its message
  IF pg_catalog.current_setting('rowtrail.tx', true) OPERATOR(pg_catalog.=) 'rowtrail' THEN RETURN NULL; END IF;
  -- the usual case: backend_start already sent in this session, no comment in the statement
  IF pg_catalog.current_setting('rowtrail.session', true) OPERATOR(pg_catalog.=) '1' AND NOT ${HAS_COMMENT} THEN
    RETURN ${sessionMessage({ start: 'NULL', query: 'NULL' })};
  END IF;
  RETURN ${fullMessage(maxQuery)};
END`;
}

/**
 * For the DDL event triggers (rare, so one expression): the session message unless this transaction already
 * carries one, and only at wal_level=logical.
 */
function sessionOnce(maxQuery: number): string {
  return `CASE WHEN pg_catalog.current_setting('rowtrail.tx', true) IS DISTINCT FROM 'rowtrail'
    AND pg_catalog.current_setting('wal_level') OPERATOR(pg_catalog.=) 'logical' THEN
    ${fullMessage(maxQuery)} END`;
}

function triggerSql(table: string): string {
  return (
    `CREATE OR REPLACE TRIGGER ${TRIGGER_NAME} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table} ` +
    'FOR EACH STATEMENT EXECUTE FUNCTION rowtrail.capture_session();'
  );
}

/** Removes every rowtrail trigger, event trigger and function (any version). */
const CLEANUP = `
DO $cleanup$
DECLARE r record;
BEGIN
  FOR r IN SELECT t.tgname, t.tgrelid::pg_catalog.regclass AS rel FROM pg_catalog.pg_trigger t
      JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) t.tgfoid
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
      WHERE n.nspname OPERATOR(pg_catalog.=) '${SCHEMA}' AND NOT t.tgisinternal LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', r.tgname, r.rel);
  END LOOP;
  FOR r IN SELECT e.evtname FROM pg_catalog.pg_event_trigger e
      JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) e.evtfoid
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
      WHERE n.nspname OPERATOR(pg_catalog.=) '${SCHEMA}' LOOP
    EXECUTE pg_catalog.format('DROP EVENT TRIGGER %I', r.evtname);
  END LOOP;
  FOR r IN SELECT p.oid::pg_catalog.regprocedure AS f FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
      WHERE n.nspname OPERATOR(pg_catalog.=) '${SCHEMA}' LOOP
    EXECUTE pg_catalog.format('DROP FUNCTION %s', r.f);
  END LOOP;
END $cleanup$;`;

/**
 * The install script. `tables`: `schema.table` names, or null for every user table (and every table created
 * later). Run it in one transaction (installPrecise does).
 */
export function preciseInstallSql(tables: readonly string[] | null, opts: PreciseOptions = {}): string {
  return preciseInstallStatements(tables, opts).map((s) => s + ';').join('\n\n') + '\n';
}

/** The install script as statements without their final `;` (what `rowtrail setup --dry-run` prints). */
export function preciseInstallStatements(tables: readonly string[] | null, opts: PreciseOptions = {}): string[] {
  const maxQuery = Math.max(64, Math.min(65536, Math.floor(opts.maxQueryChars ?? 2048)));
  const ddl = opts.ddl ?? true;
  const revoke = opts.revokePublicEmit ?? true;
  const parts: string[] = [];
  parts.push(`-- rowtrail precise identity v${PRECISE_VERSION}\n${CLEANUP.trim()}`);
  parts.push(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA};`);
  parts.push(`REVOKE ALL ON SCHEMA ${SCHEMA} FROM PUBLIC;`);
  parts.push(`CREATE TABLE IF NOT EXISTS rowtrail.precise_config (
  id int PRIMARY KEY CHECK (id = 1),
  version int NOT NULL,
  all_tables boolean NOT NULL,
  tables text[] NOT NULL,
  revoked_emit boolean NOT NULL DEFAULT false
);`);
  parts.push(`REVOKE ALL ON rowtrail.precise_config FROM PUBLIC;`);
  parts.push(`INSERT INTO rowtrail.precise_config (id, version, all_tables, tables, revoked_emit)
VALUES (1, ${PRECISE_VERSION}, ${tables === null}, ARRAY[${(tables ?? []).map(q).join(', ')}]::text[],
  COALESCE((SELECT revoked_emit FROM rowtrail.precise_config WHERE id = 1), false))
ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, all_tables = EXCLUDED.all_tables, tables = EXCLUDED.tables;`);
  parts.push(`CREATE FUNCTION rowtrail.session_start() RETURNS pg_catalog.timestamptz LANGUAGE plpgsql AS $fn$
DECLARE st pg_catalog.timestamptz;
BEGIN
  -- once per session: pg_stat_get_activity copies every backend entry; the session GUC remembers it was sent
  SELECT a.backend_start INTO st FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) a;
  PERFORM pg_catalog.set_config('rowtrail.session', '1', false);
  RETURN st;
END $fn$;`);
  parts.push(`COMMENT ON FUNCTION rowtrail.session_start() IS 'rowtrail precise v${PRECISE_VERSION}';`);
  parts.push(
    opts.native
      ? // no SECURITY DEFINER needed: C calls LogLogicalMessage directly, without pg_logical_emit_message's EXECUTE check
        `CREATE FUNCTION rowtrail.capture_session() RETURNS trigger LANGUAGE c AS '${NATIVE_LIBRARY}', 'rowtrail_capture_session';`
      : `CREATE FUNCTION rowtrail.capture_session() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $fn$
${triggerBody(maxQuery)} $fn$;`,
  );
  parts.push(`COMMENT ON FUNCTION rowtrail.capture_session() IS 'rowtrail precise v${PRECISE_VERSION}';`);
  if (tables === null) {
    parts.push(`DO $all$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::pg_catalog.regclass AS rel FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '${SCHEMA}')
        AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' LOOP
    EXECUTE pg_catalog.format('${triggerSql('%s').replace(/'/g, "''")}', r.rel);
  END LOOP;
END $all$;`);
  } else {
    // A listed table that does not exist yet gets its trigger from the DDL event trigger when it is created.
    for (const t of tables) {
      parts.push(`DO $t$ BEGIN IF pg_catalog.to_regclass(${q(quoteTable(t))}) IS NOT NULL THEN ${triggerSql(quoteTable(t))} END IF; END $t$`);
    }
  }
  if (ddl) {
    // Event triggers: the session message once per transaction, as the statement trigger does.
    const ddlPrologue = `  PERFORM ${sessionOnce(maxQuery)};
  IF pg_catalog.current_setting('wal_level') OPERATOR(pg_catalog.<>) 'logical' THEN RETURN; END IF;`;
    parts.push(`CREATE FUNCTION rowtrail.capture_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
  r record;
  cfg record;
  rel pg_catalog.text;
  is_table boolean;
  stmt pg_catalog.text := pg_catalog.current_query();
BEGIN
${ddlPrologue}
  -- guarded: DDL must not fail because someone dropped the config (or uninstall is running)
  IF pg_catalog.to_regclass('rowtrail.precise_config') IS NOT NULL THEN
    SELECT c.all_tables, c.tables INTO cfg FROM rowtrail.precise_config c WHERE c.id OPERATOR(pg_catalog.=) 1;
  END IF;
  FOR r IN SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() LOOP
    -- our own trigger on a new table is not the user's DDL
    CONTINUE WHEN r.object_type OPERATOR(pg_catalog.=) 'trigger' AND r.object_identity LIKE '${TRIGGER_NAME} on %';
    rel := NULL;
    is_table := false;
    IF r.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass THEN
      SELECT c.relname, c.relkind IN ('r', 'p') INTO rel, is_table FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) r.objid;
    END IF;
    PERFORM pg_catalog.pg_logical_emit_message(true, 'rowtrail.ddl', pg_catalog.json_build_object(
      'tag', r.command_tag,
      'schema', CASE WHEN is_table THEN r.schema_name END,
      'table', CASE WHEN is_table THEN rel END,
      'object', r.object_identity,
      'statement', stmt,
      -- the primary key as of this DDL: a stream that reads it later may no longer find the table
      'key', CASE WHEN is_table THEN (SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY k.ord)
          FROM pg_catalog.pg_index i CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid AND a.attnum OPERATOR(pg_catalog.=) k.attnum
          WHERE i.indrelid OPERATOR(pg_catalog.=) r.objid AND i.indisprimary) END)::pg_catalog.text);
    IF is_table AND r.command_tag IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO') AND cfg IS NOT NULL
       AND r.schema_name OPERATOR(pg_catalog.<>) '${SCHEMA}' AND r.schema_name NOT LIKE 'pg_temp%'
       AND (cfg.all_tables OR (r.schema_name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) rel) OPERATOR(pg_catalog.=) ANY (cfg.tables)) THEN
      EXECUTE pg_catalog.format('${triggerSql('%I.%I').replace(/'/g, "''")}', r.schema_name, rel);
    END IF;
  END LOOP;
END $fn$;`);
    parts.push(`COMMENT ON FUNCTION rowtrail.capture_ddl() IS 'rowtrail precise v${PRECISE_VERSION}';`);
    parts.push(`CREATE FUNCTION rowtrail.capture_drop() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
  r record;
  is_table boolean;
  stmt pg_catalog.text := pg_catalog.current_query();
BEGIN
${ddlPrologue}
  FOR r IN SELECT * FROM pg_catalog.pg_event_trigger_dropped_objects() WHERE original LOOP
    is_table := r.object_type IN ('table', 'partitioned table');
    PERFORM pg_catalog.pg_logical_emit_message(true, 'rowtrail.ddl', pg_catalog.json_build_object(
      'tag', TG_TAG,
      'schema', CASE WHEN is_table THEN r.schema_name END,
      'table', CASE WHEN is_table THEN r.object_name END,
      'object', r.object_identity,
      'statement', stmt)::pg_catalog.text);
  END LOOP;
END $fn$;`);
    parts.push(`COMMENT ON FUNCTION rowtrail.capture_drop() IS 'rowtrail precise v${PRECISE_VERSION}';`);
    parts.push(`CREATE EVENT TRIGGER rowtrail_ddl ON ddl_command_end EXECUTE FUNCTION rowtrail.capture_ddl();`);
    parts.push(`CREATE EVENT TRIGGER rowtrail_drop ON sql_drop EXECUTE FUNCTION rowtrail.capture_drop();`);
  }
  if (revoke) {
    parts.push(`-- why: PUBLIC may call pg_logical_emit_message by default; any role could then emit a forged 'rowtrail' message.
DO $revoke$
DECLARE r record;
BEGIN
  FOR r IN SELECT p.oid::pg_catalog.regprocedure AS f FROM pg_catalog.pg_proc p
      WHERE p.proname OPERATOR(pg_catalog.=) 'pg_logical_emit_message' AND p.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace LOOP
    IF pg_catalog.has_function_privilege('public', r.f, 'EXECUTE') THEN
      EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', r.f);
      UPDATE rowtrail.precise_config SET revoked_emit = true WHERE id = 1;
    END IF;
  END LOOP;
END $revoke$;`);
  }
  return parts.map((p) => p.replace(/;\s*$/, ''));
}

/** The uninstall script: removes triggers, event triggers, functions, config; restores PUBLIC's EXECUTE if setup revoked it. */
export function preciseUninstallSql(): string {
  return `-- rowtrail precise identity: uninstall
DO $restore$
DECLARE r record;
BEGIN
  IF pg_catalog.to_regclass('rowtrail.precise_config') IS NOT NULL THEN
    IF (SELECT revoked_emit FROM rowtrail.precise_config WHERE id OPERATOR(pg_catalog.=) 1) THEN
      FOR r IN SELECT p.oid::pg_catalog.regprocedure AS f FROM pg_catalog.pg_proc p
          WHERE p.proname OPERATOR(pg_catalog.=) 'pg_logical_emit_message' AND p.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', r.f);
      END LOOP;
    END IF;
  END IF;
END $restore$;
${CLEANUP}
DO $config$
BEGIN
  IF pg_catalog.to_regclass('rowtrail.precise_config') IS NOT NULL THEN DROP TABLE rowtrail.precise_config; END IF;
  -- the per-source registry (precise-scope.ts) goes with the last source
  IF pg_catalog.to_regclass('rowtrail.precise_sources') IS NOT NULL THEN DROP TABLE rowtrail.precise_sources; END IF;
END $config$;
DO $schema$
DECLARE ns pg_catalog.oid;
BEGIN
  -- the schema goes only when nothing else lives in it
  SELECT oid INTO ns FROM pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) '${SCHEMA}';
  IF ns IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace OPERATOR(pg_catalog.=) ns)
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE pronamespace OPERATOR(pg_catalog.=) ns)
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type WHERE typnamespace OPERATOR(pg_catalog.=) ns) THEN
    DROP SCHEMA ${SCHEMA};
  END IF;
END $schema$;
`;
}

export interface PreciseStatus {
  /** Installed version, or null when precise mode is not installed. */
  version: number | null;
  /** Tables (schema.table) carrying the statement trigger. */
  tables: string[];
  /** Whether the DDL event triggers are installed and enabled. */
  ddl: boolean;
  /** Whether PUBLIC may still call pg_logical_emit_message (messages could be forged). */
  publicCanEmit: boolean;
  /** Whether the server has wal_level=logical (without it the messages are written and never read). */
  walLogical: boolean;
  /** Whether the statement trigger is the native (C) one. */
  native: boolean;
}

export async function preciseStatus(client: SqlClient): Promise<PreciseStatus> {
  const fn = await client.query(
    `SELECT pg_catalog.obj_description(p.oid, 'pg_proc') AS c, l.lanname = 'c' AS native FROM pg_catalog.pg_proc p
     JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace JOIN pg_catalog.pg_language l ON l.oid = p.prolang
     WHERE n.nspname = $1 AND p.proname = 'capture_session'`,
    [SCHEMA],
  );
  const m = /rowtrail precise v(\d+)/.exec(fn.rows[0]?.c ?? '');
  const version = fn.rows.length ? (m ? Number(m[1]) : 0) : null;
  const tabs = await client.query(
    `SELECT n.nspname || '.' || c.relname AS t FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE t.tgname = $1 AND t.tgenabled <> 'D' ORDER BY 1`,
    [TRIGGER_NAME],
  );
  const ev = await client.query(
    `SELECT count(*)::int AS n FROM pg_catalog.pg_event_trigger WHERE evtname IN ('rowtrail_ddl', 'rowtrail_drop') AND evtenabled <> 'D'`,
  );
  const pub = await client.query(
    `SELECT bool_or(pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')) AS b FROM pg_catalog.pg_proc p
     WHERE p.proname = 'pg_logical_emit_message' AND p.pronamespace = 'pg_catalog'::regnamespace`,
  );
  const wal = await client.query(`SELECT pg_catalog.current_setting('wal_level') AS w`);
  return {
    version,
    tables: tabs.rows.map((r) => r.t),
    ddl: ev.rows[0].n === 2,
    publicCanEmit: !!pub.rows[0].b,
    walLogical: wal.rows[0].w === 'logical',
    native: !!fn.rows[0]?.native,
  };
}

export interface InstallResult {
  version: number;
  /** Version found before (null: none), so the caller can say "replaced v0". */
  previous: number | null;
  tables: string[];
  ddl: boolean;
  warnings: string[];
}

async function isSuperuser(client: SqlClient): Promise<boolean> {
  const r = await client.query(`SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user`);
  return !!r.rows[0]?.rolsuper;
}

/**
 * Installs (or replaces) precise mode in one transaction. Without superuser, the DDL event triggers and the
 * REVOKE are skipped with a warning (the statement triggers still work for the tables this role owns).
 */
export async function installPrecise(client: SqlClient, tables: readonly string[] | null, opts: PreciseOptions = {}): Promise<InstallResult> {
  const warnings: string[] = [];
  const before = await preciseStatus(client);
  const su = await isSuperuser(client);
  let ddl = opts.ddl ?? true;
  let revoke = opts.revokePublicEmit ?? true;
  if (!su) {
    if (ddl) warnings.push('not a superuser: DDL event triggers not installed (DDL is not attributed, tables created later get no trigger)');
    if (revoke) {
      warnings.push(
        'not a superuser: PUBLIC keeps EXECUTE on pg_logical_emit_message, so a role could forge a rowtrail message; ' +
          'run as a superuser: REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean,text,text) FROM PUBLIC',
      );
    }
    ddl = false;
    revoke = false;
  }
  if (opts.native && !su) {
    throw new RowtrailError(
      'PERMISSION',
      'the native precise trigger is a C function: only a superuser can create it; run setup as a superuser or set preciseNative: false',
    );
  }
  if (!before.walLogical) {
    warnings.push('wal_level is not logical: the triggers emit messages nobody can read until it is (ALTER SYSTEM SET wal_level = logical; restart)');
  }
  await client.query('BEGIN');
  try {
    await client.query(preciseInstallSql(tables, { ...opts, ddl, revokePublicEmit: revoke }));
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (opts.native && /could not access file|could not load library|could not find function/i.test((e as Error).message)) {
      throw new RowtrailError(
        'SERVER_SETTING',
        `the server cannot load the native precise trigger (${(e as Error).message}): ` +
          'build and install native/postgres on the database host (make && make install), or set preciseNative: false',
      );
    }
    throw e;
  }
  const after = await preciseStatus(client);
  return { version: PRECISE_VERSION, previous: before.version, tables: after.tables, ddl: after.ddl, warnings };
}

export async function uninstallPrecise(client: SqlClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(preciseUninstallSql());
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
