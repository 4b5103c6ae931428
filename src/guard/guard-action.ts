/**
 * Guards, the I/O edge toward the database: a separate connection (never the replication one, whose stream
 * must keep flowing) that cancels or terminates a backend, and reads table sizes for fraction lines.
 *
 * Safety: the signal is sent only to a backend whose *current* transaction is the one that crossed the line
 * (`pg_stat_activity.backend_xid = xid`, in the same statement as the signal), so a session that committed
 * meanwhile, or a pid the OS gave to another backend, is never hit. Terminate waits (PostgreSQL 14+
 * `pg_terminate_backend(pid, timeout)`) until the backend is gone, so `done` means the transaction is over.
 * Every call has a timeout; a connection that timed out or failed is dropped and made again on the next call.
 */
import pg from 'pg';
import { oneLine } from '../errors.js';
import type { ActionResult } from './guard-alert.js';

/** The server must answer an action within this (ms); terminate waits for the backend up to half of it. */
export const ACTION_TIMEOUT_MS = 5_000;

export class BackendSignaller {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;

  constructor(
    private readonly url: string,
    private readonly timeoutMs = ACTION_TIMEOUT_MS,
  ) {}

  /** Cancels or terminates the backend `pid` if it still runs transaction `xid`. Never throws. */
  async signal(action: 'cancel' | 'terminate', pid: string, xid: string): Promise<Omit<ActionResult, 'ms'>> {
    const fn = action === 'terminate' ? `pg_catalog.pg_terminate_backend(a.pid, ${Math.floor(this.timeoutMs / 2)})` : 'pg_catalog.pg_cancel_backend(a.pid)';
    try {
      const r = await this.query<{ state: string | null; ok: boolean }>(
        `SELECT a.state, ${fn} AS ok FROM pg_catalog.pg_stat_activity a WHERE a.pid = $1::int AND a.backend_xid = $2::text::xid`,
        [pid, xid],
      );
      const row = r.rows[0];
      if (!row) return { done: false, detail: await this.whyNot(pid, xid) };
      if (!row.ok) {
        const waited = Math.floor(this.timeoutMs / 2);
        const detail = action === 'terminate' ? `backend ${pid} did not end within ${waited} ms` : `the server did not signal backend ${pid}`;
        return { done: false, detail };
      }
      if (action === 'cancel' && row.state === 'idle in transaction') {
        return { done: false, detail: `backend ${pid} was idle in transaction: a cancel ends only a running statement (use terminate)` };
      }
      return { done: true, detail: `backend ${pid} ${action === 'terminate' ? 'terminated' : 'cancelled'} (it was ${row.state ?? 'running'})` };
    } catch (e) {
      return { done: false, detail: describe(e) };
    }
  }

  /** Why no backend matched: gone, moved on, or not visible to this role. */
  private async whyNot(pid: string, xid: string): Promise<string> {
    try {
      const r = await this.query<{ x: string | null; state: string | null }>(
        `SELECT backend_xid::text AS x, state FROM pg_catalog.pg_stat_activity WHERE pid = $1::int`,
        [pid],
      );
      const row = r.rows[0];
      if (!row) return `the session (backend ${pid}) had already ended`;
      if (row.state === null) return `rowtrail's role cannot see backend ${pid} (grant it pg_read_all_stats or pg_monitor)`;
      return `backend ${pid} no longer runs transaction ${xid} (it ended before the guard acted)`;
    } catch (e) {
      return describe(e);
    }
  }

  /** Catalog row estimates of `schema.table` names (reltuples, else n_live_tup). */
  async tableRows(tables: string[]): Promise<Map<string, number>> {
    const r = await this.query<{ t: string; n: string }>(
      `SELECT n.nspname || '.' || c.relname AS t,
              (CASE WHEN c.reltuples > 0 THEN c.reltuples ELSE coalesce(s.n_live_tup, 0) END)::bigint::text AS n
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid
        WHERE n.nspname || '.' || c.relname = ANY($1)`,
      [tables],
    );
    return new Map(r.rows.map((x) => [x.t, Number(x.n)]));
  }

  async close(): Promise<void> {
    const c = this.client ?? (await this.connecting?.catch(() => null));
    this.client = null;
    this.connecting = null;
    await c?.end().catch(() => undefined);
  }

  private async query<T extends pg.QueryResultRow>(text: string, params: unknown[]): Promise<pg.QueryResult<T>> {
    const c = await this.connect();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.drop(c);
        reject(new Error(`no answer from the server within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([c.query<T>(text, params), timeout]);
    } catch (e) {
      if (!(e as { code?: string }).code) this.drop(c);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const c = new pg.Client({ connectionString: this.url, application_name: 'rowtrail-guard', connectionTimeoutMillis: this.timeoutMs });
      c.on('error', () => this.drop(c));
      try {
        await c.connect();
      } catch (e) {
        this.connecting = null;
        throw e;
      }
      this.client = c;
      this.connecting = null;
      return c;
    })();
    return this.connecting;
  }

  private drop(c: pg.Client): void {
    if (this.client === c) this.client = null;
    ((c as any).connection?.stream as { destroy(): void } | undefined)?.destroy();
  }
}

/** One line from a driver or server error; the SQLSTATE says what to grant. */
function describe(e: unknown): string {
  const err = e as { code?: string; message?: string };
  if (err.code === '42501') {
    return `permission denied (${oneLine(e)}): grant rowtrail's role pg_signal_backend (a superuser's session can only be ended by a superuser)`;
  }
  return oneLine(e);
}
