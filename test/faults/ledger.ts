/**
 * The fault suite's workload and its ledger. Each transaction writes one `ledger` row (a unique ledger id,
 * `lid`, and the number of row changes the transaction makes) and that many `items` changes carrying the
 * same `lid`: 1 + k inserts (k = 1…4) and, every third transaction, one update. The writer connects to the
 * database directly (never through the fault proxy) and keeps the ids whose COMMIT it saw succeed; the
 * database's own `ledger` table is the truth (a COMMIT cut off by a restart may have committed or not).
 */
import pg from 'pg';
import mysql from 'mysql2/promise';
import type { ChangeEvent } from '../../src/model/index.js';
import type { PgServer } from '../harness/postgres.js';
import type { MariaServer } from '../harness/mariadb.js';

export interface LedgerConn {
  /** One transaction: the ledger row, `items` inserts, and an update when `update`; throws on any failure. */
  tx(lid: number, items: number, update: boolean): Promise<void>;
  close(): Promise<void>;
}

export interface LedgerTarget {
  /** The database user the workload writes as: the only `actor.user` a change may name. */
  user: string;
  connect(): Promise<LedgerConn>;
  /** lid → number of changes, for every committed transaction, read from the database itself. */
  truth(): Promise<Map<number, number>>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Changes a transaction makes: its ledger row, its items, its update. */
export const changesOf = (items: number, update: boolean) => 1 + items + (update ? 1 : 0);

export class Workload {
  /** lid → changes, for each transaction whose COMMIT returned. */
  readonly acked = new Map<number, number>();
  errors = 0;
  private next = 1;
  private stopped = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly target: LedgerTarget,
    /** Pause between transactions: leaves CPU to the daemon on a 2-core machine. */
    private readonly paceMs = 10,
  ) {}

  get user(): string {
    return this.target.user;
  }

  start(): void {
    this.running ??= this.loop();
  }

  private async loop(): Promise<void> {
    let conn: LedgerConn | null = null;
    while (!this.stopped) {
      const lid = this.next++;
      const items = 1 + (lid % 4);
      const update = lid % 3 === 0;
      try {
        conn ??= await this.target.connect();
        await conn.tx(lid, items, update);
        this.acked.set(lid, changesOf(items, update));
      } catch {
        // the server restarted or went away: reconnect; the ledger table says whether this one committed
        this.errors++;
        await conn?.close().catch(() => undefined);
        conn = null;
        await sleep(200);
      }
      await sleep(this.paceMs);
    }
    await conn?.close().catch(() => undefined);
  }

  /** One large transaction (`rows` item inserts) on its own connection; resolves with its lid once committed. */
  async large(rows: number): Promise<number> {
    const lid = this.next++;
    const conn = await this.target.connect();
    try {
      await conn.tx(lid, rows, false);
      this.acked.set(lid, changesOf(rows, false));
      return lid;
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

// ---------------------------------------------------------------------------------------------- PostgreSQL

const PG_USER = 'ledger_writer';

/** Creates the ledger tables in `db` and the writer role (once per server). */
export async function pgLedger(server: PgServer, db: string): Promise<LedgerTarget> {
  await server.psql(`DO $$ BEGIN CREATE ROLE ${PG_USER} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`, db);
  await server.psql(
    `CREATE TABLE ledger (lid int PRIMARY KEY, n int NOT NULL);
     CREATE TABLE items (id bigserial PRIMARY KEY, lid int NOT NULL, v text NOT NULL);
     CREATE INDEX ON items (lid);
     GRANT ALL ON ledger, items, items_id_seq TO ${PG_USER}`,
    db,
  );
  return {
    user: PG_USER,
    async connect() {
      const c = new pg.Client({ connectionString: server.url(db, PG_USER), application_name: 'ledger-workload' });
      c.on('error', () => undefined);
      await c.connect();
      return {
        async tx(lid, items, update) {
          await c.query('BEGIN');
          await c.query('INSERT INTO ledger (lid, n) VALUES ($1, $2)', [lid, changesOf(items, update)]);
          await c.query(`INSERT INTO items (lid, v) SELECT $1, 'v' || g FROM generate_series(1, $2::int) g`, [lid, items]);
          if (update) await c.query(`UPDATE items SET v = v || '!' WHERE id = (SELECT min(id) FROM items WHERE lid = $1)`, [lid]);
          await c.query('COMMIT');
        },
        close: () => c.end(),
      };
    },
    async truth() {
      const out = await server.psql('SELECT lid, n FROM ledger', db);
      return new Map(out.trim().split('\n').filter(Boolean).map((l) => l.split('|').map(Number) as [number, number]));
    },
  };
}

// ---------------------------------------------------------------------------------------------------- MariaDB

const MY_USER = 'ledger';

/** Creates database `db` with the ledger tables and the writer user. */
export async function mariaLedger(server: MariaServer, db: string): Promise<LedgerTarget> {
  await server.sql(
    `CREATE DATABASE ${db};
     CREATE TABLE ${db}.ledger (lid INT PRIMARY KEY, n INT NOT NULL);
     CREATE TABLE ${db}.items (id BIGINT AUTO_INCREMENT PRIMARY KEY, lid INT NOT NULL, v VARCHAR(40) NOT NULL, KEY (lid));
     CREATE USER IF NOT EXISTS '${MY_USER}'@'127.0.0.1' IDENTIFIED BY '${MY_USER}';
     GRANT ALL ON ${db}.* TO '${MY_USER}'@'127.0.0.1'`,
  );
  const open = (user: string, password?: string) =>
    mysql.createConnection({ host: '127.0.0.1', port: server.port, user, password, database: db, multipleStatements: false });
  return {
    user: MY_USER,
    async connect() {
      const c = await open(MY_USER, MY_USER);
      c.on('error', () => undefined);
      return {
        async tx(lid, items, update) {
          await c.query('START TRANSACTION');
          await c.query('INSERT INTO ledger (lid, n) VALUES (?, ?)', [lid, changesOf(items, update)]);
          for (let done = 0; done < items; done += 1000) {
            const rows = Array.from({ length: Math.min(1000, items - done) }, (_, i) => [lid, `v${done + i + 1}`]);
            await c.query('INSERT INTO items (lid, v) VALUES ?', [rows]);
          }
          if (update) await c.query(`UPDATE items SET v = CONCAT(v, '!') WHERE lid = ? ORDER BY id LIMIT 1`, [lid]);
          await c.query('COMMIT');
        },
        close: () => c.end(),
      };
    },
    async truth() {
      const c = await open('root');
      try {
        const [rows] = await c.query('SELECT lid, n FROM ledger');
        return new Map((rows as { lid: number; n: number }[]).map((r) => [r.lid, r.n]));
      } finally {
        await c.end();
      }
    },
  };
}

// ------------------------------------------------------------------------------------------------- verdict

export interface Verdict {
  /** Committed transactions (the database's ledger). */
  committed: number;
  /** Row changes those transactions made. */
  changes: number;
  /** Changes of committed transactions that rowtrail does not have. */
  lost: number;
  /** Changes rowtrail has more than once (or of a transaction that never committed). */
  duplicated: number;
  /** Changes attributed to a user other than the workload's (unknown is fine; wrong never is). */
  wrongActors: number;
  /** Transactions whose COMMIT returned but which the database does not have (the database's loss). */
  ackedNotInDb: number;
}

/** Compares `rowtrail changes --json` events of the ledger tables against the ledger. */
export function judge(truth: Map<number, number>, acked: Map<number, number>, events: ChangeEvent[], user: string): Verdict {
  const got = new Map<number, number>();
  let duplicated = 0;
  let wrongActors = 0;
  for (const ev of events) {
    if (ev.table !== 'ledger' && ev.table !== 'items') continue;
    const lid = Number((ev.after ?? ev.before)?.lid);
    got.set(lid, (got.get(lid) ?? 0) + 1);
    if (ev.actor.user != null && ev.actor.user !== user) wrongActors++;
  }
  let lost = 0;
  let changes = 0;
  for (const [lid, n] of truth) {
    changes += n;
    const g = got.get(lid) ?? 0;
    if (g < n) lost += n - g;
    if (g > n) duplicated += g - n;
  }
  for (const [lid, g] of got) if (!truth.has(lid)) duplicated += g;
  let ackedNotInDb = 0;
  for (const lid of acked.keys()) if (!truth.has(lid)) ackedNotInDb++;
  return { committed: truth.size, changes, lost, duplicated, wrongActors, ackedNotInDb };
}
