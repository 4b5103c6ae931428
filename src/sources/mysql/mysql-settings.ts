/**
 * What both the MySQL source and `doctor` check or derive from the configuration and the server's settings,
 * in one place so the stream does not import the doctor (and the doctor does not import the stream).
 */
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
  if (tables && tables.length) {
    const set = new Set(tables);
    return (db, t) => set.has(`${db}.${t}`);
  }
  if (database) return (db) => db === database;
  return (db) => !SYSTEM_DBS.has(db);
}

/** The server settings without which capture cannot work (also checked by the source when it connects). */
export function settingProblems(f: ServerFacts): Check[] {
  const out: Check[] = [];
  if (!f.logBin) out.push(fail('log_bin', 'the binary log is off (log_bin=OFF)', 'start the server with --log-bin (log_bin in my.cnf) and restart it'));
  else {
    if (f.binlogFormat !== 'ROW')
      out.push(fail('binlog_format', `binlog_format is ${f.binlogFormat}, rows cannot be captured`, `SET GLOBAL binlog_format=ROW; ${MY_CNF}`));
    if (f.rowImage !== 'FULL')
      out.push(fail('binlog_row_image', `binlog_row_image is ${f.rowImage}: no full before/after images`, `SET GLOBAL binlog_row_image=FULL; ${MY_CNF}`));
    if (f.rowMetadata !== 'FULL')
      out.push(
        fail(
          'binlog_row_metadata',
          f.rowMetadata === null ? `this server (${f.version}) has no binlog_row_metadata: column names are not logged` : `binlog_row_metadata is ${f.rowMetadata}: column names are not logged`,
          f.rowMetadata === null ? 'upgrade to MySQL 8.0+ or MariaDB 10.6+' : `SET GLOBAL binlog_row_metadata=FULL; ${MY_CNF}`,
        ),
      );
    if (f.trxCompression)
      out.push(fail('binlog_transaction_compression', 'binlog transaction compression is on: compressed payloads cannot be decoded', `SET GLOBAL binlog_transaction_compression=OFF; ${MY_CNF}`));
    if (f.rowValueOptions && f.rowValueOptions.toUpperCase().includes('PARTIAL_JSON'))
      out.push(fail('binlog_row_value_options', 'binlog_row_value_options=PARTIAL_JSON: JSON updates are logged as diffs', `SET GLOBAL binlog_row_value_options=''; ${MY_CNF}`));
  }
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


/** A stored MariaDB GTID position older than the oldest binlog: fail before streaming, with the fix. */
export async function checkPurged(conn: Conn, facts: ServerFacts, position: string): Promise<void> {
  if (!facts.mariadb || positionKind(position) !== 'mariadb-gtid') return;
  const oldest = await oldestGtidState(conn);
  if (oldest !== null && mariadbPurged(position, oldest)) {
    throw new RowtrailError(
      'POSITION_LOST',
      `the binlog holding stored position ${position} was purged (oldest binlog starts after ${oldest}); raise binlog retention (expire_logs_days / binlog_expire_logs_seconds) and reset this source's stored position to capture from now (changes in the gap are lost)`,
    );
  }
}
