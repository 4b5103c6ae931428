/**
 * Binlog events → transactions: a GTID (or BEGIN) opens a group, table maps and row events add changes,
 * XID / COMMIT closes it; DDL query events are their own transaction, except inside a MariaDB group that has
 * a commit of its own (`CREATE TABLE … SELECT`: the DDL and its rows are one GTID group). Savepoints logged in
 * a committed group cut the rows rolled back to. No I/O: the stream (mysql-stream.ts) feeds decoded events
 * and gets each finished group back through `TxHost.finishTx`.
 */
import type { RowChange } from '../../model/index.js';
import { RowtrailError } from '../../errors.js';
import type { SourceWriter, TxHandle } from '../../store/index.js';
import { ddlChange } from '../ddl.js';
import { DecodeError, type BinlogEvent, type EventHeader } from './mysql-decoder.js';
import { mariadbState, mysqlGtidState, parseFilePos, positionKind, type GtidState } from './mysql-position.js';
import { Savepoints, txControl, type TxControl } from './mysql-savepoints.js';

export interface OpenTx {
  handle: TxHandle;
  /** GTID of the transaction (its commit position) when GTIDs are on. */
  gtid: string | null;
  statements: string[];
  threadId?: number;
  /** A DDL statement ends the group (MariaDB standalone groups, MySQL DDL, no GTIDs); else XID/COMMIT does. */
  closesAtDdl: boolean;
  commitMicros: bigint | null;
  /** Header time (seconds) of the group's first event. */
  startSeconds: number;
  /** Where the group starts in the binlog. */
  start: Coord;
  /** Savepoints logged in this group (rows after one that is rolled back to are cut). */
  savepoints: Savepoints;
}

/** What the stream does with a finished group. */
export interface TxHost {
  /**
   * A group is complete: `position` its commit position (GTID or file:pos), `resume` the stream position after
   * it, `end` where it ends in the binlog, `commitMs` its commit time.
   */
  finishTx(tx: OpenTx, position: string, resume: string, commitTime: string, end: Coord, commitMs: number): void;
  /** A change of a watched table (or a DDL statement of one). */
  add(tx: OpenTx, change: RowChange): void;
  /** Whether a DDL change concerns a watched table (or no table at all). */
  watchedDdl(change: RowChange): boolean;
  /** A watched table was dropped. */
  dropped(change: RowChange): void;
}

/** Binlog coordinates: file and the end position of the last event read. */
export interface Coord {
  file: string;
  pos: number;
}

export class BinlogTransactions {
  /** Read coordinates: the binlog file and the end of the last event read in it. */
  file: string;
  pos: number;
  private tx: OpenTx | null = null;
  private readonly gtid: GtidState | null;
  private readonly writer: SourceWriter;
  private readonly host: TxHost;

  /** `position`: the stored resume position the stream starts from. */
  constructor(writer: SourceWriter, host: TxHost, position: string) {
    this.writer = writer;
    this.host = host;
    const kind = positionKind(position);
    this.gtid = kind === 'mariadb-gtid' ? mariadbState(position) : kind === 'mysql-gtid' ? mysqlGtidState(position) : null;
    this.file = kind === 'file' ? parseFilePos(position).file : '';
    this.pos = kind === 'file' ? parseFilePos(position).pos : 4;
  }

  /** The group being read, if any. */
  get open(): OpenTx | null {
    return this.tx;
  }

  /** Where the decoder is: the open group's GTID, else the read coordinates (keys the schema history). */
  where(): string {
    return this.tx?.gtid ?? `${this.file}:${this.pos}`;
  }

  /** Drops the group being read (the connection ended before its commit; the server resends it). */
  abortOpen(): void {
    if (this.tx) this.writer.abort(this.tx.handle);
    this.tx = null;
  }

  handle(h: EventHeader, ev: BinlogEvent): void {
    switch (ev.kind) {
      case 'rotate':
        this.file = ev.file;
        this.pos = ev.position;
        return;
      case 'mariadb-gtid':
        if (ev.xa) throw new DecodeError('XA transactions are not captured yet');
        // FL_STANDALONE: no BEGIN/COMMIT around it (plain DDL). Otherwise the group ends at XID or COMMIT, even
        // when it starts with DDL (CREATE TABLE … SELECT logs the DDL and its rows in one group).
        this.begin(h, `${ev.domain}-${ev.server}-${ev.seq}`, ev.standalone, null);
        break;
      case 'mysql-gtid':
        // Anonymous GTID (gtid_mode=OFF) still opens the group and carries the commit time.
        this.begin(h, ev.gtid, true, ev.commitMicros);
        break;
      case 'query':
        if (ev.errorCode === 0 || this.tx) this.query(h, ev.threadId, ev.db, ev.sql);
        break;
      case 'xid':
        if (this.tx) this.commit(h);
        break;
      case 'annotate':
        if (this.tx) this.tx.statements.push(ev.sql);
        break;
      case 'rows':
        if (!this.tx) this.begin(h, null, true, null);
        for (const c of ev.changes) this.host.add(this.tx!, c);
        break;
      case 'xa-prepare':
        throw new DecodeError('XA PREPARE: XA transactions are not captured yet');
      default:
        break;
    }
    if (h.nextPos > 0) this.pos = h.nextPos;
  }

  private begin(h: EventHeader, gtid: string | null, closesAtDdl: boolean, commitMicros: bigint | null): OpenTx {
    if (this.tx) {
      // A new group while one is open. Harmless when the open one holds nothing (e.g. a GTID followed by
      // a BEGIN query); with rows it would mean a transaction without a commit event: stop, never guess.
      const size = this.tx.handle.size;
      if (size > 0) throw new DecodeError(`transaction ${this.tx.handle.xid} has ${size} changes but no commit event before the next one`);
      this.writer.abort(this.tx.handle);
    }
    const xid = gtid ?? `${this.file}:${this.pos}`;
    const tx: OpenTx = {
      handle: this.writer.begin(xid),
      gtid,
      statements: [],
      closesAtDdl,
      commitMicros,
      startSeconds: h.timestamp,
      start: { file: this.file, pos: this.pos },
      savepoints: new Savepoints(),
    };
    this.tx = tx;
    return tx;
  }

  private commit(h: EventHeader): void {
    const t = this.tx!;
    this.tx = null;
    const position = t.gtid ?? `${this.file}:${h.nextPos}`;
    const resume = this.gtid && t.gtid ? this.gtid.add(t.gtid) : `${this.file}:${h.nextPos}`;
    const commitTime = t.commitMicros !== null ? microsIso(t.commitMicros) : secondsIso(h.timestamp);
    const commitMs = t.commitMicros !== null ? Number(t.commitMicros / 1000n) : h.timestamp * 1000;
    this.host.finishTx(t, position, resume, commitTime, { file: this.file, pos: h.nextPos }, commitMs);
  }

  private query(h: EventHeader, threadId: number, db: string, sql: string): void {
    const head = sql.trimStart().slice(0, 24).toUpperCase();
    if (head.startsWith('BEGIN') || head.startsWith('XA START')) {
      const tx = this.tx ?? this.begin(h, null, true, null);
      tx.threadId = threadId;
      return;
    }
    if (head.startsWith('XA END')) return;
    if (head.startsWith('COMMIT')) {
      if (this.tx) this.commit(h);
      return;
    }
    let control: TxControl | null;
    try {
      control = txControl(sql);
    } catch (e) {
      throw new DecodeError((e as Error).message);
    }
    if (control) return this.savepoint(control);
    if (/^(INSERT|UPDATE|DELETE|REPLACE|LOAD\s)/.test(head)) {
      throw new RowtrailError(
        'SERVER_SETTING',
        `a data change was logged as a statement at ${this.file}:${h.nextPos} (binlog_format is not ROW for that session): ` +
          'its rows cannot be captured; SET GLOBAL binlog_format=ROW and reconnect clients',
      );
    }
    // DDL (or another statement logged as such): its own transaction, unless its group commits later.
    const open = this.tx;
    const tx = open && (!open.closesAtDdl || open.handle.size === 0) ? open : this.begin(h, null, true, null);
    tx.threadId = threadId;
    tx.statements.push(sql);
    const change = statementChange(db, sql);
    if (this.host.watchedDdl(change)) {
      this.host.add(tx, change);
      if (change.op === 'ddl' && change.table && /^\s*DROP\s+(TEMPORARY\s+)?TABLE/i.test(sql)) this.host.dropped(change);
    }
    // MySQL 8.0.21+ logs CREATE TABLE … SELECT as `CREATE TABLE … START TRANSACTION`, then its rows and an XID.
    if (/\bSTART\s+TRANSACTION\s*$/i.test(sql)) tx.closesAtDdl = false;
    if (tx.closesAtDdl) this.commit(h);
  }

  // Savepoints: a `ROLLBACK TO x` logged in a committed group (the transaction had changed a
  // non-transactional table) cuts the rows logged since `SAVEPOINT x`; a full `ROLLBACK` drops the group.
  private savepoint(c: TxControl): void {
    const tx = this.tx;
    if (c.kind === 'rollback') {
      this.abortOpen();
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
      this.writer.truncate(tx.handle, size);
    }
  }
}

const IDENT = String.raw`(?:\x60((?:[^\x60]|\x60\x60)+)\x60|([A-Za-z0-9_$\u0080-\uffff]+))`;
const QUALIFIED = new RegExp(String.raw`^${IDENT}(?:\s*\.\s*${IDENT})?`);
const DDL_HEAD = new RegExp(
  /^\s*(?:\/\*.*?\*\/\s*)*(CREATE|ALTER|DROP|TRUNCATE|RENAME)\s+/.source +
    /(?:(?:OR\s+REPLACE|TEMPORARY|ONLINE|IGNORE)\s+)*(TABLE|INDEX\s+\S+\s+ON)?\s*(?:IF\s+(?:NOT\s+)?EXISTS\s+)?/.source,
  'i',
);

/** A statement logged as a query event → `op: ddl` (or `truncate`) change, with the table it names where it names one. */
export function statementChange(db: string, sql: string): RowChange {
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
  if (verb !== 'TRUNCATE') return ddlChange(schema, table, sql);
  return { schema, table, op: 'truncate', key: null, before: null, after: null, changed: [], ddl: sql, truncate: { cascade: false, restartIdentity: true } };
}

function secondsIso(s: number): string {
  return new Date(s * 1000).toISOString().replace('.000Z', 'Z');
}

function microsIso(us: bigint): string {
  const ms = Number(us / 1000n);
  const frac = String(us % 1000000n).padStart(6, '0');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}
