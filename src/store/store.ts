/**
 * The embedded store: SQLite (better-sqlite3) in WAL mode under `store.path`.
 *
 * Writes are batched: a source hands over whole transactions (and slices of large ones), and each batch is
 * written with the source's new position in ONE SQLite transaction, after which that position is durable.
 * Only that position may be acknowledged to the database. Every write is idempotent on (source, commit
 * position): a replayed transaction that is already stored is dropped. Sources write through a
 * SourceWriter (source-writer.ts), on the write worker (write-worker.ts) so decoding and writing overlap;
 * readers use this (main-thread) connection, which WAL lets read beside the worker's writes. One process
 * writes a store at a time (store-lock.ts); read-only opens never wait for it.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChangeEvent, SystemKind } from '../model/index.js';
import { RowtrailError } from '../errors.js';
import { ADDED_COLUMNS, AFTER_MIGRATION_SQL, SCHEMA_SQL, SCHEMA_VERSION } from './sqlite-schema.js';
import { BatchWriter, type Batch } from './sqlite-batch.js';
import type { WorkerReply } from './sqlite-worker.js';
import { SourceWriter, type WriteSide } from './source-writer.js';
import { WriteWorker } from './write-worker.js';
import { lockStore, type StoreLock } from './store-lock.js';
import {
  hasColumn,
  latestSeq,
  pageChanges,
  queryActors,
  queryAttribution,
  queryChanges,
  type ActorSummary,
  type ChangeCursor,
  type ChangeFilter,
  type ChangePage,
} from './store-queries.js';
import {
  loadDetectorState,
  queryAlerts,
  queryDetectionEvents,
  queryTxEvents,
  saveDetection,
  type AlertFilter,
  type DetectionEvent,
  type SeqEvent,
} from './store-alerts.js';
import type { Alert } from '../model/index.js';
import type { ClassifierState, KeyringData, Keys, Masker } from '../masking/index.js';
import { countClear, loadClassifications, loadKeyring, maskStored, resealAll, saveKeyring } from './store-masking.js';
import {
  beginAttempt,
  deliveryStates,
  failOrphans,
  markOutbox,
  outboxChannels,
  outboxCounts,
  outboxHead,
  outboxQueue,
  outboxRef,
  type AlertRoute,
  type ChannelCounts,
  type DeliveryState,
  type OutboxOutcome,
  type OutboxRow,
} from './store-outbox.js';
import {
  loadSinkCursor,
  queryOldestUnsent,
  querySinkDeadLetters,
  querySinkRows,
  queryUndeliveredAlerts,
  saveSinkProgress,
  type DeadLetter,
  type SinkCursor,
  type SinkRow,
} from './store-sink.js';

type Db = Database.Database;

export interface StoreOptions {
  /** `FULL` (default) survives power loss; `NORMAL` survives a process crash only (benchmarks). */
  synchronous?: 'FULL' | 'NORMAL';
  /** Opens without writing or locking (query commands); the store must exist. Default false. */
  readonly?: boolean;
  /** Who holds the write lock, as a second writer's error names it (default `rowtrail`). */
  owner?: string;
}

export class Store implements WriteSide {
  readonly db: Db;
  readonly dir: string;
  private readonly synchronous: 'FULL' | 'NORMAL';
  private readonly stmts: ReturnType<Store['prepare']>;
  /** Writes of synchronous writers (on this connection), and the write worker of the others; both lazy. */
  private syncWrites: BatchWriter | null = null;
  private worker: WriteWorker | null = null;
  private lastId = 0;
  private readonly lock: StoreLock | null;
  /** Masks what writers write (set by useMasker before any writer posts); null: stored in the clear. */
  masker: Masker | null = null;

  private constructor(dir: string, db: Db, synchronous: 'FULL' | 'NORMAL', lock: StoreLock | null) {
    this.dir = dir;
    this.db = db;
    this.synchronous = synchronous;
    this.lock = lock;
    this.stmts = this.prepare();
  }

  /**
   * Opens (creating when needed) the store under `dir`. A writable open takes the store's write lock and
   * fails with a STORE error naming the holder when another process writes it.
   */
  static open(dir: string, opts: StoreOptions = {}): Store {
    let db: Db;
    let lock: StoreLock | null = null;
    try {
      if (!opts.readonly) {
        mkdirSync(dir, { recursive: true });
        lock = lockStore(dir, opts.owner ?? 'rowtrail');
      }
      db = new Database(join(dir, 'rowtrail.db'), { readonly: !!opts.readonly, fileMustExist: !!opts.readonly });
    } catch (e: any) {
      lock?.release();
      if (e instanceof RowtrailError) throw e;
      const why = opts.readonly && /unable to open|does not exist/i.test(String(e?.message))
        ? `no store at ${dir} yet (run \`rowtrail watch\` first, or check store.path)`
        : `cannot open the store at ${dir}: ${e?.message ?? e}`;
      throw new RowtrailError('STORE', why, e);
    }
    try {
      if (!opts.readonly) initSchema(db, dir, opts.synchronous ?? 'FULL');
      db.pragma('busy_timeout = 5000');
      // 16 MB of page cache: enough for the indexes' hot pages; memory stays bounded whatever the load.
      db.pragma('cache_size = -16384');
    } catch (e) {
      db.close();
      lock?.release();
      throw e;
    }
    return new Store(dir, db, opts.synchronous ?? 'FULL', lock);
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
    if (!this.lock) throw new RowtrailError('STORE', `the store at ${this.dir} was opened read-only`);
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
  changes(f: ChangeFilter = {}): IterableIterator<ChangeEvent> {
    return queryChanges(this.db, f);
  }

  /** A page of changes, newest first, older than `before` (keyset pagination: see `pageChanges`). */
  changesPage(f: ChangeFilter, limit: number, before?: ChangeCursor): ChangePage {
    return pageChanges(this.db, f, limit, before);
  }

  /** The commit_seq of the newest committed transaction (0 when none). */
  latestSeq(): number {
    return latestSeq(this.db);
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
    return queryAttribution(this.db, source, sinceMs);
  }

  /** Who wrote what within a window: see `queryActors`. */
  actors(f: { source?: string; since?: Date; until?: Date } = {}): ActorSummary[] {
    return queryActors(this.db, f);
  }

  /** Committed change events of the transactions after `afterSeq` (commit order), at most `maxTx` transactions. */
  eventsAfter(afterSeq: number, maxTx: number): IterableIterator<SeqEvent> {
    return queryTxEvents(this.db, afterSeq, maxTx);
  }

  /** eventsAfter as the detectors read it: only what they look at (see queryDetectionEvents). */
  detectionEventsAfter(afterSeq: number, maxTx: number): IterableIterator<{ seq: number; event: DetectionEvent }> {
    return queryDetectionEvents(this.db, afterSeq, maxTx);
  }

  /**
   * Writes alerts and the detectors' state (with the last seq it covers) in one SQLite transaction, and the
   * notifications the alerts' changes cause, routed by `route` (the alert outbox), in that same transaction.
   */
  saveDetection(alerts: Alert[], name: string, seq: number, state: unknown, route?: AlertRoute): void {
    saveDetection(this.db, alerts, name, seq, state, route);
  }

  /** The alert outbox (see store-outbox.ts): read by the delivery worker and `rowtrail alerts`. */
  readonly outbox = {
    head: (channel: string): OutboxRow | null => outboxHead(this.db, channel),
    channels: (): string[] => outboxChannels(this.db),
    queue: (channel: string, limit: number): OutboxRow[] => outboxQueue(this.db, channel, limit),
    begin: (ids: number[]): void => beginAttempt(this.db, ids),
    mark: (ids: number[], o: OutboxOutcome, nowMs = Date.now()): void => markOutbox(this.db, ids, o, nowMs),
    ref: (alertId: string, channel: string): string | null => outboxRef(this.db, alertId, channel),
    failOrphans: (keep: string[], nowMs = Date.now()) => failOrphans(this.db, keep, nowMs),
    states: (alertIds: string[]): Map<string, DeliveryState[]> => deliveryStates(this.db, alertIds),
    counts: (): ChannelCounts[] => outboxCounts(this.db),
  };

  /** The detectors' stored state, or null. */
  detectorState(name: string): { seq: number; state: unknown } | null {
    return loadDetectorState(this.db, name);
  }

  /** Stored alerts, newest first. */
  alerts(f: AlertFilter = {}): Alert[] {
    return queryAlerts(this.db, f);
  }

  /** From now on, every change written is masked and sealed by `masker` (DESIGN.md "Masking"). */
  useMasker(masker: Masker | null): void {
    this.masker = masker;
  }

  /** The keyring (data keys wrapped by the master key), or null for a store that never sealed anything. */
  keyring(): KeyringData | null {
    return loadKeyring(this.db);
  }

  saveKeyring(keyring: KeyringData): void {
    if (!this.lock) throw new RowtrailError('STORE', `the store at ${this.dir} was opened read-only`);
    saveKeyring(this.db, keyring);
  }

  /** The sticky masking classifications (place → classification). */
  classifications(): ClassifierState {
    return loadClassifications(this.db);
  }

  /** How many committed transactions (and changes) are stored in the clear: before masking, or with it off. */
  clearCount(): { transactions: number; changes: number } {
    return countClear(this.db);
  }

  /** Masks and seals in place what is stored in the clear; see store-masking.ts. Returns the transactions done. */
  maskStored(masker: Masker, onProgress: (done: number) => void = () => undefined): number {
    if (!this.lock) throw new RowtrailError('STORE', `the store at ${this.dir} was opened read-only`);
    return maskStored(this.db, masker, onProgress);
  }

  /** Re-seals every blob under the current data key of `keys`; see store-masking.ts. */
  resealAll(keys: Keys, onProgress: (done: number) => void = () => undefined): number {
    if (!this.lock) throw new RowtrailError('STORE', `the store at ${this.dir} was opened read-only`);
    return resealAll(this.db, keys, onProgress);
  }

  /** The first `limit` changes after a sink's cursor, as stored rows (`toEvent` makes the event of one). */
  sinkRows(after: SinkCursor, limit: number): SinkRow[] {
    return querySinkRows(this.db, after, limit);
  }

  /** A sink's cursor: the last change it delivered ({seq: 0, idx: -1} before the first). */
  sinkCursor(sink: string): SinkCursor {
    return loadSinkCursor(this.db, sink);
  }

  /** Advances a sink with the dead letters and alert states of one bulk request, atomically (store-sink.ts). */
  saveSinkProgress(sink: string, p: { cursor?: SinkCursor; dead?: DeadLetter[]; alertStates?: { id: string; state: string }[] }): void {
    saveSinkProgress(this.db, sink, p);
  }

  /** The documents a sink's receiver rejected for good, with the reason. */
  sinkDeadLetters(sink: string): (DeadLetter & { at: string })[] {
    return querySinkDeadLetters(this.db, sink);
  }

  /** Alerts whose current state a sink has not delivered, with the states to deliver. */
  undeliveredAlerts(sink: string, limit: number): { alert: Alert; states: ('open' | 'resolved')[] }[] {
    return queryUndeliveredAlerts(this.db, sink, limit);
  }

  /** Commit time of the oldest transaction a sink has not delivered, or null when it is caught up. */
  oldestUnsent(cursor: SinkCursor): string | null {
    return queryOldestUnsent(this.db, cursor);
  }

  /** Closes the connection, stops the write worker (its writers must be drained first), releases the lock. */
  close(): void {
    this.worker?.close();
    this.worker = null;
    if (this.db.open) this.db.close();
    this.lock?.release();
  }
}

function initSchema(db: Db, dir: string, synchronous: 'FULL' | 'NORMAL'): void {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec(SCHEMA_SQL);
  const v = db.prepare(`SELECT v FROM meta WHERE k = 'schema_version'`).get() as { v: string } | undefined;
  if (v && Number(v.v) > SCHEMA_VERSION) {
    throw new RowtrailError('STORE', `the store at ${dir} was written by a newer rowtrail (schema ${v.v}); upgrade rowtrail`);
  }
  db.transaction(() => {
    // Schema 2 added tables (CREATE IF NOT EXISTS above); schema 3 columns: added where missing. The changes of
    // an older store keep `masked = 0` (in the clear) until masking migrates them (store-masking.ts).
    for (const [table, column, decl] of ADDED_COLUMNS) {
      if (!hasColumn(db, table, column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${decl}`);
    }
    db.exec(AFTER_MIGRATION_SQL);
    db.prepare(`INSERT INTO meta (k, v) VALUES ('schema_version', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`).run(String(SCHEMA_VERSION));
  }).immediate();
}
