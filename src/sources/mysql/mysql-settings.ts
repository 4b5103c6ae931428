/**
 * The MySQL / MariaDB checks and derivations that both the source (at connect) and `rowtrail doctor` use:
 * binlog settings, the oldest GTID state, whether the watched tables exist, the watched-table filter and the
 * default server id. In their own file so that the stream and the doctor import them without importing each
 * other.
 */
import type { SourceConfig } from '../../config/index.js';
import { RowtrailError } from '../../errors.js';
import { fail, type Check } from '../checks.js';
import { query, type Conn, type ServerFacts } from './mysql-client.js';
import { mariadbPurged, positionKind } from './mysql-position.js';

export const MY_CNF = '(and the same in my.cnf so it survives a restart)';

const SYSTEM_DBS = new Set(['mysql', 'sys', 'information_schema', 'performance_schema']);

/** A server id for this source when none is configured: stable per source name, away from small ids. */
export function defaultServerId(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return 0x52540000 + (h % 0xffff);
}

/** Which tables a source watches: the configured `db.table` list, else the url's database, else all user tables. */
export function watchFilter(tables: string[] | undefined, database: string | null): (db: string, table: string) => boolean {
  if (tables?.length) {
    const set = new Set(tables);
    return (db, t) => set.has(`${db}.${t}`);
  }
  if (database) return (db) => db === database;
  return (db) => !SYSTEM_DBS.has(db);
}

/**
 * The server settings without which capture cannot work (also checked by the source when it connects).
 * Each is checked on its own (log_bin off does not hide a wrong binlog_format), so one round of fixes is enough.
 */
export function settingProblems(f: ServerFacts): Check[] {
  const out: Check[] = [];
  if (!f.logBin) {
    out.push(
      fail('log_bin', 'the binary log is off (log_bin=OFF)', 'start the server with --log-bin (log_bin in my.cnf) and restart it', {
        // why server_id: MySQL 5.7 refuses log_bin without one; 1 is the default of MySQL 8 and MariaDB.
        settings: ['log_bin=binlog', ...(f.serverId ? [] : ['server_id=1'])],
        restart: true,
      }),
    );
  }
  if (f.binlogFormat !== 'ROW')
    out.push(
      fail('binlog_format', `binlog_format is ${f.binlogFormat}, rows cannot be captured`, `SET GLOBAL binlog_format=ROW; ${MY_CNF}`, {
        settings: ['binlog_format=ROW'],
      }),
    );
  if (f.rowImage !== 'FULL')
    out.push(
      fail(
        'binlog_row_image',
        `binlog_row_image is ${f.rowImage}: no full before/after images`,
        `SET GLOBAL binlog_row_image=FULL; ${MY_CNF}`,
        {
          settings: ['binlog_row_image=FULL'],
        },
      ),
    );
  if (f.rowMetadata !== 'FULL')
    out.push(
      f.rowMetadata === null
        ? fail(
            'binlog_row_metadata',
            `this server (${f.version}) has no binlog_row_metadata: column names are not logged`,
            'upgrade to MySQL 8.0+ or MariaDB 10.6+',
          )
        : fail(
            'binlog_row_metadata',
            `binlog_row_metadata is ${f.rowMetadata}: column names are not logged`,
            `SET GLOBAL binlog_row_metadata=FULL; ${MY_CNF}`,
            {
              settings: ['binlog_row_metadata=FULL'],
            },
          ),
    );
  if (f.trxCompression)
    out.push(
      fail(
        'binlog_transaction_compression',
        'binlog transaction compression is on: compressed payloads cannot be decoded',
        `SET GLOBAL binlog_transaction_compression=OFF; ${MY_CNF}`,
        {
          settings: ['binlog_transaction_compression=OFF'],
        },
      ),
    );
  if (f.rowValueOptions?.toUpperCase().includes('PARTIAL_JSON'))
    out.push(
      fail(
        'binlog_row_value_options',
        'binlog_row_value_options=PARTIAL_JSON: JSON updates are logged as diffs',
        `SET GLOBAL binlog_row_value_options=''; ${MY_CNF}`,
        {
          settings: ["binlog_row_value_options=''"],
        },
      ),
    );
  return out;
}

/** The GTID state at the start of the oldest binlog file (MariaDB), or null when it cannot be read. */
export async function oldestGtidState(conn: Conn): Promise<string | null> {
  try {
    const logs = await query<{ Log_name: string }>(conn, 'SHOW BINARY LOGS');
    if (!logs.length) return null;
    const r = await query<{ p: string | null }>(conn, 'SELECT BINLOG_GTID_POS(?, 4) AS p', [logs[0].Log_name]);
    return r[0]?.p ?? null;
  } catch {
    return null;
  }
}

/** What `missingTables` found about the listed tables. */
export interface TableProbe {
  /** Listed tables that exist and this user may read. */
  readable: string[];
  /** Listed tables that do not exist (the server said so to a user allowed to know). */
  missing: string[];
  /** Listed tables this user may not read: whether they exist cannot be told. */
  unknown: string[];
}

/** `db.table` → `` `db`.`table` `` (a name without a dot is a table of the url's database). */
function quoted(name: string, database: string | null): string {
  const dot = name.indexOf('.');
  const [db, t] = dot < 0 ? [database ?? '', name] : [name.slice(0, dot), name.slice(dot + 1)];
  const q = (s: string) => '`' + s.replace(/`/g, '``') + '`';
  return db ? `${q(db)}.${q(t)}` : q(t);
}

/**
 * Whether each table of `sources[].tables` exists, for doctor and for the source to warn at start (a typo'd
 * name would otherwise be watched silently). Probes each with `SELECT … LIMIT 0`: why not information_schema —
 * MariaDB lists only tables the user has a privilege on, so absent there does not mean absent. Errors are
 * classified by errno: 1146 (no such table) and 1049 (no such database) say missing; 1142/1143/1044
 * (denied) say nothing about existence.
 */
export async function missingTables(conn: Conn, cfg: Pick<SourceConfig, 'tables'>, database: string | null): Promise<TableProbe> {
  const res: TableProbe = { readable: [], missing: [], unknown: [] };
  for (const t of cfg.tables ?? []) {
    try {
      await query(conn, `SELECT 1 FROM ${quoted(t, database)} LIMIT 0`);
      res.readable.push(t);
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      if (errno === 1146 || errno === 1049) res.missing.push(t);
      else if (errno === 1142 || errno === 1143 || errno === 1044) res.unknown.push(t);
      else throw e;
    }
  }
  return res;
}

/**
 * The line the source logs at start for `missingTables`' result (null: nothing to say). A missing table is
 * watched for when it is created; the warning is so that a typo'd name is not watched silently.
 */
export function missingTablesWarning(probe: TableProbe, source: string): string | null {
  const parts: string[] = [];
  if (probe.missing.length) parts.push(`watched table(s) ${probe.missing.join(', ')} do not exist (a typo in sources[].tables of ${source}?)`);
  if (probe.unknown.length) parts.push(`cannot tell whether ${probe.unknown.join(', ')} exist (no SELECT on them; rowtrail doctor gives the GRANT)`);
  return parts.length ? parts.join('; ') : null;
}

/** A stored MariaDB GTID position older than the oldest binlog: fail before streaming, with the fix. */
export async function checkPurged(conn: Conn, facts: ServerFacts, position: string): Promise<void> {
  if (!facts.mariadb || positionKind(position) !== 'mariadb-gtid') return;
  const oldest = await oldestGtidState(conn);
  if (oldest !== null && mariadbPurged(position, oldest)) {
    throw new RowtrailError(
      'POSITION_LOST',
      `the binlog holding stored position ${position} was purged (oldest binlog starts after ${oldest}); ` +
        'raise binlog retention (expire_logs_days / binlog_expire_logs_seconds) ' +
        "and reset this source's stored position to capture from now (changes in the gap are lost)",
    );
  }
}

/** Seconds the server keeps binlogs (binlog_expire_logs_seconds, else expire_logs_days); 0: until purged by hand. */
export async function binlogRetentionSeconds(conn: Conn): Promise<number> {
  const v = await query<{ Variable_name: string; Value: string }>(
    conn,
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('expire_logs_days','binlog_expire_logs_seconds')`,
  );
  const m = new Map(v.map((r) => [r.Variable_name.toLowerCase(), Number(r.Value)]));
  return m.get('binlog_expire_logs_seconds') || (m.get('expire_logs_days') ?? 0) * 86400;
}
