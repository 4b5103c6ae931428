/**
 * The embedded store: SQLite (better-sqlite3) in WAL mode under `store.path`.
 *
 * Writes are batched: a source hands over whole transactions (and slices of large ones), and each batch is
 * written with the source's new position in ONE SQLite transaction, after which that position is durable.
 * Only that position may be acknowledged to the database. Every write is idempotent on (source, commit
 * position): a replayed transaction that is already stored is dropped. Sources write on a worker thread
 * (sqlite-worker.ts) so decoding and writing overlap; readers use this (main-thread) connection, which WAL
 * lets read beside the worker's writes.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Actor, ChangeEvent, Row, RowChange, SystemKind } from '../model/index.js';
import { RowtrailError } from '../errors.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from './sqlite-schema.js';
import { canonicalKey, parseDuration } from './keys.js';
import { BatchWriter, type Batch, type BatchTx } from './sqlite-batch.js';
import type { WorkerReply, WorkerRequest } from './sqlite-worker.js';

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
  /** Unique per Store: the write side maps it to the transaction's row. */
  readonly id: number;
  readonly xid: string;
  /** Number of changes added so far. */
  size: number;
  /** Whether a slice of it has been handed to the write side. */
  written: boolean;
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
/** Batches a worker writer may have posted and not yet seen written (bounds memory; see SourceWriter.full). */
const MAX_IN_FLIGHT = 2;

export class Store {
  readonly db: Db;
  readonly dir: string;
  private readonly synchronous: 'FULL' | 'NORMAL';
  private readonly stmts: ReturnType<Store['prepare']>;
  /** Writes of synchronous writers (on this connection), and the write worker of the others; both lazy. */
  private syncWrites: BatchWriter | null = null;
  private worker: WriteWorker | null = null;
  private lastId = 0;

  private constructor(dir: string, db: Db, synchronous: 'FULL' | 'NORMAL') {
    this.dir = dir;
    this.db = db;
    this.synchronous = synchronous;
    this.stmts = this.prepare();
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
    return new Store(dir, db, opts.synchronous ?? 'FULL');
  }

  private prepare() {
    const db = this.db;
    return {
      isCommitted: db.prepare(`SELECT 1 FROM transactions WHERE source = ? AND position = ? AND state = 'committed'`),
      getPosition: db.prepare(`SELECT position FROM positions WHERE source = ?`),
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

  /**
   * A writer for one source. Removes what a crash left half-written by that source. With `worker`, its
   * writes run on the store's write worker (`post()`, `drain()`); without, on this connection (`flush()`).
   */
  writer(source: string, system: SystemKind, database: string, opts: { worker?: boolean } = {}): SourceWriter {
    return new SourceWriter(this, source, system, database, !!opts.worker);
  }

  /** @internal a new id for a transaction or a shape. */
  nextId(): number {
    return ++this.lastId;
  }

  /** Writes on this (main-thread) connection: crash leftovers, retention, synchronous flushes. */
  private get writes(): BatchWriter {
    this.syncWrites ??= new BatchWriter(this.db);
    return this.syncWrites;
  }

  /** @internal removes open transactions of a source (crash leftovers; the source replays them). */
  removeOpen(source: string): number {
    return this.writes.removeOpen(source);
  }

  /** @internal writes a batch, here (`cb` is called before returning) or on the write worker. */
  submit(batch: Batch, onWorker: boolean, cb: (r: WorkerReply) => void): void {
    if (onWorker) {
      this.worker ??= new WriteWorker(join(this.dir, 'rowtrail.db'), this.synchronous);
      this.worker.post(batch, cb);
      return;
    }
    let position: string | null;
    try {
      position = this.writes.apply(batch);
    } catch (e: any) {
      return cb({ no: 0, position: null, error: String(e?.message ?? e) });
    }
    cb({ no: 0, position });
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
    return this.writes.prune(beforeMs * 1000, batch);
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

  /**
   * Who wrote what: per actor (user, agent, kind, confidence) the transactions, changes, first and last commit,
   * and the tables written, all within the same window and source. One pass over the window's transactions
   * (and their changes, by primary key), not a scan of the whole store per actor.
   */
  actors(f: { source?: string; since?: Date; until?: Date } = {}): ActorSummary[] {
    const { where, args } = txWhere(f);
    const rows = this.db
      .prepare(
        `WITH tx AS (SELECT t.tx_pk, t.actor_user AS user, t.actor_agent AS agent, t.actor_kind AS kind,
                            json_extract(t.actor, '$.confidence') AS confidence, t.size, t.commit_time
                       FROM transactions t WHERE ${where.join(' AND ')}),
              per_actor AS (SELECT user, agent, kind, confidence, count(*) AS transactions, sum(size) AS changes,
                                   min(commit_time) AS first, max(commit_time) AS last
                              FROM tx GROUP BY user, agent, kind, confidence),
              written AS (SELECT user, agent, kind, confidence, group_concat(name, char(31)) AS tables -- char(31): a table name may hold a comma
                            FROM (SELECT DISTINCT tx.user, tx.agent, tx.kind, tx.confidence, c.schema || '.' || c.tbl AS name
                                    FROM tx JOIN changes c ON c.tx_pk = tx.tx_pk ORDER BY name)
                           GROUP BY user, agent, kind, confidence)
         SELECT a.*, w.tables FROM per_actor a
           LEFT JOIN written w ON w.user IS a.user AND w.agent IS a.agent AND w.kind IS a.kind AND w.confidence IS a.confidence
          ORDER BY a.changes DESC`,
      )
      .all(...args) as (Omit<ActorSummary, 'tables'> & { tables: string | null })[];
    return rows.map((r) => ({ ...r, tables: r.tables ? r.tables.split('\x1f').sort() : [] }));
  }

  /** Closes the connection and stops the write worker (its writers must be drained first). */
  close(): void {
    this.worker?.close();
    this.worker = null;
    if (this.db.open) this.db.close();
  }
}

/** The write worker of a Store: posts batches in order, calls each one's callback with its reply. */
class WriteWorker {
  private readonly worker: Worker;
  private lastNo = 0;
  private readonly waiting = new Map<number, (r: WorkerReply) => void>();
  private dead: string | null = null;

  constructor(path: string, synchronous: 'FULL' | 'NORMAL') {
    this.worker = startWorker({ path, synchronous });
    this.worker.on('message', (r: WorkerReply) => {
      const cb = this.waiting.get(r.no);
      this.waiting.delete(r.no);
      // Referenced only while writes are outstanding: an idle worker does not keep the process alive.
      if (this.waiting.size === 0) this.worker.unref();
      cb?.(r);
    });
    const die = (why: string) => {
      this.dead ??= why;
      const cbs = [...this.waiting.values()];
      this.waiting.clear();
      for (const cb of cbs) cb({ no: 0, position: null, error: this.dead });
    };
    this.worker.on('error', (e) => die(`the store's write worker failed: ${e?.message ?? e}`));
    this.worker.on('exit', (code) => die(`the store's write worker exited (code ${code})`));
    this.worker.unref();
  }

  post(batch: Batch, cb: (r: WorkerReply) => void): void {
    if (this.dead !== null) {
      const error = this.dead;
      queueMicrotask(() => cb({ no: 0, position: null, error }));
      return;
    }
    const no = ++this.lastNo;
    this.waiting.set(no, cb);
    this.worker.ref();
    this.worker.postMessage({ no, batch } satisfies WorkerRequest);
  }

  close(): void {
    this.dead ??= 'the store was closed';
    void this.worker.terminate();
  }
}

function startWorker(workerData: { path: string; synchronous: 'FULL' | 'NORMAL' }): Worker {
  const ts = import.meta.url.endsWith('.ts');
  const entry = new URL(ts ? './sqlite-worker.ts' : './sqlite-worker.js', import.meta.url);
  // A batch is garbage once written: a small young generation keeps the worker's heap (and RSS) small.
  const resourceLimits = { maxYoungGenerationSizeMb: 8 };
  if (!ts) return new Worker(entry, { workerData, resourceLimits });
  // Running from TypeScript source (tsx, vitest): the worker registers tsx's loader, then imports the
  // entry (on Node 20 `execArgv: ['--import', 'tsx']` does not apply to a worker's entry module).
  const req = createRequire(import.meta.url);
  const pkg = req.resolve('tsx/package.json');
  const api = new URL(req(pkg).exports['./esm/api'].import.default, pathToFileURL(pkg)).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData, resourceLimits });
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

/**
 * Buffers one source's transactions and hands them to the write side in batches; see Store.
 *
 * A synchronous writer writes on the Store's connection: `flush()` returns the durable position. A worker
 * writer serializes each batch here (JSON of the images, the actor resolved) and posts it to the store's
 * write worker: `post()` returns at once, and the callback of `onWritten` gets the durable position when
 * the worker replies. At most MAX_IN_FLIGHT batches are posted and unanswered; while `full`, the source
 * must stop reading (what it still adds is buffered and posted when a batch is answered).
 */
export class SourceWriter {
  readonly source: string;
  readonly system: SystemKind;
  readonly database: string;
  private readonly store: Store;
  private readonly onWorker: boolean;
  /** Transactions with data or state not yet written. */
  private dirty = new Set<TxHandle>();
  private pendingRows = 0;
  /** Resume position of the newest committed transaction handed over, not yet posted. */
  private pendingPosition: string | null = null;
  /** Transactions received but not yet committed or aborted. */
  private readonly inFlight = new Set<TxHandle>();
  /** Commit positions handed over and not yet written (isCommitted must see them). */
  private readonly unwritten = new Set<string>();
  /** Key of each table shape (`types` object) already sent to the write side. */
  private readonly shapeKeys = new WeakMap<object, number>();
  private readonly shapeKeysByJson = new Map<string, number>();
  private posted = 0;
  private postWanted = false;
  private failure: RowtrailError | null = null;
  private written: (durable: string | null, error: RowtrailError | null) => void = () => undefined;
  private drains: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(store: Store, source: string, system: SystemKind, database: string, onWorker = false) {
    this.store = store;
    this.source = source;
    this.system = system;
    this.database = database;
    this.onWorker = onWorker;
    const removed = store.removeOpen(source);
    this.removedOnOpen = removed;
  }

  /** How many half-written transactions a previous crash had left (removed at open). */
  readonly removedOnOpen: number;

  /** Starts a transaction. */
  begin(xid: string): TxHandle {
    const tx: TxHandle = { id: this.store.nextId(), xid, size: 0, written: false, pending: [], commit: null, aborted: false };
    this.inFlight.add(tx);
    return tx;
  }

  /** Whether a transaction with this commit position is already stored or on its way (a replay to skip). */
  isCommitted(position: string): boolean {
    return this.unwritten.has(position) || this.store.isCommitted(this.source, position);
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
    this.unwritten.add(info.position);
    this.pendingPosition = info.resumePosition;
  }

  /** Drops a transaction (rolled back, or a replay to skip); its written slices are removed at the next flush. */
  abort(tx: TxHandle): void {
    tx.aborted = true;
    this.pendingRows -= tx.pending.length;
    tx.pending = [];
    this.inFlight.delete(tx);
    if (tx.written) this.markDirty(tx);
    else this.dirty.delete(tx);
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

  /** True while the write side has as many batches as it may: the source should stop reading. */
  get full(): boolean {
    return this.posted >= MAX_IN_FLIGHT;
  }

  /**
   * Called after each batch is written, with the position now durable (null when the batch carried none),
   * or with the error that failed it (every later write fails too: a STORE error is fatal).
   */
  onWritten(cb: (durable: string | null, error: RowtrailError | null) => void): void {
    this.written = cb;
  }

  /**
   * Synchronous writer: writes everything buffered, and the newest resume position, in one SQLite
   * transaction. Returns the position that is now durable (to acknowledge), or null.
   */
  flush(): string | null {
    if (this.onWorker) throw new Error('SourceWriter.flush() is for synchronous writers; use post()');
    let durable: string | null = null;
    const cb = this.written;
    this.written = (d, e) => {
      durable = d;
      cb(d, e);
    };
    try {
      this.post();
    } finally {
      this.written = cb;
    }
    if (this.failure) throw this.failure;
    return durable;
  }

  /** Hands everything buffered, and the newest resume position, to the write side as one batch. */
  post(): void {
    if (this.failure) throw this.failure;
    if (this.dirty.size === 0 && this.pendingPosition === null) return;
    if (this.full) {
      this.postWanted = true;
      return;
    }
    this.postWanted = false;
    const { batch, commits } = this.takeBatch();
    this.posted++;
    this.store.submit(batch, this.onWorker, (r) => this.onReply(r.position, r.error, commits));
  }

  /** Posts what is buffered; resolves once everything posted is written (rejects if a write failed). */
  drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.drains.push({ resolve, reject });
      try {
        this.post();
      } catch (e) {
        reject(e);
      }
      this.settleDrains();
    });
  }

  private onReply(position: string | null, error: string | undefined, commits: string[]): void {
    this.posted--;
    for (const p of commits) this.unwritten.delete(p);
    if (error !== undefined) this.failure ??= new RowtrailError('STORE', error);
    if (this.postWanted && !this.failure) this.post();
    this.settleDrains();
    this.written(this.failure ? null : position, this.failure);
  }

  private settleDrains(): void {
    if (this.drains.length === 0 || (!this.failure && (this.posted > 0 || this.postWanted))) return;
    const drains = this.drains;
    this.drains = [];
    for (const d of drains) this.failure ? d.reject(this.failure) : d.resolve();
  }

  /** Serializes what is buffered into a Batch (strings and numbers only: a cheap clone to the worker). */
  private takeBatch(): { batch: Batch; commits: string[] } {
    const rows: Batch['rows'] = [];
    const shapes: Batch['shapes'] = [];
    const txs: BatchTx[] = [];
    const commits: string[] = [];
    for (const tx of this.dirty) {
      const first = tx.size - tx.pending.length;
      for (const c of tx.pending) {
        rows.push(
          c.schema,
          c.table,
          c.op,
          c.key ? canonicalKey(c.key) : null,
          c.before ? JSON.stringify(c.before) : null,
          c.after ? JSON.stringify(c.after) : null,
          impliedChanged(c) ? null : JSON.stringify(c.changed),
          extraOf(c),
          this.shapeKey(c, shapes),
        );
      }
      let commit: BatchTx['commit'] = null;
      if (tx.commit && !tx.aborted) {
        const i = tx.commit;
        // Resolved now, on this thread, as MariaDB attribution needs (see CommitInfo.actor).
        const a = typeof i.actor === 'function' ? i.actor() : i.actor;
        const run = a.context && typeof a.context.run === 'string' ? a.context.run : null;
        commit = [i.position, i.commitTime, isoToMicros(i.commitTime), tx.size, JSON.stringify(a), a.user ?? null, a.agent ?? null, a.kind, run];
        commits.push(i.position);
      }
      txs.push({ id: tx.id, xid: tx.xid, aborted: tx.aborted, truncateFrom: tx.truncateFrom ?? null, first, count: tx.pending.length, commit });
      tx.written = true;
      tx.pending = [];
      tx.truncateFrom = undefined;
    }
    const batch: Batch = { source: this.source, system: this.system, database: this.database, txs, rows, shapes, position: this.pendingPosition };
    this.dirty.clear();
    this.pendingRows = 0;
    this.pendingPosition = null;
    return { batch, commits };
  }

  /** The key of a change's table shape (-1: none); a shape new to the write side is added to `shapes`. */
  private shapeKey(c: RowChange, shapes: Batch['shapes']): number {
    if (!c.types) return -1;
    let key = this.shapeKeys.get(c.types);
    if (key !== undefined) return key;
    const types = JSON.stringify(c.types);
    const k = `${c.schema}\u0000${c.table}\u0000${types}`;
    key = this.shapeKeysByJson.get(k);
    if (key === undefined) {
      key = this.store.nextId();
      this.shapeKeysByJson.set(k, key);
      shapes.push(key, c.schema, c.table, types);
    }
    this.shapeKeys.set(c.types, key);
    return key;
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
