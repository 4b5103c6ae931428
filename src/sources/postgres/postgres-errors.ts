/**
 * PostgreSQL errors → RowtrailError, by SQLSTATE and Node errno (never by message text), with a one-line
 * reason naming what to fix.
 */
import { RowtrailError } from '../../errors.js';
import type { SourceConfig } from '../../config/index.js';

/** Default slot name: `rowtrail_<source name>` (names allow only [a-z0-9_]). */
export function slotName(s: SourceConfig): string {
  return s.slot ?? `rowtrail_${s.name.replace(/[^a-z0-9_]/g, '_')}`;
}

export function publicationName(s: SourceConfig): string {
  return s.publication ?? `rowtrail_${s.name.replace(/[^a-z0-9_]/g, '_')}`;
}

/** `host:port` of a connection URL, for messages (never the password). */
export function serverAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}`;
  } catch {
    return 'the server';
  }
}

export function classifyPgError(e: unknown, s: SourceConfig): RowtrailError {
  if (e instanceof RowtrailError) return e;
  const err = e as { code?: string; message?: string; errno?: number };
  const code = err?.code ?? '';
  const where = serverAddress(s.url);
  const msg = String(err?.message ?? e).split('\n')[0];
  switch (code) {
    case 'ECONNREFUSED':
      return new RowtrailError('CONNECT', `source '${s.name}': cannot connect to ${where} (connection refused); is PostgreSQL running there?`, e);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new RowtrailError('CONNECT', `source '${s.name}': host of ${where} not found; check the url`, e);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ETIMEDOUT':
    case '57P01': // admin_shutdown
    case '57P02': // crash_shutdown
    case '57P03': // cannot_connect_now (starting up)
    case '08006':
    case '08001':
    case '08003':
    case '55006': // object_in_use: the slot was taken between the slot check (postgres-connection.ts) and START_REPLICATION
      return new RowtrailError('CONNECT', `source '${s.name}': ${msg}`, e);
    case '28P01':
    case '28000':
      return new RowtrailError(
        'AUTH',
        `source '${s.name}': authentication failed for ${where}: ${msg}; ` +
          `check the user and ROWTRAIL_${s.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD`,
        e,
      );
    case '3D000':
      return new RowtrailError('CONFIG', `source '${s.name}': ${msg}; check the database in the url`, e);
    case '42501':
      return new RowtrailError(
        'PERMISSION',
        `source '${s.name}': ${msg}; the role needs REPLICATION (ALTER ROLE … REPLICATION) and SELECT on watched tables`,
        e,
      );
    case '42704':
      return new RowtrailError('SLOT_MISSING', `source '${s.name}': ${msg}; run \`rowtrail setup\``, e);
    case '55000':
      return new RowtrailError('SLOT_INVALID', `source '${s.name}': ${msg}`, e);
    case '53300': // too_many_connections
    case '53400':
      return new RowtrailError('CONNECT', `source '${s.name}': ${msg}`, e);
    default:
      if (/^(08|57|53)/.test(code)) return new RowtrailError('CONNECT', `source '${s.name}': ${msg}`, e);
      return new RowtrailError('INTERNAL', `source '${s.name}': ${msg}${code ? ` (SQLSTATE ${code})` : ''}`, e);
  }
}
