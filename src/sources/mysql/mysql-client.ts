/**
 * The I/O edge of the MySQL source: connections (mysql2, the driver @vlasky/zongji is built on), error
 * classification, and the server facts the decoder and doctor need. The binlog dump is in mysql-dump.ts.
 */
import mysql from 'mysql2';
import { RowtrailError } from '../../errors.js';
import type { ServerCharsets } from './mysql-decoder.js';

export type Conn = mysql.Connection;

export interface ConnInfo {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string | null;
  /** The source's serverId (for error messages). */
  serverId?: number;
}

/** `mysql://user:pass@host:port/db` → connection facts. */
export function parseUrl(url: string): ConnInfo {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RowtrailError('CONFIG', 'the source url is not a valid URL (expected mysql://user@host:3306/db)');
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new RowtrailError('CONFIG', `a mysql source needs a mysql:// url, not ${u.protocol}//`);
  }
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: db || null,
  };
}

/**
 * Opens a connection; errors classified by errno (1045 access denied → AUTH). When `signal` aborts first,
 * the half-open connection is destroyed and the promise rejects with `Aborted`.
 */
export async function connect(info: ConnInfo, signal?: AbortSignal): Promise<Conn> {
  if (signal?.aborted) throw new Aborted();
  const conn = mysql.createConnection({
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    charset: 'utf8mb4',
    // Text results exactly as the server sends them (no Number/Date conversion).
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    connectTimeout: 10_000,
  });
  conn.on('error', () => {
    /* reported through the command that fails */
  });
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      close(conn);
      reject(new Aborted());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.connect((err) => {
      signal?.removeEventListener('abort', onAbort);
      if (!err) return resolve();
      close(conn);
      reject(classify(err, info));
    });
  });
  return conn;
}

/** The stop was requested while a connection or query was pending. */
export class Aborted extends Error {
  constructor() {
    super('aborted');
    this.name = 'Aborted';
  }
}

/**
 * `p`, or a rejection with `Aborted` as soon as `signal` aborts. Why: mysql2 never settles the commands of a
 * connection closed on our side (`_closing`), so a query pending at stop would hang the stop.
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export function query<T = Record<string, unknown>>(conn: Conn, sql: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => {
    conn.query(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as T[])));
  });
}

export function close(conn: Conn | null | undefined): void {
  if (!conn) return;
  try {
    conn.destroy();
    // Why: mysql2's destroy() only half-closes the socket (FIN). A MariaDB dump thread waiting for binlog
    // updates never reads it, so the socket stayed open and kept a stopped daemon's process alive.
    (conn as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  } catch {
    /* already closed */
  }
}

/** MySQL errno → RowtrailError (never by message text). */
export function classify(err: any, info?: ConnInfo): RowtrailError {
  if (err instanceof RowtrailError) return err;
  const errno: number | undefined = err?.errno;
  const msg = String(err?.sqlMessage ?? err?.message ?? err);
  const where = info ? `${info.host}:${info.port}` : 'the server';
  switch (errno) {
    case 1045:
    case 1044:
      return new RowtrailError('AUTH', `access denied for ${info?.user ?? 'the user'} at ${where}: check the user and password in the source url`, err);
    case 1227:
      return new RowtrailError(
        'PERMISSION',
        `missing privilege: ${msg}; GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${info?.user ?? 'user'}'@'%'`,
        err,
      );
    case 1236:
      return binlogReadError(msg, info, err);
    case ER_SLAVE_SAME_ID:
      return sameServerId(info, err);
  }
  if (err?.code === 'ECONNREFUSED' || err?.code === 'ETIMEDOUT' || err?.code === 'ECONNRESET' || err?.code === 'PROTOCOL_CONNECTION_LOST' || err?.fatal) {
    return new RowtrailError('CONNECT', `cannot reach MySQL at ${where}: ${err?.code ?? msg}`, err);
  }
  return new RowtrailError('CONNECT', `MySQL error at ${where}: ${msg}`, err);
}

/** MariaDB ER_SLAVE_SAME_ID: sent to a dump connection when another replica registers with its server id. */
const ER_SLAVE_SAME_ID = 4052;

function sameServerId(info: ConnInfo | undefined, err: unknown): RowtrailError {
  const id = info?.serverId !== undefined ? `serverId ${info.serverId}` : 'this serverId';
  return new RowtrailError(
    'CONFIG',
    `another replica (another rowtrail, or a real replica) connected to the server with ${id}, and the server ` +
      `dropped this one; give each source its own sources[].serverId`,
    err,
  );
}

/**
 * Error 1236 (ER_MASTER_FATAL_ERROR_READING_BINLOG) is the server's one code for every reason it cannot
 * send the binlog; the reason is only in the message text (the server gives no other code), so it is
 * told apart by the server's own wording. Only a purged or missing position is POSITION_LOST.
 */
export function binlogReadError(msg: string, info: ConnInfo | undefined, err: unknown): RowtrailError {
  // MySQL sends a same-server-id kick as 1236 (MariaDB as 4052).
  if (/same server_uuid\/server_id/i.test(msg)) return sameServerId(info, err);
  if (/max_allowed_packet/i.test(msg)) {
    return new RowtrailError(
      'SERVER_SETTING',
      `a binlog event is larger than the server's max_allowed_packet (${msg}); raise it on the server: ` +
        'SET GLOBAL max_allowed_packet=1073741824 (and in my.cnf), then rowtrail resumes where it stopped',
      err,
    );
  }
  if (/which is not in the master's binlog/i.test(msg)) {
    return new RowtrailError(
      'POSITION_LOST',
      `the server's binlog has no record of the stored position (${msg}): its binlog was reset (RESET MASTER) or ` +
        "the url names another server; check the url, and only if it is right reset this source's stored position " +
        '(changes in between cannot be read)',
      err,
    );
  }
  if (/purged|could not find first log file|could not find GTID state/i.test(msg)) {
    return new RowtrailError(
      'POSITION_LOST',
      `the binlog holding the stored position is gone (${msg}); raise binlog retention (binlog_expire_logs_seconds / ` +
        "expire_logs_days) and reset this source's stored position to capture from now (changes in the gap are lost)",
      err,
    );
  }
  return new RowtrailError('CONNECT', `the server cannot send the binlog: ${msg}`, err);
}

/** What the source and doctor learn about the server on connect. */
export interface ServerFacts {
  version: string;
  mariadb: boolean;
  serverId: number;
  logBin: boolean;
  binlogFormat: string;
  rowImage: string;
  rowMetadata: string | null;
  checksum: boolean;
  /** MySQL gtid_mode=ON. MariaDB always has GTIDs. */
  gtidMode: boolean;
  annotateRows: boolean | null;
  /** MySQL binlog_transaction_compression. */
  trxCompression: boolean;
  /** MariaDB log_bin_compress (compressed row events: decoded). */
  logBinCompress: boolean;
  rowValueOptions: string;
}

export async function serverFacts(conn: Conn): Promise<ServerFacts> {
  const vars = new Map<string, string>();
  const rows = await query<{ Variable_name: string; Value: string }>(
    conn,
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version','server_id','log_bin','binlog_format','binlog_row_image',
      'binlog_row_metadata','binlog_checksum','gtid_mode','binlog_annotate_row_events','binlog_transaction_compression',
      'log_bin_compress','binlog_row_value_options')`,
  );
  for (const r of rows) vars.set(r.Variable_name.toLowerCase(), String(r.Value));
  const on = (k: string) => /^(on|1|yes)$/i.test(vars.get(k) ?? '');
  const version = vars.get('version') ?? '';
  const mariadb = /mariadb/i.test(version);
  return {
    version,
    mariadb,
    serverId: Number(vars.get('server_id') ?? 0),
    logBin: on('log_bin'),
    binlogFormat: (vars.get('binlog_format') ?? '').toUpperCase(),
    rowImage: (vars.get('binlog_row_image') ?? '').toUpperCase(),
    rowMetadata: vars.has('binlog_row_metadata') ? vars.get('binlog_row_metadata')!.toUpperCase() : null,
    checksum: (vars.get('binlog_checksum') ?? 'NONE').toUpperCase() !== 'NONE',
    gtidMode: mariadb || (vars.get('gtid_mode') ?? '').toUpperCase() === 'ON',
    annotateRows: mariadb ? on('binlog_annotate_row_events') : null,
    trxCompression: on('binlog_transaction_compression'),
    logBinCompress: on('log_bin_compress'),
    rowValueOptions: vars.get('binlog_row_value_options') ?? '',
  };
}

/** Collation ids → character sets, and bytes per character, from the server itself. */
export async function serverCharsets(conn: Conn): Promise<ServerCharsets> {
  const collations = new Map<number, string>();
  const maxLen = new Map<string, number>();
  for (const r of await query<{ ID: string | number | null; CHARACTER_SET_NAME: string }>(
    conn,
    'SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS',
  )) {
    if (r.ID !== null) collations.set(Number(r.ID), r.CHARACTER_SET_NAME);
  }
  for (const r of await query<{ CHARACTER_SET_NAME: string; MAXLEN: string | number }>(
    conn,
    'SELECT CHARACTER_SET_NAME, MAXLEN FROM information_schema.CHARACTER_SETS',
  )) {
    maxLen.set(r.CHARACTER_SET_NAME, Number(r.MAXLEN));
  }
  // utf8 is utf8mb3 on older servers; both decode as UTF-8.
  if (!collations.has(63)) collations.set(63, 'binary');
  return { collations, maxLen, maps: new Map() };
}

/** The current end of the binlog as a position string (where a source with no stored position starts). */
export async function currentPosition(conn: Conn, facts: ServerFacts): Promise<string> {
  if (facts.mariadb) {
    const r = await query<{ p: string }>(conn, 'SELECT @@GLOBAL.gtid_binlog_pos AS p');
    return r[0].p ?? '';
  }
  if (facts.gtidMode) {
    const r = await query<{ p: string }>(conn, 'SELECT @@GLOBAL.gtid_executed AS p');
    return String(r[0].p ?? '').replace(/\s/g, '');
  }
  const end = await binlogEnd(conn, facts);
  if (!end) throw new RowtrailError('SERVER_SETTING', 'the binary log is off (log_bin=OFF); start the server with --log-bin');
  return `${end.file}:${end.pos}`;
}

/**
 * The end of the server's binlog: file and position of the next event (null when the binlog is off).
 * MySQL 8.2+ names it SHOW BINARY LOG STATUS (8.4 removed SHOW MASTER STATUS); MariaDB keeps SHOW MASTER STATUS.
 */
export async function binlogEnd(conn: Conn, facts: ServerFacts): Promise<{ file: string; pos: number } | null> {
  let r: Record<string, unknown>[];
  if (facts.mariadb) r = await query(conn, 'SHOW MASTER STATUS');
  else {
    try {
      r = await query(conn, 'SHOW BINARY LOG STATUS');
    } catch {
      r = await query(conn, 'SHOW MASTER STATUS');
    }
  }
  return r.length ? { file: String(r[0].File), pos: Number(r[0].Position) } : null;
}

/** Binlog file → size in bytes (SHOW BINARY LOGS). */
export async function binlogSizes(conn: Conn): Promise<Map<string, number>> {
  const rows = await query<{ Log_name: string; File_size: string | number }>(conn, 'SHOW BINARY LOGS');
  return new Map(rows.map((r) => [r.Log_name, Number(r.File_size)]));
}
