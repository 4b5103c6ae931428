/**
 * SourceWriter: buffers one source's transactions and hands them to the store's write side in batches
 * (see store.ts for the durability contract, write-worker.ts for the worker). The serialization of a batch
 * happens here, on the source's thread, so posting it to the worker is a cheap clone.
 */
import type { Actor, RowChange, SystemKind } from '../model/index.js';
import type { Masker, SealedCells, Seen } from '../masking/index.js';
import { RowtrailError } from '../errors.js';
import { canonicalKey } from './keys.js';
import type { Batch, BatchTx } from './sqlite-batch.js';
import type { WorkerReply } from './sqlite-worker.js';

/** The part of a Store a writer uses (store.ts implements it). */
export interface WriteSide {
  /** A new id for a transaction or a shape, unique per Store. */
  nextId(): number;
  isCommitted(source: string, position: string): boolean;
  /** Removes open transactions of a source (crash leftovers); returns how many went. */
  removeOpen(source: string): number;
  /** Writes a batch here (`cb` called before returning) or on the write worker. */
  submit(batch: Batch, onWorker: boolean, cb: (r: WorkerReply) => void): void;
  /** Masks every change before it is written (null: masking off, changes stored in the clear). */
  readonly masker: Masker | null;
}

/** What a change's sealed blob is bound to (AES-GCM associated data): known before the transaction commits. */
export function sealIdOf(source: string, xid: string, index: number): string {
  return `${source}:${xid}:${index}`;
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

const FLUSH_ROWS = 5000;
/** Batches a worker writer may have posted and not yet seen written (bounds memory; see SourceWriter.full). */
const MAX_IN_FLIGHT = 2;

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
  private readonly store: WriteSide;
  private readonly onWorker: boolean;
  /**
   * Transactions with data or state not yet written; the committed ones in commit order (see commit()).
   * Later batches are written after earlier ones, so commit_seq follows commit order across batches too.
   */
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

  constructor(store: WriteSide, source: string, system: SystemKind, database: string, onWorker = false) {
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
    // Moved to the end of `dirty`: a batch lists committed transactions in the order they committed, and the
    // write side hands out commit_seq in batch order. A streamed transaction that got a slice earlier in this
    // batch would otherwise take its place by first data, before transactions that committed first.
    this.dirty.delete(tx);
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
    if (this.dirty.size === 0 && this.pendingPosition === null) {
      // Nothing (left) to post, e.g. the transaction buffered while full was aborted: a wanted post that
      // stayed set would keep drain() waiting forever.
      this.postWanted = false;
      return;
    }
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

  /**
   * Serializes what is buffered into a Batch (strings, numbers and bytes only: a cheap clone to the worker).
   * With a masker, each change is masked here, before it leaves this thread: nothing downstream of the writer
   * (store, detectors, sinks, logs) ever holds its raw values, which go sealed beside it.
   */
  private takeBatch(): { batch: Batch; commits: string[] } {
    const rows: Batch['rows'] = [];
    const shapes: Batch['shapes'] = [];
    const txs: BatchTx[] = [];
    const commits: string[] = [];
    const masker = this.store.masker;
    const now = masker ? new Date().toISOString() : '';
    for (const tx of this.dirty) {
      const first = tx.size - tx.pending.length;
      let idx = first;
      // Masked cells of this slice of the transaction: sealed together in one blob, held by the first of them.
      let cells: Map<number, SealedCells> | null = null;
      let holderAt = -1;
      let holderIdx: number | null = null;
      for (const c of tx.pending) {
        let { key, before, after } = c;
        let sealedAt: number | null = null;
        if (masker) {
          // deferSeal: the slice is sealed once below, under its holder's id; no per-change seal id is needed.
          const m = masker.maskImages(c, '', this.seenBy(tx, idx, now), true);
          ({ key, before, after } = m);
          if (m.cells) {
            if (!cells) {
              cells = new Map();
              holderAt = rows.length;
              holderIdx = idx;
            }
            cells.set(idx, m.cells);
            sealedAt = holderIdx;
          }
        }
        idx++;
        rows.push(
          c.schema,
          c.table,
          c.op,
          key ? canonicalKey(key) : null,
          before ? JSON.stringify(before) : null,
          after ? JSON.stringify(after) : null,
          impliedChanged(c) ? null : JSON.stringify(c.changed),
          extraOf(c),
          this.shapeKey(c, shapes),
          null,
          sealedAt,
        );
      }
      if (cells) rows[holderAt + 9] = masker!.sealSlice(cells, sealIdOf(this.source, tx.xid, holderIdx!));
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
    const classes: string[] = [];
    if (masker) for (const [place, cls] of masker.classifier.drainNew()) classes.push(place, JSON.stringify(cls));
    const batch: Batch = {
      source: this.source,
      system: this.system,
      database: this.database,
      txs,
      rows,
      shapes,
      position: this.pendingPosition,
      masked: masker !== null,
      classes,
    };
    this.dirty.clear();
    this.pendingRows = 0;
    this.pendingPosition = null;
    return { batch, commits };
  }

  /** Where a change was first seen, for `masking show` (made only when the change classifies a column). */
  private seenBy(tx: TxHandle, index: number, now: string): () => Seen {
    return () => {
      const commit = tx.commit;
      const change = commit ? `${this.source}:${commit.position}:${index}` : sealIdOf(this.source, tx.xid, index);
      return { since: commit?.commitTime ?? now, change };
    };
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

function extraOf(c: RowChange): string | null {
  if (!c.incomplete && !c.missing && !c.truncate && c.ddl === undefined) return null;
  const x: Record<string, unknown> = {};
  if (c.incomplete) x.incomplete = c.incomplete;
  if (c.missing) x.missing = c.missing;
  if (c.truncate) x.truncate = c.truncate;
  if (c.ddl !== undefined) x.ddl = c.ddl;
  return JSON.stringify(x);
}

/** ISO-8601 with up to µs → integer µs since the epoch (for range queries). */
export function isoToMicros(iso: string): number {
  const m = /\.(\d+)/.exec(iso);
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return 0;
  const frac = m ? (m[1] + '000000').slice(0, 6) : '000000';
  return Math.floor(ms / 1000) * 1_000_000 + Number(frac);
}
