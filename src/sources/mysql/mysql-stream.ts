/**
 * The MySQL / MariaDB source: streams the binlog from the stored position, assembles transactions
 * (mysql-transaction.ts), writes them through the store's SourceWriter with the new position in the same
 * store transaction, and reconnects with backoff. The twin of postgres-stream.ts: the same lifecycle
 * (`run`, `session`, `endSession`), flow control (`flushAndAck`, `onWritten`, `updateFlow`, `block`) and health.
 *
 * Nothing is acknowledged to the server (a binlog dump is a pull): "durable" is the store position (as the
 * store's write worker reports it), and a restart resumes from it, so every committed change is stored
 * exactly once. While the write worker has all the batches it may, the connection is paused.
 */
import type { Source, SourceContext, SourceHealth, SourceStats } from '../source.js';
import type { TxFacts } from '../../identity/resolver.js';
import type { SourceWriter } from '../../store/index.js';
import { coverageClock, type RowChange } from '../../model/index.js';
import { RowtrailError, isFatal, oneLine } from '../../errors.js';
import { backoff, sleep } from '../backoff.js';
import { openWriter } from '../writer.js';
import { BinlogDecoder, DecodeError, NeedCharset, SchemaHistory, type EventHeader, type ServerCharsets } from './mysql-decoder.js';
import {
  classify,
  close,
  connect,
  currentPosition,
  parseUrl,
  query,
  serverCharsets,
  serverFacts,
  untilAborted,
  type Conn,
  type ConnInfo,
  type ServerFacts,
} from './mysql-client.js';
import { dumpError, dumpRequest, startDump, type DumpCommand } from './mysql-dump.js';
import { BinlogLag, type ReadState } from './mysql-lag.js';
import { checkPurged, defaultServerId, missingTables, missingTablesWarning, settingProblems, watchFilter } from './mysql-settings.js';
import { charsetMap, type CharsetMap } from './mysql-charsets.js';
import { BinlogTransactions, type Coord, type OpenTx, type TxHost } from './mysql-transaction.js';

export interface MysqlSourceOptions {
  /** Where to start when the store has no position yet (default: the current end of the binlog). */
  startPosition?: string;
  /** Seconds between server heartbeats while idle; the connection is dropped after 3 missed. Default 5. */
  heartbeatSeconds?: number;
  /** Most milliseconds committed transactions wait in memory before the store flush. Default 100. */
  flushIntervalMs?: number;
  /** First reconnect delay in ms (doubles up to 30 s, ±20% jitter: sources/backoff.ts). Default 500. */
  backoffMs?: number;
  /** Called each time the binlog stream is established (tests, benchmarks). */
  onStreaming?: (position: string) => void;
}

/** Committed transactions handed to the store at the latest after this many. */
const FLUSH_TXS = 2000;

export class MysqlSource implements Source, TxHost {
  readonly name: string;
  private readonly ctx: SourceContext;
  private readonly opts: MysqlSourceOptions;
  private readonly info: ConnInfo;
  private readonly watched: (db: string, table: string) => boolean;
  /** Opened at the first connect: whether it writes 'mysql' or 'mariadb' events is the server's answer. */
  private writer: SourceWriter | null = null;
  private readonly history = new SchemaHistory();
  /** The server's decoding tables of the charsets met so far (kept across reconnects). */
  private readonly maps = new Map<string, CharsetMap>();
  private counts = { changes: 0, transactions: 0 };
  private durable: string | null;

  // One session (connection) at a time.
  private conn: Conn | null = null;
  /** Control connection: settings checks, charset tables, the binlog end for the lag. */
  private meta: Conn | null = null;
  private facts: ServerFacts | null = null;
  private charsets: ServerCharsets | null = null;
  private txs: BinlogTransactions | null = null;
  private decoder: BinlogDecoder | null = null;
  private failure: ((e: unknown) => void) | null = null;
  /** Events held while a charset table loads (keeps order). */
  private held: [Buffer, number, number][] = [];
  private blocked = false;
  private paused = false;
  private lastFlush = 0;
  private lastPacket = 0;
  private committedSinceFlush = 0;
  /** Commit time (local ms) of the oldest MariaDB commit whose actor is resolved at write time; see finishTx. */
  private oldestDeferred: number | null = null;
  /** The newest such commit's facts: the flush waits until identity can resolve it (IdentityResolver.ready). */
  private newestDeferred: TxFacts | null = null;

  // Health.
  private state: SourceHealth['state'] = 'connecting';
  /** Whether the missing-tables warning was given (once per process). */
  private warnedTables = false;
  private connectedSince: string | null = null;
  private lastMessageAt: number | null = null;
  private reconnects = 0;
  private lastError: string | null = null;
  private readonly binlogLag = new BinlogLag();

  constructor(ctx: SourceContext, opts: MysqlSourceOptions = {}) {
    this.ctx = ctx;
    this.opts = opts;
    this.name = ctx.config.name;
    this.info = { ...parseUrl(ctx.url), serverId: ctx.config.serverId ?? defaultServerId(this.name) };
    this.watched = watchFilter(ctx.config.tables, this.info.database);
    this.durable = ctx.store.position(this.name);
  }

  stats(): SourceStats {
    return { changes: this.counts.changes, transactions: this.counts.transactions, position: this.durable, lagSeconds: this.lag().seconds };
  }

  health(): SourceHealth {
    const lag = this.lag();
    return {
      state: this.state,
      connectedSince: this.connectedSince,
      lastMessageAt: this.lastMessageAt === null ? null : new Date(this.lastMessageAt).toISOString(),
      reconnects: this.reconnects,
      lagBytes: lag.bytes,
      retainedBytes: null,
      lagSeconds: lag.seconds,
      lastError: this.lastError,
    };
  }

  /** Streams until the signal aborts; reconnects with backoff on transient failures; rejects on fatal ones. */
  async run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        await this.session(signal);
        break;
      } catch (e) {
        this.endSession();
        try {
          await this.writer?.drain(); // a store failure (fatal) rejects here
        } catch (s) {
          this.state = 'failed';
          throw s;
        }
        if (signal.aborted) break;
        const err = e instanceof RowtrailError ? e : classify(e, this.info);
        this.lastError = oneLine(err);
        if (isFatal(err)) {
          this.state = 'failed';
          this.ctx.log.error({ source: this.name, code: err.code }, oneLine(err));
          throw err;
        }
        if (Date.now() - started > 30_000) attempt = 0;
        const wait = backoff(attempt++, this.opts.backoffMs ?? 500);
        this.state = 'reconnecting';
        this.reconnects++;
        this.ctx.log.warn({ source: this.name, code: err.code, retryInMs: wait }, `binlog stream lost: ${oneLine(err)}; reconnecting`);
        await sleep(wait, signal);
      }
    }
    this.state = 'stopped';
  }

  /** One connection's life: connect, check, stream; resolves on abort, rejects on any failure. */
  private async session(signal: AbortSignal): Promise<void> {
    this.meta = await connect(this.info, signal);
    const meta = this.meta;
    const facts = await untilAborted(serverFacts(meta), signal);
    const problems = settingProblems(facts);
    if (problems.length) throw new RowtrailError('SERVER_SETTING', `${problems[0].message}; ${problems[0].fix}`);
    const charsets = await untilAborted(serverCharsets(meta), signal);
    charsets.maps = this.maps;
    this.charsets = charsets;
    const w = this.writerFor(facts);
    let position = this.ctx.store.position(this.name);
    if (position === null) {
      position = this.opts.startPosition ?? (await untilAborted(currentPosition(meta, facts), signal));
      // Record where capture starts, so a restart does not skip what happened while it was down.
      w.advance(position);
      await w.drain();
      this.durable = position;
    }
    await untilAborted(checkPurged(meta, facts, position), signal);
    // A typo in `tables:` would be watched silently: say so once per start (doctor says it too).
    if (!this.warnedTables) {
      this.warnedTables = true;
      const probe = await untilAborted(missingTables(meta, this.ctx.config, this.info.database), signal).catch(() => null);
      const warning = probe && missingTablesWarning(probe, this.name);
      if (warning) this.ctx.log.warn({ source: this.name }, warning);
    }
    this.conn = await connect(this.info, signal);
    this.facts = facts;
    this.txs = new BinlogTransactions(w, this, position);
    this.decoder = new BinlogDecoder({ checksum: facts.checksum, charsets, watch: this.watched, history: this.history });
    this.binlogLag.reset(position);
    const heartbeat = this.opts.heartbeatSeconds ?? 5;
    const req = dumpRequest(this.info.serverId!, `rowtrail-${this.name}`, facts.mariadb, position);
    const cmd = await untilAborted(startDump(this.conn, facts, req, heartbeat), signal);
    const log = { source: this.name, position, server: facts.version };
    // The line an operator looks for after an outage (PostgreSQL's twin says the same).
    if (this.reconnects > 0) this.ctx.log.info(log, `binlog stream resumed at ${position}`);
    else this.ctx.log.info(log, 'streaming changes');
    this.state = 'streaming';
    this.connectedSince = new Date().toISOString();
    this.lastPacket = Date.now();
    this.opts.onStreaming?.(position);
    return this.stream(this.conn, cmd, signal, heartbeat);
  }

  private stream(conn: Conn, cmd: DumpCommand, signal: AbortSignal, heartbeat: number): Promise<void> {
    const w = this.writer!;
    const flushEvery = this.opts.flushIntervalMs ?? 100;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (e?: unknown) => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
        this.endSession();
        // Resolve (or reject) once what was handed over is durable, so a reconnect resumes from the stored position.
        w.drain().then(
          () => (e ? reject(e) : resolve()),
          (d) => reject(e ?? d),
        );
      };
      this.failure = (e) => done(e instanceof RowtrailError ? e : classify(e, this.info));
      const onAbort = () => done();
      signal.addEventListener('abort', onAbort, { once: true });
      const timer = setInterval(() => {
        try {
          if (Date.now() - this.lastPacket > heartbeat * 3000) {
            throw new RowtrailError('CONNECT', `no event or heartbeat from the server for ${heartbeat * 3} s`);
          }
          const idle = !this.txs?.open;
          const busyDue = !idle && Date.now() - this.lastFlush >= flushEvery * 5 && this.actorsReady(Date.now());
          if ((idle && this.flushDue()) || busyDue) this.flushAndAck();
          if (this.meta) this.binlogLag.poll(this.meta, this.facts!, () => this.readState());
        } catch (e) {
          this.failure?.(e);
        }
      }, Math.max(20, Math.min(flushEvery, 1000)));
      cmd.on('event', (buf: Buffer, start: number, end: number) => {
        if (settled) return;
        this.lastMessageAt = this.lastPacket = Date.now();
        if (this.blocked) this.held.push([buf, start, end]);
        else this.onEvent(buf, start, end);
      });
      cmd.on('error', (e: unknown) => this.failure?.(dumpError(e, this.info)));
      cmd.on('end', () => this.failure?.(new RowtrailError('CONNECT', 'the server ended the binlog stream')));
      conn.on('error', (e) => this.failure?.(e));
      conn.on('end', () => this.failure?.(new RowtrailError('CONNECT', 'the connection to the server closed')));
    });
  }

  /** Closes the session's connections; what was received but not committed is resent from the durable position. */
  private endSession(): void {
    this.txs?.abortOpen();
    this.failure = null;
    this.held = [];
    this.blocked = false;
    this.paused = false;
    this.connectedSince = null;
    try {
      this.writer?.post();
    } catch (e) {
      this.ctx.log.error({ source: this.name, err: oneLine(e) }, 'store flush failed while closing the session');
    }
    close(this.conn);
    close(this.meta);
    this.conn = null;
    this.meta = null;
  }

  private writerFor(facts: ServerFacts): SourceWriter {
    if (!this.writer) {
      this.writer = openWriter(this.ctx, facts.mariadb ? 'mariadb' : 'mysql', this.info.database ?? '');
      this.writer.onWritten((durable, error) => this.onWritten(durable, error));
    }
    return this.writer;
  }

  /** One binlog event (header included) from the dump. */
  private onEvent(buf: Buffer, start: number, end: number): void {
    const txs = this.txs!;
    let h: EventHeader | undefined;
    try {
      h = BinlogDecoder.header(buf, start);
      txs.handle(h, this.decoder!.decode(buf, start, end, h, txs.where()));
    } catch (e) {
      if (e instanceof NeedCharset) return this.block([buf, start, end], e.charset);
      const where = `${txs.file || '?'}:${h?.nextPos || txs.pos}`;
      const what = `cannot decode binlog event type ${h?.type} at ${where} (resume position ${this.durable})`;
      if (e instanceof DecodeError) {
        return this.failure?.(new RowtrailError(e.setting ? 'SERVER_SETTING' : 'DECODE', `${what}: ${e.message}`, e));
      }
      if (e instanceof RowtrailError) return this.failure?.(e);
      return this.failure?.(new RowtrailError('DECODE', `${what}: ${(e as Error)?.message ?? e}`, e));
    }
  }

  /** TxHost: a change of the open group. */
  add(tx: OpenTx, change: RowChange): void {
    this.writer!.add(tx.handle, change);
    if (this.writer!.shouldFlush) this.flushAndAck();
  }

  /** TxHost: a group is complete (commit, or only the position moves when nothing watched is in it). */
  finishTx(tx: OpenTx, position: string, resume: string, commitTime: string, end: Coord, commitMs: number): void {
    const w = this.writer!;
    if (tx.handle.size === 0) {
      w.abort(tx.handle);
      w.advance(resume);
    } else {
      const facts: TxFacts = {
        source: this.name,
        xid: tx.handle.xid,
        commitTime,
        messages: [],
        statements: tx.statements,
        sessionId: tx.threadId !== undefined ? String(tx.threadId) : undefined,
        receivedAt: coverageClock(),
      };
      // MariaDB logs no thread id for DML: such a transaction is attributed from its annotated statement,
      // which the processlist sampler must have seen. Its actor is resolved when written, and a timed flush
      // waits until the sampler has read past the newest such commit (actorsReady).
      const deferred = facts.sessionId === undefined && facts.statements.length > 0;
      if (deferred && this.oldestDeferred === null) this.oldestDeferred = Date.now();
      if (deferred) this.newestDeferred = facts;
      const actor = deferred ? () => this.ctx.identity.resolve(facts) : this.ctx.identity.resolve(facts);
      w.commit(tx.handle, { position, commitTime, actor, resumePosition: resume });
      this.counts.changes += tx.handle.size;
      this.counts.transactions++;
      this.committedSinceFlush++;
    }
    this.binlogLag.committed(resume, tx.start, end, commitMs);
    if (w.shouldFlush || this.committedSinceFlush >= FLUSH_TXS || this.flushDue()) this.flushAndAck();
  }

  /** TxHost: whether a DDL change concerns a watched table (or names none). */
  watchedDdl(c: RowChange): boolean {
    return !c.table || this.watched(c.schema, c.table);
  }

  /** TxHost: a watched table was dropped. */
  dropped(c: RowChange): void {
    const fix = `remove it from sources[].tables of ${this.name} or recreate it`;
    this.ctx.log.warn({ source: this.name }, `watched table ${c.schema}.${c.table} was dropped; ${fix}`);
  }

  private flushDue(): boolean {
    const now = Date.now();
    return now - this.lastFlush >= (this.opts.flushIntervalMs ?? 100) && this.actorsReady(now);
  }

  /**
   * Whether the deferred actors can be resolved now: once the sampler has read past the newest deferred commit
   * (a statement text is evidence only then), or after 25 sampler ticks at most (they stay unknown). A resolver
   * that cannot tell waits three ticks.
   */
  private actorsReady(now: number): boolean {
    if (this.oldestDeferred === null) return true;
    const tick = this.ctx.root.identity?.sampleIntervalMs ?? 20;
    const waited = now - this.oldestDeferred;
    if (!this.ctx.identity.ready) return waited >= 3 * tick;
    return waited >= 25 * tick || (this.newestDeferred !== null && this.ctx.identity.ready(this.newestDeferred));
  }

  /** Hands what is buffered to the store's write worker (durable when written: onWritten). */
  private flushAndAck(): void {
    this.writer!.post();
    this.committedSinceFlush = 0;
    this.lastFlush = Date.now();
    this.oldestDeferred = null;
    this.newestDeferred = null;
    this.updateFlow();
  }

  /** A batch is written: it is the durable position now; read on if the write worker has room again. */
  private onWritten(durable: string | null, error: unknown): void {
    if (error) {
      this.failure?.(error);
      return;
    }
    if (durable !== null) {
      this.durable = durable;
      this.binlogLag.written(durable);
    }
    this.lastPacket = Date.now();
    this.updateFlow();
  }

  /** The dump reads while no charset table is loading and the write worker has room (bounded memory). */
  private updateFlow(): void {
    const pause = this.blocked || (this.writer?.full ?? false);
    if (pause === this.paused || !this.conn) return;
    this.paused = pause;
    if (pause) this.conn.pause();
    else this.conn.resume();
  }

  /** Pauses event handling while the server's table of `charset` loads; `event` is decoded again after it. */
  private block(event: [Buffer, number, number], charset: string): void {
    this.blocked = true;
    this.held.unshift(event);
    this.updateFlow();
    const facts = this.facts!;
    const meta = this.meta!;
    const session = this.txs;
    charsetMap((sql) => query(meta, sql), facts.version, charset, this.charsets?.maxLen.get(charset) ?? 1).then(
      (map) => {
        this.maps.set(charset, map);
        if (this.txs !== session) return; // the session ended meanwhile; the next one starts unblocked
        this.blocked = false;
        this.lastPacket = Date.now();
        const held = this.held;
        this.held = [];
        for (let i = 0; i < held.length; i++) {
          if (this.blocked) {
            this.held.push(...held.slice(i));
            return;
          }
          this.onEvent(...held[i]);
        }
        this.updateFlow();
      },
      (e) => {
        if (this.txs !== session) return;
        // The server refused the conversion queries: fatal. A lost connection: retried like any other.
        const refused = typeof (e as { errno?: unknown })?.errno === 'number';
        const msg = `cannot read the server's table of character set ${charset}: ${oneLine(e)}`;
        this.failure?.(refused ? new RowtrailError('DECODE', msg, e) : classify(e, this.info));
      },
    );
  }

  private readState(): ReadState {
    const txs = this.txs;
    const open = txs?.open;
    return {
      read: { file: txs?.file ?? '', pos: txs?.pos ?? 0 },
      openSinceMs: open ? open.startSeconds * 1000 : null,
      openStart: open?.start ?? null,
      inFlight: this.writer?.hasInFlight ?? false,
    };
  }

  private lag(): { bytes: number | null; seconds: number | null } {
    return this.txs ? this.binlogLag.measure(this.readState()) : { bytes: null, seconds: null };
  }
}
