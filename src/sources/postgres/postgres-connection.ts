/**
 * The PostgreSQL source's connections (I/O edge): clients with a connect timeout and TCP keepalive, closed on
 * every path, and the checks a session makes before it streams (server settings, slot, publication, and
 * whether another process holds the slot).
 *
 * Why a slot held by someone else is fatal: PostgreSQL lets one process stream a slot at a time (SQLSTATE
 * 55006 object_in_use). Retrying forever leaked a WAL sender per attempt and never said why. A holder that
 * is this process's own earlier connection (a partition that the server has not noticed yet) is ended with
 * pg_terminate_backend; any other holder gets SLOT_GRACE_MS to go away (a daemon killed a moment ago whose
 * WAL sender has not seen the socket close yet), then the source stops with a one-line reason.
 */
import pg from 'pg';
import { RowtrailError } from '../../errors.js';
import type { SourceConfig } from '../../config/index.js';
import { sleep } from '../backoff.js';
import { publicationName, slotName } from './postgres-errors.js';

/** TCP connect plus startup and authentication must finish within this (ms). */
export const CONNECT_TIMEOUT_MS = 10_000;
/** TCP keepalive probes start after this much idle time (ms); the receive watchdog is the bound that counts. */
export const TCP_KEEPALIVE_MS = 10_000;
/** How long a slot held by another process may stay held before the source gives up (ms). */
export const SLOT_GRACE_MS = 5_000;

/**
 * A client that keeps its TCP connection probed and never throws on socket errors. Its connect is timed by
 * the caller (withTimeout, CONNECT_TIMEOUT_MS), which says where it could not connect.
 */
export function pgClient(url: string, application: string, replication = false, decodingWorkMem?: string): pg.Client {
  const c = new pg.Client({
    connectionString: url,
    application_name: application,
    keepAlive: true,
    keepAliveInitialDelayMillis: TCP_KEEPALIVE_MS,
    ...(replication ? { replication: 'database' } : {}),
    // A user-settable parameter (PostgreSQL 13+), set for this connection only: its WAL sender streams a
    // transaction once the decoded changes pass it (docs/decisions.md, "Guards").
    ...(decodingWorkMem ? { options: `-c logical_decoding_work_mem=${decodingWorkMem}` } : {}),
  } as pg.ClientConfig);
  c.on('error', () => undefined);
  return c;
}

/**
 * Closes a client on any path and never rejects: a ready client says goodbye (Terminate) and may finish
 * sending what it has; one that is still connecting, or whose peer does not answer within `graceMs`, has
 * its socket destroyed, so a dead or silent server never holds the caller.
 */
export async function closeClient(c: pg.Client | null, graceMs = 2_000): Promise<void> {
  if (!c) return;
  const stream = (c as any).connection?.stream as { destroy(): void } | undefined;
  if (!(c as any)._connected) {
    stream?.destroy();
    await c.end().catch(() => undefined);
    return;
  }
  const timer = setTimeout(() => stream?.destroy(), graceMs);
  try {
    await c.end();
  } catch {
    /* closed already */
  } finally {
    clearTimeout(timer);
  }
}

/** Destroys a client's socket now (abort, dead connection); pending calls on it reject. */
export function destroyClient(c: pg.Client | null): void {
  ((c as any)?.connection?.stream as { destroy(): void } | undefined)?.destroy();
}

/** `p`, or a CONNECT error after `ms` (then `onTimeout` runs, e.g. to destroy the connection). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new RowtrailError('CONNECT', `${what}: no answer from the server within ${Math.round(ms / 1000)} s`));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export interface ServerFacts {
  version: number;
  /** The slot's confirmed_flush_lsn. */
  confirmed: string | null;
}

/**
 * Checks what streaming needs (wal_level, slot, publication) and that no other process holds the slot.
 * `ownPids`: WAL sender pids of this process's earlier connections (terminated if one still holds the slot).
 */
export async function preflight(meta: pg.Client, cfg: SourceConfig, ownPids: ReadonlySet<number>, signal: AbortSignal): Promise<ServerFacts> {
  const slot = slotName(cfg);
  const publication = publicationName(cfg);
  const deadline = Date.now() + SLOT_GRACE_MS;
  for (;;) {
    const r = await meta.query(
      `SELECT current_setting('server_version_num')::int AS version, current_setting('wal_level') AS wal_level,
              s.confirmed_flush_lsn::text AS confirmed, s.plugin, s.wal_status, s.active_pid,
              a.application_name AS holder_app, a.client_addr::text AS holder_addr,
              EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2) AS has_publication
         FROM (SELECT 1) one
         LEFT JOIN pg_replication_slots s ON s.slot_name = $1
         LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid`,
      [slot, publication],
    );
    const row = r.rows[0];
    if (row.wal_level !== 'logical') {
      throw new RowtrailError(
        'SERVER_SETTING',
        `wal_level is ${row.wal_level}, logical decoding needs 'logical': ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL`,
      );
    }
    if (row.plugin === null) throw new RowtrailError('SLOT_MISSING', `replication slot '${slot}' does not exist; run \`rowtrail setup\``);
    if (row.plugin !== 'pgoutput') {
      throw new RowtrailError('SLOT_INVALID', `replication slot '${slot}' uses plugin ${row.plugin}, not pgoutput; drop it and run \`rowtrail setup\``);
    }
    if (row.wal_status === 'lost') {
      throw new RowtrailError(
        'SLOT_INVALID',
        `replication slot '${slot}' was invalidated (its WAL was removed; max_slot_wal_keep_size?): ` +
          `changes since ${row.confirmed} are lost; drop the slot and run \`rowtrail setup\` again`,
      );
    }
    if (!row.has_publication) throw new RowtrailError('PUBLICATION_MISSING', `publication '${publication}' does not exist; run \`rowtrail setup\``);
    const holder: number | null = row.active_pid;
    if (holder === null) return { version: row.version, confirmed: row.confirmed };
    // Our own earlier WAL sender, still alive on the server after a partition: end it (same role may).
    if (ownPids.has(holder)) await meta.query('SELECT pg_terminate_backend($1)', [holder]).catch(() => undefined);
    else if (Date.now() > deadline) {
      const who = [row.holder_app && `application '${row.holder_app}'`, row.holder_addr && `from ${row.holder_addr}`].filter(Boolean).join(' ');
      throw new RowtrailError(
        'SLOT_IN_USE',
        `replication slot '${slot}' is in use by PID ${holder}${who ? ` (${who})` : ''}: another rowtrail watch or consumer is reading it; ` +
          `stop that one, or give this source its own slot (sources[].slot) and run \`rowtrail setup\``,
      );
    }
    await sleep(250, signal);
    if (signal.aborted) throw new RowtrailError('CONNECT', 'stopped while waiting for the replication slot');
  }
}
