/**
 * PostgreSQL source: pgoutput over a replication connection (on `pg` directly; see docs/decisions.md for
 * why not pg-logical-replication), text values, protocol v2 streaming of large in-progress transactions.
 *
 * Delivery: the slot's confirmed position is advanced only to what the store's write worker reports durable
 * (`SourceWriter.onWritten`); while the worker has all the batches it may, the stream is paused.
 * On (re)connect, streaming starts from the store's position (or the slot's confirmed position), and the
 * store drops transactions it already has, so a crash anywhere neither loses nor duplicates a change.
 */
import pg from 'pg';
import type { RowChange, Actor } from '../../model/index.js';
import { RowtrailError, isFatal, oneLine } from '../../errors.js';
import type { SourceWriter, TxHandle } from '../../store/index.js';
import type { Source, SourceContext, SourceStats } from '../source.js';
import { PgoutputDecoder, type PgMessage } from './postgres-decoder.js';
import { buildRelation, deleteChange, insertChange, relationChange, truncateChange, updateChange, type Relation } from './postgres-changes.js';
import type { CustomType } from './postgres-types.js';
import { compareLsn, formatLsn, parseLsn, pgNow } from './postgres-position.js';
import { classifyPgError, slotName, publicationName } from './postgres-errors.js';
import { preciseTriggerTables, primaryKeys, quoteIdent } from './postgres-catalog.js';
import { backoff, sleep } from '../backoff.js';
import { ddlChange as sharedDdlChange } from '../ddl.js';
import { openWriter } from '../writer.js';
import { parseDdlMessage, SESSION_PREFIX, DDL_PREFIX } from '../../identity/message.js';

/** Identity messages carry SESSION_PREFIX (precise mode); DDL events carry DDL_PREFIX (identity/message.ts). */
export const MESSAGE_PREFIX = SESSION_PREFIX;
export { DDL_PREFIX };
const OWN_SCHEMA = 'rowtrail';

/** Flush at least this often while data flows (ms), and answer the server at least this often. */
const FLUSH_INTERVAL_MS = 50;
const STATUS_INTERVAL_MS = 10_000;

interface OpenTx {
  handle: TxHandle;
  xid: number;
  /** Replay of a transaction the store already has: its changes are ignored. */
  skip: boolean;
  messages: string[];
  /** Whether it changed a table that carries the precise-identity trigger (so it should carry a message). */
  precise?: boolean;
  /** Whether it carried a DDL message (the precise-trigger tables are re-read once it commits). */
  ddl?: boolean;
  /** For streamed transactions: subtransaction xid → index of its first change. */
  subStarts?: Map<number, number>;
}

export class PostgresSource implements Source {
  readonly name: string;
  private readonly ctx: SourceContext;
  private readonly writer: SourceWriter;
  private readonly decoder = new PgoutputDecoder();
  private readonly relations = new Map<number, Relation>();
  private readonly customTypes = new Map<number, CustomType>();
  private primaryKeys = new Map<number, string[]>();
  /**
   * Tables with the precise-identity trigger, from the catalog at connect and after each DDL message. The
   * catalog is read now, not as of the WAL position: while the stream catches up across a setup or an
   * uninstall, a transaction may be counted as missing its message when it never had a trigger.
   */
  private preciseRelids = new Set<number>();
  private current: OpenTx | null = null;
  private readonly streams = new Map<number, OpenTx>();
  private durable: string | null;
  private lastFlush = 0;
  private lastStatus = 0;
  private lastCommitTime: string | null = null;
  private counts = { changes: 0, transactions: 0 };
  private conn: any = null;
  private meta: pg.Client | null = null;
  /** Messages held while an async catalog lookup is in progress (keeps order). */
  private held: Buffer[] = [];
  private blocked = false;
  private failure: ((e: unknown) => void) | null = null;

  constructor(ctx: SourceContext) {
    this.ctx = ctx;
    this.name = ctx.config.name;
    const database = decodeURIComponent(new URL(ctx.url).pathname.replace(/^\//, '')) || 'postgres';
    this.writer = openWriter(ctx, 'postgresql', database);
    this.writer.onWritten((durable, error) => this.onWritten(durable, error));
    this.durable = ctx.store.position(this.name);
  }

  stats(): SourceStats {
    const lag = this.lastCommitTime ? Math.max(0, (Date.now() - Date.parse(this.lastCommitTime)) / 1000) : null;
    return { changes: this.counts.changes, transactions: this.counts.transactions, position: this.durable, lagSeconds: lag };
  }

  /** Streams until the signal aborts; reconnects with backoff on transient failures; rejects on fatal ones. */
  async run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        await this.session(signal);
        return;
      } catch (e) {
        this.endSession();
        await this.writer.drain(); // a store failure (fatal) rejects here
        if (signal.aborted) return;
        const err = e instanceof RowtrailError ? e : classifyPgError(e, this.ctx.config);
        if (isFatal(err)) throw err;
        if (Date.now() - started > 30_000) attempt = 0;
        const wait = backoff(attempt++);
        this.ctx.log.warn({ source: this.name, err: oneLine(err), retryInMs: wait }, 'replication connection lost; reconnecting');
        await sleep(wait, signal);
      }
    }
  }

  private async session(signal: AbortSignal): Promise<void> {
    const cfg = this.ctx.config;
    const slot = slotName(cfg);
    const publication = publicationName(cfg);
    const meta = new pg.Client({ connectionString: this.ctx.url, application_name: 'rowtrail-meta' });
    this.meta = meta;
    meta.on('error', () => undefined);
    await meta.connect();
    const info = await meta.query(
      `SELECT current_setting('server_version_num')::int AS version, current_setting('wal_level') AS wal_level,
              (SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1) AS confirmed,
              (SELECT plugin FROM pg_replication_slots WHERE slot_name = $1) AS plugin,
              (SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1) AS wal_status,
              EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2) AS has_publication`,
      [slot, publication],
    );
    const row = info.rows[0];
    if (row.wal_level !== 'logical') {
      throw new RowtrailError('SERVER_SETTING', `wal_level is ${row.wal_level}, logical decoding needs 'logical': ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL`);
    }
    if (row.plugin === null) throw new RowtrailError('SLOT_MISSING', `replication slot '${slot}' does not exist; run \`rowtrail setup\``);
    if (row.plugin !== 'pgoutput') throw new RowtrailError('SLOT_INVALID', `replication slot '${slot}' uses plugin ${row.plugin}, not pgoutput; drop it and run \`rowtrail setup\``);
    if (row.wal_status === 'lost') {
      throw new RowtrailError('SLOT_INVALID', `replication slot '${slot}' was invalidated (its WAL was removed; max_slot_wal_keep_size?): changes since ${row.confirmed} are lost; drop the slot and run \`rowtrail setup\` again`);
    }
    if (!row.has_publication) throw new RowtrailError('PUBLICATION_MISSING', `publication '${publication}' does not exist; run \`rowtrail setup\``);
    await this.loadPrimaryKeys();
    this.preciseRelids = await preciseTriggerTables(meta);

    const version: number = row.version;
    const start = this.durable && row.confirmed && compareLsn(this.durable, row.confirmed) > 0 ? this.durable : row.confirmed ?? '0/0';
    const options = [`proto_version '${version >= 140000 ? 2 : 1}'`, `publication_names '${publication.replace(/'/g, "''")}'`, `messages 'true'`];
    if (version >= 140000) options.push(`streaming 'on'`);

    const client = new pg.Client({ connectionString: this.ctx.url, replication: 'database', application_name: 'rowtrail' } as pg.ClientConfig);
    client.on('error', () => undefined);
    await client.connect();
    const conn = (client as any).connection;
    this.conn = conn;
    this.ctx.log.info({ source: this.name, slot, publication, start, server: version }, 'streaming changes');

    return await new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (e?: unknown) => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
        if (e) reject(e);
        else resolve();
      };
      this.failure = (e) => {
        done(e);
        client.end().catch(() => undefined);
      };
      const onAbort = () => {
        // Whatever is handed over becomes durable (and acknowledged) before the connection closes.
        this.writer.drain().then(
          () => client.end().then(() => done(), () => done()),
          (e) => {
            done(e);
            client.end().catch(() => undefined);
          },
        );
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const timer = setInterval(() => {
        try {
          if (this.blocked) return;
          this.flushAndAck(false);
          if (Date.now() - this.lastStatus > STATUS_INTERVAL_MS) this.sendStatus();
        } catch (e) {
          this.failure?.(e);
        }
      }, FLUSH_INTERVAL_MS);
      conn.on('copyData', (msg: { chunk: Buffer }) => {
        if (settled || signal.aborted) return;
        if (this.blocked) {
          this.held.push(msg.chunk);
          return;
        }
        try {
          this.onCopyData(msg.chunk);
        } catch (e) {
          this.failure?.(e);
        }
      });
      client.on('end', () => done(new RowtrailError('CONNECT', 'replication connection closed by the server')));
      client
        .query(`START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${start} (${options.join(', ')})`)
        .then(
          () => done(signal.aborted ? undefined : new RowtrailError('CONNECT', 'replication stream ended by the server')),
          (e) => done(signal.aborted ? undefined : e),
        );
    });
  }

  private endSession(): void {
    // Whatever was received but not committed is resent by the server from the durable position.
    if (this.current) this.writer.abort(this.current.handle);
    for (const s of this.streams.values()) this.writer.abort(s.handle);
    this.current = null;
    this.streams.clear();
    this.openStream = null;
    this.held = [];
    this.blocked = false;
    this.paused = false;
    this.failure = null;
    try {
      this.writer.post();
    } catch (e) {
      this.ctx.log.error({ source: this.name, err: oneLine(e) }, 'store flush failed while closing the session');
    }
    this.conn = null;
    this.meta?.end().catch(() => undefined);
    this.meta = null;
  }

  private async loadPrimaryKeys(): Promise<void> {
    this.primaryKeys = await primaryKeys(this.meta!);
  }


  /** One CopyData message from the server: XLogData ('w') or primary keepalive ('k'). */
  private onCopyData(chunk: Buffer): void {
    const kind = chunk[0];
    if (kind === 0x77 /* w */) {
      const msg = this.decoder.decode(chunk.subarray(25));
      this.handle(msg, chunk);
    } else if (kind === 0x6b /* k */) {
      const walEnd = formatLsn(chunk.readUInt32BE(1), chunk.readUInt32BE(5));
      const replyRequested = chunk[17] === 1;
      // While nothing is in flight, everything up to walEnd is either stored or not ours: let the slot move on.
      if (!this.current && this.streams.size === 0 && (!this.durable || compareLsn(walEnd, this.durable) > 0)) {
        this.writer.advance(walEnd);
      }
      this.flushAndAck(true);
      if (replyRequested) this.sendStatus();
    }
  }

  private handle(msg: PgMessage, raw: Buffer): void {
    switch (msg.tag) {
      case 'begin': {
        const handle = this.writer.begin(String(msg.xid));
        // A transaction whose commit we already stored (ack lost in a crash) is read and dropped.
        const skip = (this.durable !== null && compareLsn(msg.finalLsn, this.durable) < 0) || this.writer.isCommitted(msg.finalLsn);
        this.current = { handle, xid: msg.xid, skip, messages: [] };
        return;
      }
      case 'commit': {
        const tx = this.current;
        this.current = null;
        if (!tx) throw new RowtrailError('PROTOCOL', `pgoutput: COMMIT ${msg.commitLsn} without BEGIN`);
        this.finishTx(tx, msg.commitLsn, msg.endLsn, msg.commitTime);
        return;
      }
      case 'relation':
        return this.onRelation(msg, raw);
      case 'type':
        this.customTypes.set(msg.oid, { schema: msg.schema, name: msg.name });
        return;
      case 'origin':
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        const tx = this.txFor(msg.xid);
        if (tx.skip) return;
        const rel = this.relation(msg.relid);
        // rowtrail's own bookkeeping (schema rowtrail, precise identity) is published by FOR ALL TABLES: not a user change.
        if (rel.schema === OWN_SCHEMA) return;
        const change =
          msg.tag === 'insert' ? insertChange(rel, msg.new) : msg.tag === 'update' ? updateChange(rel, msg.oldKind, msg.old, msg.new) : deleteChange(rel, msg.oldKind, msg.old);
        if (this.preciseRelids.has(msg.relid)) tx.precise = true;
        this.add(tx, change, msg.xid);
        return;
      }
      case 'truncate': {
        const tx = this.txFor(msg.xid);
        if (tx.skip) return;
        for (const relid of msg.relids) {
          if (this.preciseRelids.has(relid)) tx.precise = true;
          this.add(tx, truncateChange(this.relation(relid), msg.cascade, msg.restartIdentity), msg.xid);
        }
        return;
      }
      case 'message': {
        if (!msg.transactional) return;
        const tx = this.txFor(msg.xid);
        if (tx.skip) return;
        if (msg.prefix === MESSAGE_PREFIX) tx.messages.push(msg.content.toString('utf8'));
        else if (msg.prefix === DDL_PREFIX) {
          const ddl = ddlChange(msg.content.toString('utf8'));
          if (ddl) this.add(tx, ddl, msg.xid);
          tx.ddl = true;
        }
        return;
      }
      case 'stream_start': {
        let tx = this.streams.get(msg.xid);
        if (!tx) {
          tx = { handle: this.writer.begin(String(msg.xid)), xid: msg.xid, skip: false, messages: [], subStarts: new Map() };
          this.streams.set(msg.xid, tx);
        }
        this.openStream = tx;
        return;
      }
      case 'stream_stop':
        this.openStream = null;
        return;
      case 'stream_commit': {
        const tx = this.streams.get(msg.xid);
        this.streams.delete(msg.xid);
        if (!tx) throw new RowtrailError('PROTOCOL', `pgoutput: STREAM COMMIT of unknown transaction ${msg.xid}`);
        tx.skip = (this.durable !== null && compareLsn(msg.commitLsn, this.durable) < 0) || this.writer.isCommitted(msg.commitLsn);
        this.finishTx(tx, msg.commitLsn, msg.endLsn, msg.commitTime);
        return;
      }
      case 'stream_abort': {
        const tx = this.streams.get(msg.xid);
        if (!tx) return;
        if (msg.subxid === msg.xid) {
          this.streams.delete(msg.xid);
          this.writer.abort(tx.handle);
        } else {
          // A rolled-back subtransaction: drop its changes (and its children's, which follow it).
          const from = tx.subStarts?.get(msg.subxid);
          if (from !== undefined) {
            this.writer.truncate(tx.handle, from);
            for (const [sub, idx] of tx.subStarts!) if (idx >= from) tx.subStarts!.delete(sub);
          }
        }
        return;
      }
    }
  }

  private txFor(xid: number | undefined): OpenTx {
    if (xid !== undefined) {
      // Inside a streamed block the xid may be a subtransaction's; find the top-level stream it belongs to.
      const top = this.streams.get(xid) ?? this.openStream;
      if (top) return top;
      throw new RowtrailError('PROTOCOL', `pgoutput: streamed change for unknown transaction ${xid}`);
    }
    if (!this.current) throw new RowtrailError('PROTOCOL', 'pgoutput: change outside a transaction');
    return this.current;
  }

  /**
   * The streamed block currently open (between STREAM START and STREAM STOP). Changes inside it carry the
   * xid of the (sub)transaction that made them, so subtransaction xids map to this block's transaction.
   */
  private openStream: OpenTx | null = null;

  private add(tx: OpenTx, change: RowChange, xid: number | undefined): void {
    if (xid !== undefined && xid !== tx.xid && tx.subStarts && !tx.subStarts.has(xid)) tx.subStarts.set(xid, tx.handle.size);
    this.writer.add(tx.handle, change);
    if (this.writer.shouldFlush) this.flushAndAck(true);
  }

  private finishTx(tx: OpenTx, commitLsn: string, endLsn: string, commitTime: string): void {
    // DDL may have added or removed precise triggers (a new table, DISABLE TRIGGER, uninstall): one catalog
    // read per transaction, before the messages that follow it are handled.
    if (tx.ddl && !tx.skip) {
      this.block(null, async () => {
        this.preciseRelids = await preciseTriggerTables(this.meta!);
      });
    }
    // A transaction without row changes (only a session message, e.g. an UPDATE that matched nothing) is not stored.
    if (tx.skip || tx.handle.size === 0) {
      this.writer.abort(tx.handle);
      this.writer.advance(endLsn);
      return;
    }
    const actor: Actor = this.ctx.identity.resolve({
      source: this.name,
      xid: String(tx.xid),
      commitTime,
      messages: tx.messages,
      statements: [],
      preciseExpected: tx.precise ?? false,
    });
    this.writer.commit(tx.handle, { position: commitLsn, commitTime, actor, resumePosition: endLsn });
    this.counts.changes += tx.handle.size;
    this.counts.transactions++;
    this.lastCommitTime = commitTime;
    if (Date.now() - this.lastFlush >= FLUSH_INTERVAL_MS) this.flushAndAck(false);
  }

  private onRelation(msg: Extract<PgMessage, { tag: 'relation' }>, raw: Buffer): void {
    const known = this.primaryKeys.get(msg.relid);
    if (known === undefined && msg.replicaIdentity === 'f') {
      // A table created after start under REPLICA IDENTITY FULL: ask the catalog for its primary key
      // (pgoutput marks every column as identity then). Later messages wait, in order.
      this.block(raw, async () => {
        const found = await primaryKeys(this.meta!, msg.relid);
        this.primaryKeys.set(msg.relid, found.get(msg.relid) ?? []);
      });
      return;
    }
    const next = buildRelation(msg, this.customTypes, known ?? null);
    const prev = this.relations.get(msg.relid);
    this.relations.set(msg.relid, next);
    if (prev) {
      const ddl = relationChange(prev, next);
      if (ddl) {
        const tx = msg.xid !== undefined ? this.txFor(msg.xid) : this.current;
        if (tx && !tx.skip) this.add(tx, ddl, msg.xid);
      }
    }
  }

  /** Pauses message handling for an async lookup; `raw` (when given) is re-handled after it. */
  private block(raw: Buffer | null, work: () => Promise<void>): void {
    this.blocked = true;
    if (raw) this.held.unshift(raw);
    this.updateFlow();
    work().then(
      () => {
        this.blocked = false;
        const held = this.held;
        this.held = [];
        for (let i = 0; i < held.length; i++) {
          if (this.blocked) {
            this.held.push(...held.slice(i));
            return;
          }
          this.onCopyData(held[i]);
        }
        this.updateFlow();
      },
      (e) => this.failure?.(e),
    );
  }

  private relation(relid: number): Relation {
    const r = this.relations.get(relid);
    if (!r) throw new RowtrailError('PROTOCOL', `pgoutput: change for relation ${relid} before its RELATION message`);
    return r;
  }

  /** Hands what is buffered to the store's write worker (acknowledged when written: onWritten). */
  private flushAndAck(force: boolean): void {
    if (!force && Date.now() - this.lastFlush < FLUSH_INTERVAL_MS) return;
    this.lastFlush = Date.now();
    this.writer.post();
    this.updateFlow();
  }

  /** A batch is written: acknowledge its position, and read on if the worker has room again. */
  private onWritten(durable: string | null, error: unknown): void {
    if (error) {
      this.failure?.(error);
      return;
    }
    if (durable && (!this.durable || compareLsn(durable, this.durable) > 0)) {
      this.durable = durable;
      this.sendStatus();
    }
    this.updateFlow();
  }

  /** The stream reads while no catalog lookup is pending and the write worker has room (bounded memory). */
  private paused = false;
  private updateFlow(): void {
    const pause = this.blocked || this.writer.full;
    if (pause === this.paused || !this.conn?.stream) return;
    this.paused = pause;
    if (pause) this.conn.stream.pause();
    else this.conn.stream.resume();
  }

  /** Standby status update: written = flushed = applied = the durable position. */
  private sendStatus(): void {
    if (!this.conn || !this.durable) return;
    const lsn = parseLsn(this.durable);
    const b = Buffer.alloc(34);
    b[0] = 0x72; // 'r'
    b.writeBigUInt64BE(lsn, 1);
    b.writeBigUInt64BE(lsn, 9);
    b.writeBigUInt64BE(lsn, 17);
    b.writeBigInt64BE(pgNow(), 25);
    b[33] = 0;
    this.conn.sendCopyFromChunk(b);
    this.lastStatus = Date.now();
  }
}

/** `rowtrail.ddl` message (JSON from the precise-mode event trigger) → an `op: ddl` change. */
export function ddlChange(content: string): RowChange | null {
  const d = parseDdlMessage(content);
  if (!d) return null;
  return sharedDdlChange(d.schema ?? '', d.table ?? d.object ?? '', d.statement || d.tag);
}
