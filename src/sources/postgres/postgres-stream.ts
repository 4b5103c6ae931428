/**
 * PostgreSQL source: pgoutput over a replication connection (on `pg` directly; see docs/decisions.md for
 * why not pg-logical-replication), text values, protocol v2 streaming of large in-progress transactions.
 * Transactions are assembled in postgres-transactions.ts; this file owns the connections and the position.
 *
 * Delivery: the slot's confirmed position is advanced only to what the store's write worker reports durable
 * (`SourceWriter.onWritten`); while the worker has all the batches it may, the stream is paused.
 * On (re)connect, streaming starts from the store's position (or the slot's confirmed position), and the
 * store drops transactions it already has, so a crash anywhere neither loses nor duplicates a change.
 *
 * Faults: every phase (connect, catalog reads, streaming) ends promptly when the signal aborts, and every
 * connection is closed on every path. A dead or silent connection is noticed within RECEIVE_TIMEOUT_MS
 * (default 20 s): after half of it without a message the stream asks the server for a keepalive (a standby
 * status update with the reply flag), and the catalog connection is polled every LAG_POLL_MS with the same
 * timeout; connecting times out after 10 s (CONNECT_TIMEOUT_MS). Then the source reconnects with backoff.
 */
import type pg from 'pg';
import { RowtrailError, isFatal, oneLine } from '../../errors.js';
import type { SourceWriter } from '../../store/index.js';
import type { Source, SourceContext, SourceHealth, SourceStats } from '../source.js';
import { PgoutputDecoder } from './postgres-decoder.js';
import { PgTransactions } from './postgres-transactions.js';
import { LagTracker } from './postgres-lag.js';
import { compareLsn, formatLsn, standbyStatus } from './postgres-position.js';
import { classifyPgError, slotName, publicationName, serverAddress } from './postgres-errors.js';
import { CONNECT_TIMEOUT_MS, SLOT_GRACE_MS, closeClient, destroyClient, pgClient, preflight, withTimeout } from './postgres-connection.js';
import { SERVER_LSN_SQL, quoteIdent } from './postgres-catalog.js';
import { backoff, sleep } from '../backoff.js';
import { openWriter } from '../writer.js';
import { decodingWorkMem } from '../../config/index.js';

/** Flush at least this often while data flows (ms), and answer the server at least this often. */
const FLUSH_INTERVAL_MS = 50;
const STATUS_INTERVAL_MS = 10_000;
/** A connection silent for this long is dead (ms); a keepalive is requested after half of it. */
export const RECEIVE_TIMEOUT_MS = 20_000;
/** The server's WAL position is read this often on the catalog connection (lag, and its watchdog). */
const LAG_POLL_MS = 5_000;

export interface PostgresSourceOptions {
  /** A connection silent for this long is dead, in ms (default RECEIVE_TIMEOUT_MS, 20 s). */
  receiveTimeoutMs?: number;
  /** Connecting (TCP, startup, authentication) must finish within this, in ms (default CONNECT_TIMEOUT_MS, 10 s). */
  connectTimeoutMs?: number;
}

export class PostgresSource implements Source {
  readonly name: string;
  readonly writer: SourceWriter;
  readonly identity: SourceContext['identity'];
  readonly log: SourceContext['log'];
  readonly inflight: SourceContext['inflight'];
  private readonly ctx: SourceContext;
  private readonly receiveTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly decoder = new PgoutputDecoder();
  private readonly txs = new PgTransactions(this);
  private readonly lag = new LagTracker();
  private position: string | null;
  /** Where the current session started streaming (the slot's confirmed position when the store has none). */
  private startLsn: string | null = null;
  private lastFlush = 0;
  private lastStatus = 0;
  private counts = { changes: 0, transactions: 0 };
  private conn: any = null;
  private meta: pg.Client | null = null;
  /** WAL sender pids of this process's replication connections (ended if one still holds the slot). */
  private readonly ownPids = new Set<number>();
  /** Messages held while an async catalog lookup is in progress (keeps order). */
  private held: Buffer[] = [];
  private blocked = false;
  private paused = false;
  private failure: ((e: unknown) => void) | null = null;
  private state: SourceHealth['state'] = 'connecting';
  private connectedSince: number | null = null;
  private lastMessageAt: number | null = null;
  /** Start of the current silence the watchdog measures (last message, or when reading resumed). */
  private quietSince = 0;
  private pinged = false;
  private reconnects = 0;
  private lastError: string | null = null;
  /** WAL the slot holds back (bytes), from the last server poll. */
  private retainedBytes: number | null = null;

  constructor(ctx: SourceContext, opts: PostgresSourceOptions = {}) {
    [this.ctx, this.name, this.identity, this.log, this.inflight] = [ctx, ctx.config.name, ctx.identity, ctx.log, ctx.inflight];
    [this.receiveTimeoutMs, this.connectTimeoutMs] = [opts.receiveTimeoutMs ?? RECEIVE_TIMEOUT_MS, opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS];
    const database = decodeURIComponent(new URL(ctx.url).pathname.replace(/^\//, '')) || 'postgres';
    this.writer = openWriter(ctx, 'postgresql', database);
    this.writer.onWritten((durable, error) => this.onWritten(durable, error));
    this.position = ctx.store.position(this.name);
  }

  /** TxHost: the position durable in the store. */
  durable(): string | null {
    return this.position;
  }

  stats(): SourceStats {
    return {
      changes: this.counts.changes,
      transactions: this.counts.transactions,
      position: this.position,
      lagSeconds: this.lag.seconds(this.position, Date.now()),
    };
  }

  health(): SourceHealth {
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    return {
      state: this.state,
      connectedSince: iso(this.connectedSince),
      lastMessageAt: iso(this.lastMessageAt),
      reconnects: this.reconnects,
      lagBytes: this.lag.bytes(this.position),
      lagSeconds: this.lag.seconds(this.position, Date.now()),
      retainedBytes: this.retainedBytes,
      lastError: this.lastError,
    };
  }

  /** Streams until the signal aborts; reconnects with backoff on transient failures; rejects on fatal ones. */
  async run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    try {
      while (!signal.aborted) {
        const started = Date.now();
        try {
          await this.session(signal);
          await this.endSession();
          return;
        } catch (e) {
          await this.endSession();
          await this.writer.drain(); // a store failure (fatal) rejects here
          if (signal.aborted) return;
          const err = e instanceof RowtrailError ? e : classifyPgError(e, this.ctx.config);
          this.lastError = oneLine(err);
          if (isFatal(err)) throw err;
          if (Date.now() - started > 30_000) attempt = 0;
          const wait = backoff(attempt++);
          this.state = 'reconnecting';
          this.reconnects++;
          this.log.warn({ source: this.name, err: oneLine(err), retryInMs: wait }, 'replication connection lost; reconnecting');
          await sleep(wait, signal);
        }
      }
    } catch (e) {
      this.state = 'failed';
      this.lastError = oneLine(e);
      throw e;
    } finally {
      if (this.state !== 'failed') this.state = 'stopped';
      this.connectedSince = null;
    }
  }

  private async session(signal: AbortSignal): Promise<void> {
    const cfg = this.ctx.config;
    const slot = slotName(cfg);
    const publication = publicationName(cfg);
    const meta = pgClient(this.ctx.url, 'rowtrail-meta');
    this.meta = meta;
    let client: pg.Client | null = null;
    // Until streaming starts, a stop destroys whatever is connecting or waiting: connect, catalog reads and
    // the slot check all reject at once, and endSession closes what is left.
    const stopConnecting = () => {
      destroyClient(meta);
      destroyClient(client);
    };
    signal.addEventListener('abort', stopConnecting, { once: true });
    let facts: Awaited<ReturnType<typeof preflight>>;
    try {
      if (signal.aborted) throw new RowtrailError('CONNECT', 'stopped');
      const step = <T>(p: Promise<T>, what: string, ms = this.receiveTimeoutMs) => withTimeout(p, ms, `source '${this.name}': ${what}`, stopConnecting);
      await step(meta.connect(), `connecting to ${serverAddress(this.ctx.url)}`, this.connectTimeoutMs);
      facts = await step(preflight(meta, cfg, this.ownPids, signal), 'checking the slot', this.receiveTimeoutMs + SLOT_GRACE_MS);
      await step(this.txs.prepare(meta), 'reading the catalog');
      client = pgClient(this.ctx.url, 'rowtrail', true, decodingWorkMem(this.ctx.root, cfg));
      this.conn = (client as any).connection;
      await step(client.connect(), `connecting to ${serverAddress(this.ctx.url)} for replication`, this.connectTimeoutMs);
      if ((client as any).processID) this.ownPids.add((client as any).processID);
    } finally {
      signal.removeEventListener('abort', stopConnecting);
    }
    if (signal.aborted) throw new RowtrailError('CONNECT', 'stopped');

    const version = facts.version;
    const start = this.position && facts.confirmed && compareLsn(this.position, facts.confirmed) > 0 ? this.position : (facts.confirmed ?? '0/0');
    this.startLsn = start;
    const options = [`proto_version '${version >= 140000 ? 2 : 1}'`, `publication_names '${publication.replace(/'/g, "''")}'`, `messages 'true'`];
    if (version >= 140000) options.push(`streaming 'on'`);
    const workMem = decodingWorkMem(this.ctx.root, cfg);
    this.log.info({ source: this.name, slot, publication, start, server: version, ...(workMem ? { decodingWorkMem: workMem } : {}) }, 'streaming changes');
    const repl = client;
    return await new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (e?: unknown) => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        clearInterval(poller);
        signal.removeEventListener('abort', onAbort);
        if (e) reject(e);
        else resolve();
      };
      this.failure = (e) => {
        done(e);
        destroyClient(repl);
      };
      const onAbort = () => {
        // Whatever is handed over becomes durable (and acknowledged) before the connection closes.
        this.writer.drain().then(
          () => closeClient(repl).then(() => done()),
          (e) => this.failure?.(e),
        );
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.quietSince = Date.now();
      this.pinged = false;
      const timer = setInterval(() => this.tick(), FLUSH_INTERVAL_MS);
      const poller = setInterval(() => this.pollServer(), LAG_POLL_MS);
      this.pollServer();
      this.conn.once('replicationStart', () => {
        this.state = 'streaming';
        this.connectedSince = Date.now();
        this.quietSince = Date.now();
      });
      this.conn.on('copyData', (msg: { chunk: Buffer }) => {
        if (settled || signal.aborted) return;
        this.lastMessageAt = this.quietSince = Date.now();
        this.pinged = false;
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
      repl.on('end', () => done(new RowtrailError('CONNECT', 'replication connection closed by the server')));
      repl.query(`START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${start} (${options.join(', ')})`).then(
        () => done(signal.aborted ? undefined : new RowtrailError('CONNECT', 'replication stream ended by the server')),
        (e) => done(signal.aborted ? undefined : e),
      );
    }).finally(async () => {
      // Closed on every path: a failed START_REPLICATION (slot taken a moment ago) leaves the connection open.
      this.conn = null;
      await closeClient(repl, 500);
    });
  }

  /** Every FLUSH_INTERVAL_MS while streaming: flush, answer the server, and watch for silence. */
  private tick(): void {
    try {
      if (this.blocked) return;
      this.flushAndAck(false);
      if (Date.now() - this.lastStatus > STATUS_INTERVAL_MS) this.sendStatus();
      if (this.paused) return;
      // Counted from START_REPLICATION on: a server that never answers it is as dead as a silent stream.
      const quiet = Date.now() - this.quietSince;
      if (quiet > this.receiveTimeoutMs) {
        throw new RowtrailError('CONNECT', `no message from the server for ${Math.round(quiet / 1000)} s (network partition or server hung); reconnecting`);
      }
      if (quiet > this.receiveTimeoutMs / 2 && !this.pinged) {
        this.pinged = true;
        this.sendStatus(true);
      }
    } catch (e) {
      this.failure?.(e);
    }
  }

  /** The server's WAL position, for lag; an unanswered poll means the catalog connection is dead. */
  private pollServer(): void {
    const meta = this.meta;
    if (!meta) return;
    // pg_replication_slots is readable by every role: the WAL the slot holds back comes with it.
    const q = meta.query<{ l: string | null; retained: string | null }>(
      `SELECT w.l::text AS l, (SELECT pg_wal_lsn_diff(w.l, s.restart_lsn) FROM pg_replication_slots s WHERE s.slot_name = $1)::text AS retained
         FROM (SELECT ${SERVER_LSN_SQL} AS l) w`,
      [slotName(this.ctx.config)],
    );
    withTimeout(q, this.receiveTimeoutMs, 'catalog connection', () => destroyClient(meta)).then(
      (r) => {
        if (!r.rows[0]?.l) return;
        const retained = r.rows[0].retained === null ? null : Number(r.rows[0].retained);
        this.retainedBytes = retained === null || !Number.isFinite(retained) ? null : Math.max(0, retained);
        this.lag.serverAt(r.rows[0].l, Date.now());
        // Behind with nothing in flight: ask for a keepalive, whose WAL end says how far the WAL sender has read
        // (WAL of other databases or checkpoints holds nothing for this slot and must not count as lag).
        if (!this.txs.inFlight && this.lag.bytes(this.position)) this.sendStatus(true);
      },
      (e) => this.failure?.(e),
    );
  }

  /** Closes everything the session opened; what was received but not committed is resent by the server. */
  private async endSession(): Promise<void> {
    this.txs.reset();
    this.held = [];
    this.blocked = false;
    this.paused = false;
    this.failure = null;
    this.connectedSince = null;
    try {
      this.writer.post();
    } catch (e) {
      this.log.error({ source: this.name, err: oneLine(e) }, 'store flush failed while closing the session');
    }
    const conn = this.conn;
    this.conn = null;
    if (conn?.stream) conn.stream.destroy();
    const meta = this.meta;
    this.meta = null;
    await closeClient(meta, 500);
  }

  /** One CopyData message from the server: XLogData ('w') or primary keepalive ('k'). */
  private onCopyData(chunk: Buffer): void {
    const kind = chunk[0];
    if (kind === 0x77 /* w */) {
      this.txs.handle(this.decoder.decode(chunk.subarray(25)), chunk);
    } else if (kind === 0x6b /* k */) {
      const walEnd = formatLsn(chunk.readUInt32BE(1), chunk.readUInt32BE(5));
      const replyRequested = chunk[17] === 1;
      this.lag.serverAt(walEnd, Date.now());
      // While nothing is in flight, everything up to walEnd is either stored or not ours: let the slot move on.
      if (!this.txs.inFlight) {
        this.lag.pass(walEnd);
        if (!this.position || compareLsn(walEnd, this.position) > 0) this.writer.advance(walEnd);
      }
      this.flushAndAck(true);
      if (replyRequested) this.sendStatus();
    }
  }

  /** TxHost: a transaction was handed to the writer. */
  committed(size: number, endLsn: string, commitTime: string): void {
    this.counts.changes += size;
    this.counts.transactions++;
    this.lag.received(endLsn, commitTime);
  }

  /** TxHost: pauses message handling for an async catalog lookup; `raw` (when given) is re-handled after it. */
  block(raw: Buffer | null, work: (meta: pg.Client) => Promise<void>): void {
    this.blocked = true;
    if (raw) this.held.unshift(raw);
    this.updateFlow();
    work(this.meta!).then(
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

  /** TxHost: hands what is buffered to the store's write worker (acknowledged when written: onWritten). */
  flush(force: boolean): void {
    this.flushAndAck(force);
  }

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
    if (durable && (!this.position || compareLsn(durable, this.position) > 0)) {
      this.position = durable;
      this.lag.durable(durable);
      this.sendStatus();
    }
    this.updateFlow();
  }

  /** The stream reads while no catalog lookup is pending and the write worker has room (bounded memory). */
  private updateFlow(): void {
    const pause = this.blocked || this.writer.full;
    if (pause === this.paused || !this.conn?.stream) return;
    this.paused = pause;
    if (pause) this.conn.stream.pause();
    else {
      // The silence the watchdog measures starts again: nothing could arrive while the stream was paused.
      this.quietSince = Date.now();
      this.conn.stream.resume();
    }
  }

  /** Standby status update: written = flushed = applied = the durable position; `reply` asks for a keepalive. */
  private sendStatus(reply = false): void {
    const at = this.position ?? this.startLsn;
    // CopyData is the server's to expect only once it answered START_REPLICATION.
    if (!this.conn || !at || this.state !== 'streaming') return;
    this.conn.sendCopyFromChunk(standbyStatus(at, reply));
    this.lastStatus = Date.now();
  }
}
