/**
 * PostgreSQL sampling mode: reads pg_stat_activity every `intervalMs` and remembers which session held which
 * xid (`backend_xid`), so the resolver can call a transaction `exact` when its xid was seen. A transaction
 * shorter than the interval is often never seen: bench/identity-rate measures the rate.
 *
 * A role that is neither superuser nor member of pg_read_all_stats sees only its own role's sessions (the
 * others show `<insufficient privilege>` and no xid): the sampler says so once, with the GRANT that fixes it,
 * and those transactions stay `unknown`.
 */
import pg from 'pg';
import type { Logger } from '../log/index.js';
import type { SessionFacts } from './resolver.js';
import { SamplerLoop } from './sampler-loop.js';
import { OWN_READ_ONLY_APPLICATIONS } from './session-index.js';

export interface SamplerStats {
  samples: number;
  errors: number;
  /** Distinct xids seen. */
  xids: number;
  /** Set when the role cannot see other roles' sessions. */
  limited: string | null;
}

const SAMPLE_SQL = `SELECT pid::text AS pid, backend_xid::text AS xid, usename, application_name, client_addr::text AS addr,
  backend_start, query
FROM pg_catalog.pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid() AND datname = pg_catalog.current_database()
  AND application_name NOT IN (${OWN_READ_ONLY_APPLICATIONS.map((a) => `'${a}'`).join(', ')})`;

/** Whether the role may see every session's details; null = yes, else the one-line reason and fix. */
export async function activityVisibility(client: { query(sql: string): Promise<{ rows: any[] }> }): Promise<string | null> {
  const r = await client.query(
    `SELECT current_user AS u, r.rolsuper OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS ok
     FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
  );
  const row = r.rows[0];
  if (row?.ok) return null;
  const u = row?.u ?? 'this role';
  return (
    `role ${u} cannot see other roles' sessions in pg_stat_activity (xid, address and query are hidden): ` +
    `their transactions stay unknown; fix: GRANT pg_read_all_stats TO ${JSON.stringify(u)}`
  );
}

function iso(v: unknown): string | null {
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'string' ? v : null;
}

export class PostgresSampler extends SamplerLoop {
  private client: pg.Client | null = null;
  private limited: string | null = null;
  private seenXids = 0;

  constructor(
    private readonly url: string,
    opts: { intervalMs: number; log?: Logger },
  ) {
    super(opts.intervalMs, opts.log, 'pg_stat_activity');
  }

  stats(): SamplerStats {
    return { samples: this.samples, errors: this.errors, xids: this.seenXids, limited: this.limited };
  }

  protected async connect(): Promise<void> {
    // A bounded connect (a server that accepts TCP but never answers must not stall the loop) and TCP
    // keepalive (a dead peer is noticed by the next query failing, then the loop backs off and reconnects).
    const c = new pg.Client({ connectionString: this.url, application_name: 'rowtrail-sampler', connectionTimeoutMillis: 10_000, keepAlive: true });
    c.on('error', () => undefined); // the loop notices a dead connection and reconnects
    this.client = c;
    await c.connect();
    const limited = await activityVisibility(c).catch(() => null);
    if (limited && limited !== this.limited) this.log?.warn(limited);
    this.limited = limited;
  }

  protected async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.end();
  }

  /** One read of pg_stat_activity into the index. */
  protected async sample(): Promise<void> {
    const c = this.client!;
    const r = await c.query(SAMPLE_SQL);
    for (const row of r.rows) {
      if (row.query === '<insufficient privilege>') continue; // no facts we could trust
      const f: SessionFacts = {
        sessionId: row.pid,
        user: row.usename ?? null,
        application: row.application_name || null,
        clientAddr: row.addr ? String(row.addr).replace(/\/(32|128)$/, '') : null,
        sessionStart: iso(row.backend_start),
        query: row.query ?? null,
      };
      this.index.observeSession(f);
      if (row.xid) {
        if (!this.index.byXid(row.xid)) this.seenXids++;
        this.index.observeXid(row.xid, f);
      }
    }
  }
}
