/**
 * The embedded store: SQLite (better-sqlite3) in WAL mode under `store.path`.
 *
 * Writes are batched: a source hands over whole transactions (and slices of large ones), and `flush()`
 * writes everything pending plus the source's new position in ONE SQLite transaction, then returns the
 * position that is now durable. Only that position may be acknowledged to the database. Every write is
 * idempotent on (source, commit position): a replayed transaction that is already stored is dropped.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Actor, ChangeEvent, Row, RowChange, SystemKind } from '../model/index.js';
import { RowtrailError } from '../errors.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from './sqlite-schema.js';
import { canonicalKey, parseDuration } from './keys.js';

type Db = Database.Database;

export interface StoreOptions {
  /** `FULL` (default) survives power loss; `NORMAL` survives a process crash only (benchmarks). */
  synchronous?: 'FULL' | 'NORMAL';
  readonly?: boolean;
}

/** Facts known when a transaction commits. */
export interface CommitInfo {
  /** Commit position (the idempotence key with the source name). */
  position: string;
  commitTime: string;
  /**
   * Who made it; a function is called when the transaction is written (at the next flush), for sources
   * whose attribution needs the sampler to catch up with the statement first (MariaDB).
   */
  actor: Actor | (() => Actor);
  /** Position to store as the source's resume point once this transaction is durable. */
  resumePosition: string;
}

/** A transaction being written by a source writer. */
export interface TxHandle {
  readonly xid: string;
  /** Number of changes added so far. */
  size: number;
  /** Row id once the transaction has been (partly) written. */
  pk: number | null;
  pending: RowChange[];
  commit: CommitInfo | null;
  aborted: boolean;
  /** Written changes from this index on must be deleted (a rolled-back subtransaction). */
  truncateFrom?: number;
}

export interface ChangeFilter {
  source?: string;
  /** `schema.table` or `table`. */
  table?: string;
  txIds?: string[];
  /** Actor name: matches user, agent or kind. */
  actor?: string;
  agentRun?: string;
  /** ISO time or Date; inclusive. */
  since?: Date;
  until?: Date;
  changeIds?: string[];
  /** Row key (column → text), with `table`. */
  key?: Row;
  op?: string;
  limit?: number;
  /** Newest first (default oldest first). */
  newestFirst?: boolean;
}

interface StoredRow {
  tx_pk: number;
  idx: number;
  schema: string;
  tbl: string;
  op: string;
  key: string | null;
  before: string | null;
  after: string | null;
  changed: string | null;
  extra: string | null;
  types: string | null;
  source: string;
  system: string;
  database: string;
  xid: string;
  position: string;
  commit_time: string;
  size: number;
  actor: string | null;
}

const FLUSH_ROWS = 5000;

export class Store {
  readonly db: Db;
  readonly dir: string;
  private seq: number;
  private readonly stmts: ReturnType<Store['prepare']>;
  private readonly shapeCache = new Map<string, number>();
  /** Sources share one `types` object per table shape: most lookups hit here without serializing. */
  private readonly shapeByObject = new WeakMap<object, number>();

  private constructor(dir: string, db: Db) {
    this.dir = dir;
    this.db = db;
    this.stmts = this.prepare();
    this.seq = (db.prepare('SELECT coalesce(max(commit_seq), 0) AS s FROM transactions').get() as { s: number }).s;
  }

  /** Opens (creating when needed) the store under `dir`. */
  static open(dir: string, opts: StoreOptions = {}): Store {
    let db: Db;
    try {
      if (!opts.readonly) mkdirSync(dir, { recursive: true });
      db = new Database(join(dir, 'rowtrail.db'), { readonly: !!opts.readonly, fileMustExist: !!opts.readonly });
    } catch (e: any) {
      const why = opts.readonly && /unable to open|does not exist/i.test(String(e?.message))
        ? `no store at ${dir} yet (run \`rowtrail watch\` first, or check store.path)`
        : `cannot open the store at ${dir}: ${e?.message ?? e}`;
      throw new RowtrailError('STORE', why, e);
    }
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
      db.exec(SCHEMA_SQL);
      const v = db.prepare(`SELECT v FROM meta WHERE k = 'schema_version'`).get() as { v: string } | undefined;
      if (!v) db.prepare(`INSERT INTO meta (k, v) VALUES ('schema_version', ?)`).run(String(SCHEMA_VERSION));
      else if (Number(v.v) > SCHEMA_VERSION) {
        throw new RowtrailError('STORE', `the store at ${dir} was written by a newer rowtrail (schema ${v.v}); upgrade rowtrail`);
      }
    }
    db.pragma('busy_timeout = 5000');
    // 16 MB of page cache: enough for the indexes' hot pages; memory stays bounded whatever the load.
    db.pragma('cache_size = -16384');
    return new Store(dir, db);
  }

  private prepare() {
    const db = this.db;
    return {
      insertTx: db.prepare(
        `INSERT INTO transactions (source, system, database, xid, state) VALUES (?, ?, ?, ?, 'open')`,
      ),
      commitTx: db.prepare(
        `UPDATE transactions SET state = 'committed', position = ?, commit_seq = ?, commit_time = ?, commit_us = ?,
           size = ?, actor = ?, actor_user = ?, actor_agent = ?, actor_kind = ?, agent_run = ? WHERE tx_pk = ?`,
      ),
      insertChange: db.prepare(
        `INSERT INTO changes (tx_pk, idx, schema, tbl, op, key, before, after, changed, extra, shape_pk)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deleteTx: db.prepare(`DELETE FROM transactions WHERE tx_pk = ?`),
      deleteTxChanges: db.prepare(`DELETE FROM changes WHERE tx_pk = ?`),
      truncateChanges: db.prepare(`DELETE FROM changes WHERE tx_pk = ? AND idx >= ?`),
      isCommitted: db.prepare(`SELECT 1 FROM transactions WHERE source = ? AND position = ? AND state = 'committed'`),
      setPosition: db.prepare(
        `INSERT INTO positions (source, position, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (source) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
      ),
      getPosition: db.prepare(`SELECT position FROM positions WHERE source = ?`),
      findShape: db.prepare(`SELECT shape_pk FROM shapes WHERE source = ? AND schema = ? AND tbl = ? AND types = ?`),
      insertShape: db.prepare(`INSERT INTO shapes (source, schema, tbl, types) VALUES (?, ?, ?, ?)`),
      openTxs: db.prepare(`SELECT tx_pk FROM transactions WHERE source = ? AND state = 'open'`),
    };
  }

  /** The last durable position of a source, or null when it never stored one. */
  position(source: string): string | null {
    const r = this.stmts.getPosition.get(source) as { position: string } | undefined;
    return r?.position ?? null;
  }

  /** Whether the transaction with this commit position is already stored (a replay). */
  isCommitted(source: string, position: string): boolean {
    return this.stmts.isCommitted.get(source, position) !== undefined;
  }

  /** A writer for one source. Removes what a crash left half-written by that source. */
  writer(source: string, system: SystemKind, database: string): SourceWriter {
    return new SourceWriter(this, source, system, database);
  }

  /** @internal removes open transactions of a source (crash leftovers; the source replays them). */
  removeOpen(source: string): number {
    const rows = this.stmts.openTxs.all(source) as { tx_pk: number }[];
    this.db.transaction(() => {
      for (const r of rows) {
        this.stmts.deleteTxChanges.run(r.tx_pk);
        this.stmts.deleteTx.run(r.tx_pk);
      }
    })();
    return rows.length;
  }

  /** @internal */
  shapeId(source: string, change: RowChange): number | null {
    if (!change.types) return null;
    const byObject = this.shapeByObject.get(change.types);
    if (byObject !== undefined) return byObject;
    const types = JSON.stringify(change.types);
    const ck = `${source}\u0000${change.schema}\u0000${change.table}\u0000${types}`;
    const hit = this.shapeCache.get(ck);
    if (hit !== undefined) return hit;
    const row = this.stmts.findShape.get(source, change.schema, change.table, types) as { shape_pk: number } | undefined;
    const id = row ? row.shape_pk : Number(this.stmts.insertShape.run(source, change.schema, change.table, types).lastInsertRowid);
    this.shapeCache.set(ck, id);
    this.shapeByObject.set(change.types, id);
    return id;
  }

  /** @internal writes a batch of transactions and the position, atomically. */
  writeBatch(w: SourceWriter, txs: TxHandle[], position: string | null): void {
    const s = this.stmts;
    const run = this.db.transaction(() => {
      for (const tx of txs) {
        if (tx.aborted) {
          if (tx.pk !== null) {
            s.deleteTxChanges.run(tx.pk);
            s.deleteTx.run(tx.pk);
            tx.pk = null;
          }
          continue;
        }
        if (tx.commit && s.isCommitted.get(w.source, tx.commit.position) !== undefined) {
          // A replay of a transaction we already have (the ack did not reach the server before a crash).
          if (tx.pk !== null) {
            s.deleteTxChanges.run(tx.pk);
            s.deleteTx.run(tx.pk);
            tx.pk = null;
          }
          tx.pending = [];
          continue;
        }
        if (tx.pk === null) tx.pk = Number(s.insertTx.run(w.source, w.system, w.database, tx.xid).lastInsertRowid);
        else if (tx.truncateFrom !== undefined) s.truncateChanges.run(tx.pk, tx.truncateFrom);
        tx.truncateFrom = undefined;
        let idx = tx.size - tx.pending.length;
        for (const c of tx.pending) {
          s.insertChange.run(
            tx.pk,
            idx++,
            c.schema,
            c.table,
            c.op,
            c.key ? canonicalKey(c.key) : null,
            c.before ? JSON.stringify(c.before) : null,
            c.after ? JSON.stringify(c.after) : null,
            impliedChanged(c) ? null : JSON.stringify(c.changed),
            extraOf(c),
            this.shapeId(w.source, c),
          );
        }
        tx.pending = [];
        if (tx.commit) {
          const a = typeof tx.commit.actor === 'function' ? tx.commit.actor() : tx.commit.actor;
          const run = a.context && typeof a.context.run === 'string' ? a.context.run : null;
          s.commitTx.run(
            tx.commit.position,
            ++this.seq,
            tx.commit.commitTime,
            isoToMicros(tx.commit.commitTime),
            tx.size,
            JSON.stringify(a),
            a.user ?? null,
            a.agent ?? null,
            a.kind,
            run,
            tx.pk,
          );
        }
      }
      if (position !== null) s.setPosition.run(w.source, position, new Date().toISOString());
    });
    try {
      run();
    } catch (e: any) {
      throw new RowtrailError('STORE', `store write failed: ${e?.message ?? e}`, e);
    }
  }

  /** Change events matching a filter, oldest first (or newest first). */
  *changes(f: ChangeFilter = {}): IterableIterator<ChangeEvent> {
    const { where, args } = txWhere(f);
    if (f.table) {
      const dot = f.table.indexOf('.');
      if (dot > 0) {
        where.push('c.schema = ? AND c.tbl = ?');
        args.push(f.table.slice(0, dot), f.table.slice(dot + 1));
      } else {
        where.push('c.tbl = ?');
        args.push(f.table);
      }
    }
    if (f.key) {
      where.push('c.key = ?');
      args.push(canonicalKey(f.key));
    }
    if (f.txIds?.length) {
      where.push(`(t.xid IN (${f.txIds.map(() => '?').join(',')}) OR t.position IN (${f.txIds.map(() => '?').join(',')}))`);
      args.push(...f.txIds, ...f.txIds);
    }
    if (f.actor) {
      where.push('(t.actor_user = ? OR t.actor_agent = ? OR t.actor_kind = ?)');
      args.push(f.actor, f.actor, f.actor);
    }
    if (f.agentRun) {
      where.push('t.agent_run = ?');
      args.push(f.agentRun);
    }
    if (f.op) {
      where.push('c.op = ?');
      args.push(f.op);
    }
    if (f.changeIds?.length) {
      const parts: string[] = [];
      for (const id of f.changeIds) {
        const p = parseChangeId(id);
        if (!p) continue;
        parts.push('(t.source = ? AND t.position = ? AND c.idx = ?)');
        args.push(p.source, p.position, p.index);
      }
      where.push(parts.length ? `(${parts.join(' OR ')})` : '0');
    }
    const dir = f.newestFirst ? 'DESC' : 'ASC';
    const sql = `SELECT c.tx_pk, c.idx, c.schema, c.tbl, c.op, c.key, c.before, c.after, c.changed, c.extra, s.types,
        t.source, t.system, t.database, t.xid, t.position, t.commit_time, t.size, t.actor
      FROM changes c JOIN transactions t ON t.tx_pk = c.tx_pk LEFT JOIN shapes s ON s.shape_pk = c.shape_pk
      WHERE ${where.join(' AND ')}
      ORDER BY t.commit_seq ${dir}, c.idx ${dir}${f.limit ? ` LIMIT ${Math.max(0, Math.floor(f.limit))}` : ''}`;
    for (const r of this.db.prepare(sql).iterate(...args) as IterableIterator<StoredRow>) yield toEvent(r);
  }

  /**
   * Retention: removes committed transactions (and their changes) older than `beforeMs` (ms since the
   * epoch), in batches so the writer is never blocked for long. Returns how many transactions went.
   */
  prune(beforeMs: number, batch = 2000): number {
    const pick = this.db.prepare(`SELECT tx_pk FROM transactions WHERE state = 'committed' AND commit_us < ? LIMIT ?`);
    let removed = 0;
    for (;;) {
      const ids = (pick.all(beforeMs * 1000, batch) as { tx_pk: number }[]).map((r) => r.tx_pk);
      if (ids.length === 0) return removed;
      this.db.transaction(() => {
        for (const id of ids) {
          this.stmts.deleteTxChanges.run(id);
          this.stmts.deleteTx.run(id);
        }
      })();
      removed += ids.length;
    }
  }

  /** How transactions of a source were attributed since a time (ms since the epoch): counts per confidence. */
  attribution(source: string, sinceMs: number): { attributed: number; exact: number; inferred: number; unknown: number } {
    const rows = this.db
      .prepare(
        `SELECT json_extract(actor, '$.confidence') AS c, count(*) AS n FROM transactions
          WHERE source = ? AND state = 'committed' AND commit_us >= ? GROUP BY 1`,
      )
      .all(source, sinceMs * 1000) as { c: string; n: number }[];
    const by = (k: string) => rows.find((r) => r.c === k)?.n ?? 0;
    const exact = by('exact');
    const inferred = by('inferred');
    return { attributed: exact + inferred, exact, inferred, unknown: rows.reduce((a, r) => a + r.n, 0) - exact - inferred };
  }

  /** Who wrote what: per actor (user, agent, kind) and table, change and transaction counts, time range, confidence. */
  actors(f: { source?: string; since?: Date; until?: Date } = {}): ActorSummary[] {
    const { where, args } = txWhere(f);
    const rows = this.db
      .prepare(
        `SELECT t.actor_user AS user, t.actor_agent AS agent, t.actor_kind AS kind,
                json_extract(t.actor, '$.confidence') AS confidence,
                count(*) AS transactions, sum(t.size) AS changes,
                min(t.commit_time) AS first, max(t.commit_time) AS last,
                (SELECT group_concat(x, ',') FROM (SELECT DISTINCT c.schema || '.' || c.tbl AS x FROM changes c JOIN transactions t2 ON t2.tx_pk = c.tx_pk
                   WHERE t2.state = 'committed' AND t2.actor_user IS t.actor_user AND t2.actor_agent IS t.actor_agent AND t2.actor_kind IS t.actor_kind LIMIT 20)) AS tables
           FROM transactions t WHERE ${where.join(' AND ')}
          GROUP BY t.actor_user, t.actor_agent, t.actor_kind, confidence
          ORDER BY changes DESC`,
      )
      .all(...args) as (Omit<ActorSummary, 'tables'> & { tables: string | null })[];
    return rows.map((r) => ({ ...r, tables: r.tables ? r.tables.split(',') : [] }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export interface ActorSummary {
  user: string | null;
  agent: string | null;
  kind: string;
  confidence: string;
  transactions: number;
  changes: number;
  first: string;
  last: string;
  tables: string[];
}

/** Buffers one source's transactions and writes them in batches; see Store. */
export class SourceWriter {
  readonly source: string;
  readonly system: SystemKind;
  readonly database: string;
  private readonly store: Store;
  /** Transactions with data or state not yet written. */
  private dirty = new Set<TxHandle>();
  private pendingRows = 0;
  /** Resume position of the newest committed transaction handed over, not yet durable. */
  private pendingPosition: string | null = null;
  /** Transactions received but not yet committed or aborted. */
  private readonly inFlight = new Set<TxHandle>();

  constructor(store: Store, source: string, system: SystemKind, database: string) {
    this.store = store;
    this.source = source;
    this.system = system;
    this.database = database;
    const removed = store.removeOpen(source);
    this.removedOnOpen = removed;
  }

  /** How many half-written transactions a previous crash had left (removed at open). */
  readonly removedOnOpen: number;

  /** Starts a transaction. */
  begin(xid: string): TxHandle {
    const tx: TxHandle = { xid, size: 0, pk: null, pending: [], commit: null, aborted: false };
    this.inFlight.add(tx);
    return tx;
  }

  /** Whether a transaction with this commit position is already stored (a replay to skip). */
  isCommitted(position: string): boolean {
    return this.store.isCommitted(this.source, position);
  }

  add(tx: TxHandle, change: RowChange): void {
    if (tx.pending.length === 0) this.markDirty(tx);
    tx.pending.push(change);
    tx.size++;
    this.pendingRows++;
  }

  /** Marks the transaction committed; durable after the next flush. */
  commit(tx: TxHandle, info: CommitInfo): void {
    tx.commit = info;
    this.inFlight.delete(tx);
    this.markDirty(tx);
    this.pendingPosition = info.resumePosition;
  }

  /** Drops a transaction (rolled back, or a replay to skip); its written slices are removed at the next flush. */
  abort(tx: TxHandle): void {
    tx.aborted = true;
    this.pendingRows -= tx.pending.length;
    tx.pending = [];
    this.inFlight.delete(tx);
    if (tx.pk !== null) this.markDirty(tx);
  }

  /** Cuts a transaction back to its first `size` changes (a subtransaction rolled back). */
  truncate(tx: TxHandle, size: number): void {
    if (size >= tx.size) return;
    const written = tx.size - tx.pending.length;
    if (size >= written) {
      this.pendingRows -= tx.pending.length - (size - written);
      tx.pending = tx.pending.slice(0, size - written);
    } else {
      this.pendingRows -= tx.pending.length;
      tx.pending = [];
      tx.truncateFrom = Math.min(tx.truncateFrom ?? Infinity, size);
      this.markDirty(tx);
    }
    tx.size = size;
  }

  /** Records a new resume position that covers no transaction (e.g. a keepalive while idle). */
  advance(position: string): void {
    this.pendingPosition = position;
  }

  /** Rows buffered in memory. */
  get buffered(): number {
    return this.pendingRows;
  }

  /** True when enough is buffered that the caller should flush now (bounded memory). */
  get shouldFlush(): boolean {
    return this.pendingRows >= FLUSH_ROWS;
  }

  /** Whether any transaction is received but not committed (its data may be partly written). */
  get hasInFlight(): boolean {
    return this.inFlight.size > 0;
  }

  /**
   * Writes everything buffered, and the newest resume position, in one SQLite transaction.
   * Returns the position that is now durable (to acknowledge), or null when nothing new became durable.
   */
  flush(): string | null {
    if (this.dirty.size === 0 && this.pendingPosition === null) return null;
    const txs = [...this.dirty];
    const pos = this.pendingPosition;
    this.store.writeBatch(this, txs, pos);
    this.dirty.clear();
    this.pendingRows = 0;
    this.pendingPosition = null;
    return pos;
  }

  private markDirty(tx: TxHandle): void {
    this.dirty.add(tx);
  }
}

/** Inserts and deletes change every column of their image: `changed` is then not stored but derived. */
function impliedChanged(c: RowChange): boolean {
  const img = c.op === 'insert' ? c.after : c.op === 'delete' ? c.before : null;
  if (!img) return false;
  let n = 0;
  for (const k in img) {
    if (c.changed[n] !== k) return false;
    n++;
  }
  return n === c.changed.length;
}

/** WHERE parts on committed transactions: source and commit-time window. */
function txWhere(f: { source?: string; since?: Date; until?: Date }): { where: string[]; args: unknown[] } {
  const where = [`t.state = 'committed'`];
  const args: unknown[] = [];
  if (f.source) {
    where.push('t.source = ?');
    args.push(f.source);
  }
  if (f.since) {
    where.push('t.commit_us >= ?');
    args.push(f.since.getTime() * 1000);
  }
  if (f.until) {
    where.push('t.commit_us <= ?');
    args.push(f.until.getTime() * 1000);
  }
  return { where, args };
}

function extraOf(c: RowChange): string | null {
  if (!c.incomplete && !c.missing && !c.truncate && c.ddl === undefined) return null;
  const x: Record<string, unknown> = {};
  if (c.incomplete) x.incomplete = c.incomplete;
  if (c.missing) x.missing = c.missing;
  if (c.truncate) x.truncate = c.truncate;
  if (c.ddl !== undefined) x.ddl = c.ddl;
  return JSON.stringify(x);
}

function toEvent(r: StoredRow): ChangeEvent {
  const before: Row | null = r.before ? JSON.parse(r.before) : null;
  const after: Row | null = r.after ? JSON.parse(r.after) : null;
  const ev: ChangeEvent = {
    id: `${r.source}:${r.position}:${r.idx}`,
    source: r.source,
    system: r.system as SystemKind,
    database: r.database,
    schema: r.schema,
    table: r.tbl,
    op: r.op as ChangeEvent['op'],
    key: r.key ? JSON.parse(r.key) : null,
    before,
    after,
    changed: r.changed !== null ? JSON.parse(r.changed) : Object.keys((r.op === 'delete' ? before : after) ?? {}),
    tx: { id: r.xid, position: r.position, commitTime: r.commit_time, index: r.idx, size: r.size },
    actor: r.actor ? JSON.parse(r.actor) : { kind: 'unknown', confidence: 'unknown' },
  };
  if (r.extra) Object.assign(ev, JSON.parse(r.extra));
  if (r.types) ev.types = JSON.parse(r.types);
  return ev;
}

/** `source:position:index` → parts (the position may itself contain ':' for MySQL file:pos). */
export function parseChangeId(id: string): { source: string; position: string; index: number } | null {
  const first = id.indexOf(':');
  const last = id.lastIndexOf(':');
  if (first <= 0 || last <= first) return null;
  const index = Number(id.slice(last + 1));
  if (!Number.isInteger(index) || index < 0) return null;
  return { source: id.slice(0, first), position: id.slice(first + 1, last), index };
}

/** ISO-8601 with up to µs → integer µs since the epoch (for range queries). */
export function isoToMicros(iso: string): number {
  const m = /\.(\d+)/.exec(iso);
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return 0;
  const frac = m ? (m[1] + '000000').slice(0, 6) : '000000';
  return Math.floor(ms / 1000) * 1_000_000 + Number(frac);
}

export { parseDuration };
