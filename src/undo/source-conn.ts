/**
 * The undo's connection to the source database (I/O edge): one small interface over `pg` and `mysql2`, so
 * the conflict check and the runner are written once.
 */
import pg from 'pg';
import mysql from 'mysql2/promise';
import type { SystemKind } from '../model/index.js';
import { RowtrailError } from '../errors.js';
import { redactUrls } from '../log/index.js';
import { postgresDialect } from './postgres-dialect.js';
import { mysqlDialect } from './mysql-dialect.js';
import type { Dialect } from './dialect.js';
import type { SourceConfig } from '../config/index.js';
import { classifyPgError } from '../sources/postgres/postgres-errors.js';
import { classify as classifyMysqlError, parseUrl } from '../sources/mysql/mysql-client.js';

export interface SqlConn {
  /** Rows of a query (column names as given). */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Runs a statement and returns the number of rows it affected. */
  run(sql: string): Promise<number>;
  close(): Promise<void>;
}

/** The application name the undo connects with, so capture attributes what it does. */
export const UNDO_APPLICATION = 'rowtrail-undo';

const DIALECTS: Record<SystemKind, Dialect> = {
  postgresql: postgresDialect,
  mysql: mysqlDialect('mysql'),
  mariadb: mysqlDialect('mariadb'),
};

export function dialectFor(system: SystemKind): Dialect {
  return DIALECTS[system];
}

async function connectPg(url: string): Promise<SqlConn> {
  const client = new pg.Client({ connectionString: url, application_name: UNDO_APPLICATION, connectionTimeoutMillis: 10_000 });
  // Why a no-op listener: an idle client whose server goes away emits 'error'; the next call reports it.
  client.on('error', () => undefined);
  await client.connect();
  // Why text for every type: values are compared and shown in PostgreSQL's text form, never parsed.
  const text = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
  return {
    async query(sql) {
      return (await client.query({ text: sql, types: text })).rows;
    },
    async run(sql) {
      return (await client.query({ text: sql, types: text })).rowCount ?? 0;
    },
    close: () => client.end().catch(() => undefined),
  };
}

async function connectMysql(url: string): Promise<SqlConn> {
  const conn = await mysql.createConnection({
    uri: url,
    charset: 'utf8mb4',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    multipleStatements: false,
    connectTimeout: 10_000,
    // Why: shows up as program_name in performance_schema.session_connect_attrs (identity reads it).
    connectAttributes: { program_name: UNDO_APPLICATION },
  });
  conn.on('error', () => undefined);
  return {
    async query(sql) {
      const [rows] = await conn.query(sql);
      return rows as Record<string, unknown>[];
    },
    async run(sql) {
      const [res] = await conn.query(sql);
      return (res as { affectedRows?: number }).affectedRows ?? 0;
    },
    close: () => conn.end().catch(() => undefined),
  };
}

const CONNECTORS: Record<SystemKind, (url: string) => Promise<SqlConn>> = {
  postgresql: connectPg,
  mysql: connectMysql,
  mariadb: connectMysql,
};

/**
 * Connection errors classified as the sources classify them (by SQLSTATE / errno: AUTH for a wrong
 * password, CONNECT for a server that is down, ...), so undo and watch say the same thing about one fault.
 */
function classifyConnError(system: SystemKind, e: unknown, url: string, sourceName: string): RowtrailError {
  if (system === 'postgresql') {
    // classifyPgError reads only the name and the url (for host:port) of the source's config.
    return classifyPgError(e, { name: sourceName, url } as SourceConfig);
  }
  let info: ReturnType<typeof parseUrl> | undefined;
  try {
    info = parseUrl(url);
  } catch {
    info = undefined;
  }
  return classifyMysqlError(e, info);
}

/** Connects to the source; a classified error (AUTH, CONNECT, ...) saying that nothing was applied. */
export async function connectSource(system: SystemKind, url: string, sourceName: string): Promise<SqlConn> {
  try {
    const conn = await CONNECTORS[system](url);
    try {
      for (const sql of DIALECTS[system].connectStatements) await conn.run(sql);
    } catch (e) {
      await conn.close();
      throw e;
    }
    return conn;
  } catch (e: any) {
    const c = classifyConnError(system, e, url, sourceName);
    throw new RowtrailError(c.code, `nothing was applied: ${redactUrls(c.message).split('\n')[0]}`, e);
  }
}
