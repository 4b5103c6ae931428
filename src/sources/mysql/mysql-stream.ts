/**
 * The MySQL / MariaDB source: streams the binlog from the stored position, assembles transactions
 * (GTID/BEGIN → table maps + row events → XID/COMMIT; DDL from query events), writes them through the
 * store's SourceWriter with the new position in the same store transaction, and reconnects with backoff.
 *
 * Nothing is acknowledged to the server (a binlog dump is a pull): "durable" is the store position (as the
 * store's write worker reports it), and a restart resumes from it, so every committed change is stored
 * exactly once. While the write worker has all the batches it may, the connection is paused.
 */
import type { Source, SourceContext, SourceStats } from '../source.js';
import type { SourceWriter, TxHandle } from '../../store/index.js';
import type { RowChange, SystemKind } from '../../model/index.js';
import { RowtrailError, isFatal, oneLine } from '../../errors.js';
import { BinlogDecoder, DecodeError, SchemaHistory, type EventHeader } from './mysql-decoder.js';
import {
  classify,
  close,
  connect,
  currentPosition,
  parseUrl,
  serverCharsets,
  serverFacts,
  startDump,
  type Conn,
  type ConnInfo,
  type ServerFacts,
} from './mysql-client.js';
import { mariadbPurged, mariadbState, mysqlGtidState, parseFilePos, positionKind, type GtidState } from './mysql-position.js';
import { oldestGtidState, settingProblems } from './mysql-settings.js';
import { Savepoints, txControl, type TxControl } from './mysql-savepoints.js';

export interface MysqlSourceOptions {
  /** Where to start when the store has no position yet (default: the current end of the binlog). */
  startPosition?: string;
  /** Seconds between server heartbeats while idle; the connection is dropped after 3 missed. Default 5. */
  heartbeatSeconds?: number;
  /** Most milliseconds committed transactions wait in memory before the store flush. Default 100. */
  flushIntervalMs?: number;
  /** First reconnect delay in ms (doubles up to 30 s). Default 500. */
  backoffMs?: number;
  /** Called each time the binlog stream is established (tests, benchmarks). */
  onStreaming?: (position: string) => void;
}

/** A server id for this source when none is configured: stable per source name, away from small ids. */
export function defaultServerId(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return 0x52540000 + (h % 0xffff);
}

const SYSTEM_DBS = new Set(['mysql', 'sys', 'information_schema', 'performance_schema']);

interface OpenTx {
  handle: TxHandle;
  /** GTID of the transaction (its commit position) when GTIDs are on. */
  gtid: string | null;
  statements: string[];
  threadId?: number;
  /** MariaDB standalone group (DDL): commits at its query event. */
  standalone: boolean;
  commitMicros: bigint | null;
  /** Savepoints logged in this group (rows after one that is rolled back to are cut). */
  savepoints: Savepoints;
}

export class MysqlSource implements Source {
  readonly name: string;
  private readonly ctx: SourceContext;
  private readonly opts: MysqlSourceOptions;
  private readonly info: ConnInfo;
  private readonly serverId: number;
  private readonly watched: (db: string, table: string) => boolean;
  private writer: SourceWriter | null = null;
  private readonly history = new SchemaHistory();
  private st = { changes: 0, transactions: 0, lastCommitMs: 0 };
  private durable: string | null = null;

  constructor(ctx: SourceContext, opts: MysqlSourceOptions = {}) {
    this.ctx = ctx;
    this.opts = opts;
    this.name = ctx.config.name;
    this.info = parseUrl(ctx.url);
    this.serverId = ctx.config.serverId ?? defaultServerId(this.name);
    this.watched = watchFilter(ctx.config.tables, this.info.database);
    this.durable = ctx.store.position(this.name);
  }

  stats(): SourceStats {
    return {
      changes: this.st.changes,
      transactions: this.st.transactions,
      position: this.durable,
      lagSeconds: this.st.lastCommitMs ? Math.max(0, (Date.now() - this.st.lastCommitMs) / 1000) : null,
    };
  }

  /** Streams until `signal` aborts; reconnects with backoff on connection failures; rejects on fatal ones. */
  async run(signal: AbortSignal): Promise<void> {
    const first = this.opts.backoffMs ?? 500;
    let delay = first;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        await this.streamOnce(signal);
        return;
      } catch (e) {
        const err = e instanceof RowtrailError ? e : classify(e, this.info);
        if (isFatal(err)) {
          this.ctx.log.error({ source: this.name, code: err.code }, oneLine(err));
          throw err;
        }
        if (Date.now() - started > 30_000) delay = first;
        this.ctx.log.warn({ source: this.name, code: err.code, retryInMs: delay }, `binlog stream lost: ${oneLine(err)}; reconnecting`);
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  /** One connection's life: connect, check, stream; resolves on abort, rejects on any failure. */
  private async streamOnce(signal: AbortSignal): Promise<void> {
    let ctrl: Conn | null = null;
    let dump: Conn | null = null;
    try {
      ctrl = await connect(this.info);
      const facts = await serverFacts(ctrl);
      const problems = settingProblems(facts);
      if (problems.length) throw new RowtrailError('SERVER_SETTING', `${problems[0].message}; ${problems[0].fix}`);
      const charsets = await serverCharsets(ctrl);
      const w = this.writerFor(facts);
      let position = this.ctx.store.position(this.name);
      if (position === null) {
        position = this.opts.startPosition ?? (await currentPosition(ctrl, facts));
        // Record where capture starts, so a restart does not skip what happened while it was down.
        w.advance(position);
        await w.drain();
        this.durable = position;
      }
      await this.checkPurged(ctrl, facts, position);
      close(ctrl);
      ctrl = null;
      if (signal.aborted) return;
      dump = await connect(this.info);
      await this.stream(dump, facts, charsets, position, signal);
    } finally {
      close(ctrl);
      close(dump);
    }
  }

  private writerFor(facts: ServerFacts): SourceWriter {
    if (!this.writer) {
      const system: SystemKind = facts.mariadb ? 'mariadb' : 'mysql';
      this.writer = this.ctx.store.writer(this.name, system, this.info.database ?? '', { worker: true });
    }
    return this.writer;
  }

  /** A stored MariaDB GTID position older than the oldest binlog: fail now with the fix. */
  private async checkPurged(ctrl: Conn, facts: ServerFacts, position: string): Promise<void> {
    if (!facts.mariadb || positionKind(position) !== 'mariadb-gtid') return;
    const oldest = await oldestGtidState(ctrl);
    if (oldest !== null && mariadbPurged(position, oldest)) {
      throw new RowtrailError(
        'POSITION_LOST',
        `the binlog holding stored position ${position} was purged (oldest binlog starts after ${oldest}); raise binlog retention (expire_logs_days / binlog_expire_logs_seconds) and reset this source's stored position to capture from now (changes in the gap are lost)`,
      );
    }
  }

  private stream(conn: Conn, facts: ServerFacts, charsets: Awaited<ReturnType<typeof serverCharsets>>, position: string, signal: AbortSignal): Promise<void> {
    const w = this.writer!;
    const log = this.ctx.log;
    const kind = positionKind(position);
    const decoder = new BinlogDecoder({ checksum: facts.checksum, charsets, watch: this.watched, history: this.history });
    const gtid: GtidState | null = kind === 'mariadb-gtid' ? mariadbState(position) : kind === 'mysql-gtid' ? mysqlGtidState(position) : null;
    let file = kind === 'file' ? parseFilePos(position).file : '';
    let filePos = kind === 'file' ? parseFilePos(position).pos : 4;
    let tx: OpenTx | null = null;
    let committedSinceFlush = 0;
    let lastFlush = Date.now();
    const heartbeat = this.opts.heartbeatSeconds ?? 5;
    const flushEvery = this.opts.flushIntervalMs ?? 100;

    // MariaDB logs no thread id for DML: such a transaction is attributed from its annotated statement,
    // which the processlist sampler must have seen. Its actor is resolved when written, and a timed flush
    // waits until the oldest such commit is a few sampler ticks old.
    const actorDelayMs = 3 * (this.ctx.root.identity?.sampleIntervalMs ?? 20);
    let oldestDeferred: number | null = null;
    const flushDue = () => Date.now() - lastFlush >= flushEvery && (oldestDeferred === null || Date.now() - oldestDeferred >= actorDelayMs);
    let paused = false;
    const flush = () => {
      w.post();
      if (w.full && !paused) {
        paused = true;
        conn.pause();
      }
      committedSinceFlush = 0;
      lastFlush = Date.now();
      oldestDeferred = null;
    };

    const begin = (g: string | null, standalone: boolean, commitMicros: bigint | null): OpenTx => {
      if (tx) {
        // A new group while one is open. Harmless when the open one holds nothing (e.g. a GTID followed by
        // a BEGIN query); with rows it would mean a transaction without a commit event: stop, never guess.
        if (tx.handle.size > 0) throw new DecodeError(`transaction ${tx.handle.xid} has ${tx.handle.size} changes but no commit event before the next one`);
        w.abort(tx.handle);
      }
      const xid = g ?? `${file}:${filePos}`;
      tx = { handle: w.begin(xid), gtid: g, statements: [], standalone, commitMicros, savepoints: new Savepoints() };
      return tx;
    };

    const commit = (h: EventHeader) => {
      const t = tx!;
      tx = null;
      const pos = t.gtid ?? `${file}:${h.nextPos}`;
      const resume = gtid && t.gtid ? gtid.add(t.gtid) : `${file}:${h.nextPos}`;
      if (t.handle.size === 0) {
        // Nothing watched in it: only the position moves.
        w.abort(t.handle);
        w.advance(resume);
      } else {
        const commitTime = t.commitMicros !== null ? microsIso(t.commitMicros) : secondsIso(h.timestamp);
        const facts = {
          source: this.name,
          xid: t.handle.xid,
          commitTime,
          messages: [],
          statements: t.statements,
          sessionId: t.threadId !== undefined ? String(t.threadId) : undefined,
        };
        const deferred = facts.sessionId === undefined && facts.statements.length > 0;
        if (deferred && oldestDeferred === null) oldestDeferred = Date.now();
        const actor = deferred ? () => this.ctx.identity.resolve(facts) : this.ctx.identity.resolve(facts);
        w.commit(t.handle, { position: pos, commitTime, actor, resumePosition: resume });
        this.st.changes += t.handle.size;
        this.st.transactions++;
        this.st.lastCommitMs = h.timestamp * 1000;
        committedSinceFlush++;
      }
      if (w.shouldFlush || committedSinceFlush >= 2000 || flushDue()) flush();
    };

    const add = (c: RowChange) => {
      w.add(tx!.handle, c);
      if (w.shouldFlush) flush();
    };

    // Savepoints: a `ROLLBACK TO x` logged in a committed group (the transaction had changed a
    // non-transactional table) cuts the rows logged since `SAVEPOINT x`; a full `ROLLBACK` drops the group.
    const savepointEvent = (c: TxControl) => {
      if (c.kind === 'rollback') {
        if (tx) {
          w.abort(tx.handle);
          tx = null;
        }
        return;
      }
      if (!tx) {
        if (c.kind === 'rollback-to') throw new DecodeError(`ROLLBACK TO savepoint outside a transaction`);
        return;
      }
      if (c.kind === 'savepoint') tx.savepoints.set(c.name, tx.handle.size);
      else if (c.kind === 'release') tx.savepoints.release(c.name);
      else {
        const size = tx.savepoints.rollbackTo(c.name);
        if (size === null) {
          throw new DecodeError(`ROLLBACK TO a savepoint with no SAVEPOINT event in transaction ${tx.handle.xid}: the rows it rolls back cannot be told apart`);
        }
        w.truncate(tx.handle, size);
      }
    };

    const onQuery = (h: EventHeader, threadId: number, db: string, sql: string) => {
      const head = sql.trimStart().slice(0, 24).toUpperCase();
      if (head.startsWith('BEGIN') || head.startsWith('XA START')) {
        if (!tx) begin(null, false, null);
        tx!.threadId = threadId;
        return;
      }
      if (head.startsWith('COMMIT') || head.startsWith('XA END')) {
        if (head.startsWith('XA END')) return;
        if (tx) commit(h);
        return;
      }
      let control: TxControl | null;
      try {
        control = txControl(sql);
      } catch (e) {
        throw new DecodeError((e as Error).message);
      }
      if (control) {
        savepointEvent(control);
        return;
      }
      if (/^(INSERT|UPDATE|DELETE|REPLACE|LOAD\s)/.test(head)) {
        throw new RowtrailError(
          'SERVER_SETTING',
          `a data change was logged as a statement at ${file}:${h.nextPos} (binlog_format is not ROW for that session): its rows cannot be captured; SET GLOBAL binlog_format=ROW and reconnect clients`,
        );
      }
      // DDL (or another statement logged as such): its own transaction.
      const standaloneTx: OpenTx = tx && (tx.standalone || tx.handle.size === 0) ? tx : begin(null, false, null);
      if (tx !== standaloneTx) tx = standaloneTx;
      standaloneTx.threadId = threadId;
      standaloneTx.statements.push(sql);
      const change = ddlChange(db, sql);
      if (this.watchDdl(change)) {
        add(change);
        if (change.op === 'ddl' && /^\s*DROP\s+(TEMPORARY\s+)?TABLE/i.test(sql) && change.table) {
          log.warn({ source: this.name }, `watched table ${change.schema}.${change.table} was dropped; remove it from sources[].tables of ${this.name} or recreate it`);
        }
      }
      commit(h);
    };

    return new Promise<void>((resolve, reject) => {
      let done = false;
      let lastPacket = Date.now();
      const timer = setInterval(() => {
        if (Date.now() - lastPacket > heartbeat * 3000) return fail(new RowtrailError('CONNECT', `no event or heartbeat from the server for ${heartbeat * 3} s`));
        if (!tx && flushDue()) {
          try {
            flush();
          } catch (e) {
            fail(e);
          }
        } else if (tx && Date.now() - lastFlush >= flushEvery * 5) {
          try {
            flush();
          } catch (e) {
            fail(e);
          }
        }
      }, Math.max(20, Math.min(flushEvery, 1000)));
      // A batch is written: it is the durable position now; read on if the write worker has room again.
      w.onWritten((durable, error) => {
        if (error) return fail(error);
        if (durable !== null) this.durable = durable;
        lastPacket = Date.now();
        if (paused && !w.full && !done) {
          paused = false;
          conn.resume();
        }
      });
      const finish = (err?: unknown) => {
        if (done) return;
        done = true;
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
        close(conn);
        if (tx) {
          w.abort(tx.handle);
          tx = null;
        }
        // Resolve (or reject) once what was handed over is durable, so a reconnect resumes from the stored position.
        w.drain().then(
          () => (err ? reject(err) : resolve()),
          (e) => reject(err ?? e),
        );
      };
      const fail = (e: unknown) => finish(e instanceof RowtrailError ? e : classify(e, this.info));
      const onAbort = () => finish();
      signal.addEventListener('abort', onAbort, { once: true });

      const onEvent = (buf: Buffer, start: number, end: number) => {
        if (done) return;
        lastPacket = Date.now();
        let h: EventHeader | undefined;
        try {
          h = BinlogDecoder.header(buf, start);
          const ev = decoder.decode(buf, start, end, h, tx?.gtid ?? `${file}:${filePos}`);
          switch (ev.kind) {
            case 'rotate':
              file = ev.file;
              filePos = ev.position;
              return;
            case 'mariadb-gtid': {
              const g = `${ev.domain}-${ev.server}-${ev.seq}`;
              if (ev.xa) throw new DecodeError('XA transactions are not captured yet');
              begin(g, ev.standalone, null);
              break;
            }
            case 'mysql-gtid':
              // Anonymous GTID (gtid_mode=OFF) still opens the group and carries the commit time.
              begin(ev.gtid, false, ev.commitMicros);
              break;
            case 'query':
              if (ev.errorCode !== 0 && !tx) break;
              onQuery(h, ev.threadId, ev.db, ev.sql);
              break;
            case 'xid':
              if (tx) commit(h);
              break;
            case 'annotate':
              if (tx) tx.statements.push(ev.sql);
              break;
            case 'rows':
              if (!tx) begin(null, false, null);
              for (const c of ev.changes) add(c);
              break;
            case 'xa-prepare':
              throw new DecodeError('XA PREPARE: XA transactions are not captured yet');
            default:
              break;
          }
          if (h.nextPos > 0) filePos = h.nextPos;
        } catch (e) {
          const where = `${file || '?'}:${h?.nextPos || filePos}`;
          if (e instanceof DecodeError) {
            const code = e.setting ? 'SERVER_SETTING' : 'DECODE';
            return fail(new RowtrailError(code, `cannot decode binlog event type ${h?.type} at ${where} (resume position ${this.durable}): ${e.message}`, e));
          }
          if (e instanceof RowtrailError) return fail(e);
          return fail(new RowtrailError('DECODE', `cannot decode binlog event type ${h?.type} at ${where} (resume position ${this.durable}): ${(e as Error)?.message ?? e}`, e));
        }
      };

      const kindNow = positionKind(position);
      const req = {
        serverId: this.serverId,
        hostname: `rowtrail-${this.name}`,
        mariadb: facts.mariadb,
        annotate: true,
        gtidSet: kindNow === 'mysql-gtid' ? mysqlGtidState(position).encode() : undefined,
        file: kindNow === 'file' ? file : undefined,
        pos: kindNow === 'file' ? filePos : undefined,
      };
      startDump(conn, facts, req, kindNow === 'mariadb-gtid' ? position : null, heartbeat)
        .then((cmd) => {
          cmd.on('event', onEvent);
          cmd.on('error', (e: any) => {
            // Logged in fine, yet denied on COM_REGISTER_SLAVE / COM_BINLOG_DUMP: a missing privilege.
            if (e?.errno === 1045 || e?.errno === 1227) {
              return fail(
                new RowtrailError(
                  'PERMISSION',
                  `${this.info.user} may not read the binlog (${e.sqlMessage ?? e.message}); GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${this.info.user}'@'%'`,
                  e,
                ),
              );
            }
            fail(e);
          });
          cmd.on('end', () => fail(new RowtrailError('CONNECT', 'the server ended the binlog stream')));
          conn.on('error', (e) => fail(e));
          conn.on('end', () => fail(new RowtrailError('CONNECT', 'the connection to the server closed')));
          this.opts.onStreaming?.(position);
        })
        .catch((e) => fail(e));
    });
  }

  private watchDdl(c: RowChange): boolean {
    if (!c.table) return true;
    return this.watched(c.schema, c.table);
  }
}

/** Which tables a source watches: the configured `db.table` list, else the url's database, else all user tables. */
export function watchFilter(tables: string[] | undefined, database: string | null): (db: string, table: string) => boolean {
  if (tables && tables.length) {
    const set = new Set(tables);
    return (db, t) => set.has(`${db}.${t}`);
  }
  if (database) return (db) => db === database;
  return (db) => !SYSTEM_DBS.has(db);
}

const IDENT = String.raw`(?:\x60((?:[^\x60]|\x60\x60)+)\x60|([A-Za-z0-9_$\u0080-\uffff]+))`;
const QUALIFIED = new RegExp(String.raw`^${IDENT}(?:\s*\.\s*${IDENT})?`);
const DDL_HEAD = /^\s*(?:\/\*.*?\*\/\s*)*(CREATE|ALTER|DROP|TRUNCATE|RENAME)\s+(?:(?:OR\s+REPLACE|TEMPORARY|ONLINE|IGNORE)\s+)*(TABLE|INDEX\s+\S+\s+ON)?\s*(?:IF\s+(?:NOT\s+)?EXISTS\s+)?/i;

/** A DDL statement → `op: ddl` (or `truncate`) change, with the table it names where it names one. */
export function ddlChange(db: string, sql: string): RowChange {
  let schema = db;
  let table = '';
  const m = DDL_HEAD.exec(sql);
  let verb = '';
  if (m && (m[2] || m[1].toUpperCase() === 'TRUNCATE')) {
    verb = m[1].toUpperCase();
    const rest = sql.slice(m[0].length).replace(/^TABLE\s+/i, '');
    const q = QUALIFIED.exec(rest);
    if (q) {
      const first = (q[1]?.replace(/\x60\x60/g, '\x60') ?? q[2]) as string;
      const second = q[3] !== undefined || q[4] !== undefined ? ((q[3]?.replace(/\x60\x60/g, '\x60') ?? q[4]) as string) : undefined;
      if (second !== undefined) {
        schema = first;
        table = second;
      } else table = first;
    }
  }
  const c: RowChange = { schema, table, op: verb === 'TRUNCATE' ? 'truncate' : 'ddl', key: null, before: null, after: null, changed: [], ddl: sql };
  if (c.op === 'truncate') c.truncate = { cascade: false, restartIdentity: true };
  return c;
}

function secondsIso(s: number): string {
  return new Date(s * 1000).toISOString().replace('.000Z', 'Z');
}

function microsIso(us: bigint): string {
  const ms = Number(us / 1000n);
  const frac = String(us % 1000000n).padStart(6, '0');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

