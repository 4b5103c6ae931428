/**
 * Decoded pgoutput messages → whole transactions handed to the store's SourceWriter: BEGIN/COMMIT, streamed
 * in-progress transactions (protocol v2) with their rolled-back subtransactions, relations and their keys,
 * precise-mode messages. No I/O of its own: catalog reads go through the host's `block` (which holds the
 * following messages, in order, until the read is done).
 *
 * Keys "as of the change": under REPLICA IDENTITY FULL pgoutput marks every column as identity, so the
 * stream does not tell the primary key. In precise mode the DDL message that created or altered the table
 * carries its key (model/precise.ts); that is used first, because a catch-up may read changes of a table
 * that has since been dropped or re-keyed. Otherwise the live catalog is asked (read at connect, or by
 * relation oid when a new table appears); a table that no longer exists then has `key: null`.
 */
import type pg from 'pg';
import type { Actor, RowChange } from '../../model/index.js';
import { DDL_PREFIX, PRECISE_SCHEMA, SESSION_PREFIX, parseDdlMessage, type DdlMessage } from '../../model/precise.js';
import { RowtrailError } from '../../errors.js';
import type { Logger } from '../../log/index.js';
import type { IdentityResolver } from '../../identity/resolver.js';
import type { SourceWriter, TxHandle } from '../../store/index.js';
import type { InFlightTx, InFlightWatcher } from '../source.js';
import type { PgMessage } from './postgres-decoder.js';
import { buildRelation, deleteChange, insertChange, relationChange, truncateChange, updateChange, type Relation } from './postgres-changes.js';
import type { CustomType } from './postgres-types.js';
import { compareLsn } from './postgres-position.js';
import { preciseTriggerTables, primaryKeys } from './postgres-catalog.js';
import { ddlChange } from '../ddl.js';

/** What the transaction assembler needs from the stream that owns the connection. */
export interface TxHost {
  readonly name: string;
  readonly writer: SourceWriter;
  readonly identity: IdentityResolver;
  readonly log: Logger;
  /** Position durable in the store: transactions that end before it are replays. */
  durable(): string | null;
  /** Pauses message handling while `work` reads the catalog; `raw` (when given) is handled again after it. */
  block(raw: Buffer | null, work: (meta: pg.Client) => Promise<void>): void;
  /** Hands buffered transactions to the write worker (`force`: now, else at most every flush interval). */
  flush(force: boolean): void;
  /** A transaction was committed to the writer (`endLsn`: where the server resumes after it). */
  committed(size: number, endLsn: string, commitTime: string): void;
  /** Told about every row change of a transaction before its end (guards); absent: nothing watches. */
  readonly inflight?: InFlightWatcher;
}

/** A shape a transaction's changes used from change index `at` on; `prev`: the one before (a subtransaction may roll back). */
interface Shape {
  rel: Relation;
  at: number;
  prev?: Shape;
}

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
  /** What the in-flight watcher sees of it (made at its first row change). */
  fly?: InFlightTx;
  /** Relation shapes its changes used, not yet committed: relid → the newest (and the one it replaced). */
  shapes?: Map<number, Shape>;
}

export class PgTransactions {
  /** Relid → the newest RELATION message: the shape the changes that follow it are decoded with. */
  private readonly relations = new Map<number, Relation>();
  /**
   * Relid → the shape used by the newest committed transaction: what "schema change seen in the stream" is
   * measured against. Not the newest RELATION message: pgoutput sends one when its own cache says so, and a
   * streamed transaction that is rolled back later may carry it (live capture sees such a stream, a catch-up
   * often does not), so a RELATION message tells nothing about what committed changes used.
   */
  private readonly committedShapes = new Map<number, Relation>();
  private readonly customTypes = new Map<number, CustomType>();
  private primaryKeys = new Map<number, string[]>();
  /** `schema.table` → primary key as of the newest precise-mode DDL message about it (stream order). */
  private readonly declaredKeys = new Map<string, string[]>();
  /**
   * Tables with the precise-identity trigger, from the catalog at connect and after each DDL message. The
   * catalog is read now, not as of the WAL position: while the stream catches up across a setup or an
   * uninstall, a transaction may be counted as missing its message when it never had a trigger.
   */
  private preciseRelids = new Set<number>();
  private current: OpenTx | null = null;
  private readonly streams = new Map<number, OpenTx>();
  /**
   * The streamed block currently open (between STREAM START and STREAM STOP). Changes inside it carry the
   * xid of the (sub)transaction that made them, so subtransaction xids map to this block's transaction.
   */
  private openStream: OpenTx | null = null;

  constructor(private readonly host: TxHost) {}

  /** Reads the catalog facts a session starts from (primary keys, precise-trigger tables). */
  async prepare(meta: pg.Client): Promise<void> {
    this.primaryKeys = await primaryKeys(meta);
    this.preciseRelids = await preciseTriggerTables(meta);
  }

  /** Whether a transaction is open (received, not yet committed). */
  get inFlight(): boolean {
    return this.current !== null || this.streams.size > 0;
  }

  /** Drops what was received but not committed: the server resends it from the durable position. */
  reset(): void {
    if (this.current) this.host.writer.abort(this.current.handle);
    for (const s of this.streams.values()) this.host.writer.abort(s.handle);
    for (const t of [this.current, ...this.streams.values()]) if (t?.fly) this.host.inflight?.end(t.fly, 'dropped');
    this.current = null;
    this.streams.clear();
    this.openStream = null;
  }

  /** Whether a transaction ending at `lsn` is already in the store (a replay after a lost acknowledgement). */
  private stored(lsn: string): boolean {
    const durable = this.host.durable();
    return (durable !== null && compareLsn(lsn, durable) < 0) || this.host.writer.isCommitted(lsn);
  }

  handle(msg: PgMessage, raw: Buffer): void {
    const writer = this.host.writer;
    switch (msg.tag) {
      case 'begin':
        this.current = { handle: writer.begin(String(msg.xid)), xid: msg.xid, skip: this.stored(msg.finalLsn), messages: [] };
        return;
      case 'commit': {
        const tx = this.current;
        this.current = null;
        if (!tx) throw new RowtrailError('PROTOCOL', `pgoutput: COMMIT ${msg.commitLsn} without BEGIN`);
        return this.finish(tx, msg.commitLsn, msg.endLsn, msg.commitTime);
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
        const rel = this.relation(msg.relid);
        // rowtrail's own bookkeeping (schema rowtrail, precise identity) is published by FOR ALL TABLES: not a user change.
        if (rel.schema === PRECISE_SCHEMA) return;
        this.useShape(tx, rel, msg.xid);
        if (tx.skip) return;
        const change =
          msg.tag === 'insert'
            ? insertChange(rel, msg.new)
            : msg.tag === 'update'
              ? updateChange(rel, msg.oldKind, msg.old, msg.new)
              : deleteChange(rel, msg.oldKind, msg.old);
        if (this.preciseRelids.has(msg.relid)) tx.precise = true;
        this.add(tx, change, msg.xid);
        // After the change is handed over: a guard's action starts from here and never holds capture.
        if (this.host.inflight) this.watch(tx, msg.tag, rel);
        return;
      }
      case 'truncate': {
        const tx = this.txFor(msg.xid);
        for (const relid of msg.relids) {
          const rel = this.relation(relid);
          this.useShape(tx, rel, msg.xid);
          if (tx.skip) continue;
          if (this.preciseRelids.has(relid)) tx.precise = true;
          this.add(tx, truncateChange(rel, msg.cascade, msg.restartIdentity), msg.xid);
        }
        return;
      }
      case 'message':
        return this.onMessage(msg);
      case 'stream_start': {
        let tx = this.streams.get(msg.xid);
        if (!tx) {
          tx = { handle: writer.begin(String(msg.xid)), xid: msg.xid, skip: false, messages: [], subStarts: new Map() };
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
        tx.skip = this.stored(msg.commitLsn);
        return this.finish(tx, msg.commitLsn, msg.endLsn, msg.commitTime);
      }
      case 'stream_abort':
        return this.onStreamAbort(msg.xid, msg.subxid);
    }
  }

  private onMessage(msg: Extract<PgMessage, { tag: 'message' }>): void {
    if (!msg.transactional) return;
    const tx = this.txFor(msg.xid);
    if (msg.prefix === DDL_PREFIX) {
      const d = parseDdlMessage(msg.content.toString('utf8'));
      // Keys are stream state: recorded from replays too, since the relations that follow depend on them.
      if (d?.schema && d.table) {
        const name = `${d.schema}.${d.table}`;
        if (/^DROP /.test(d.tag)) this.declaredKeys.delete(name);
        else if (d.key !== undefined) this.declaredKeys.set(name, d.key);
      }
      if (tx.skip) return;
      if (d) this.add(tx, ddlMessageChange(d), msg.xid);
      tx.ddl = true;
    } else if (msg.prefix === SESSION_PREFIX && !tx.skip) tx.messages.push(msg.content.toString('utf8'));
  }

  /** Tells the in-flight watcher about one row change (the transaction's view is made at its first). */
  private watch(tx: OpenTx, op: 'insert' | 'update' | 'delete', rel: Relation): void {
    tx.fly ??= { source: this.host.name, xid: String(tx.xid), streamed: tx.subStarts !== undefined, messages: tx.messages, preciseExpected: false };
    tx.fly.preciseExpected = tx.precise ?? false;
    this.host.inflight!.change(tx.fly, op, rel.schema, rel.table);
  }

  private onStreamAbort(xid: number, subxid: number): void {
    const tx = this.streams.get(xid);
    if (!tx) return;
    if (subxid === xid) {
      this.streams.delete(xid);
      this.host.writer.abort(tx.handle);
      if (tx.fly) this.host.inflight?.end(tx.fly, 'aborted');
      return;
    }
    // A rolled-back subtransaction: drop its changes (and its children's, which follow it).
    const from = tx.subStarts?.get(subxid);
    if (from === undefined) return;
    this.host.writer.truncate(tx.handle, from);
    for (const [sub, idx] of tx.subStarts!) if (idx >= from) tx.subStarts!.delete(sub);
    for (const [relid, s] of tx.shapes ?? []) {
      let kept: Shape | undefined = s;
      while (kept && kept.at >= from) kept = kept.prev;
      if (kept) tx.shapes!.set(relid, kept);
      else tx.shapes!.delete(relid);
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

  private add(tx: OpenTx, change: RowChange, xid: number | undefined): void {
    if (xid !== undefined && xid !== tx.xid && tx.subStarts && !tx.subStarts.has(xid)) tx.subStarts.set(xid, tx.handle.size);
    this.host.writer.add(tx.handle, change);
    if (this.host.writer.shouldFlush) this.host.flush(true);
  }

  private finish(tx: OpenTx, commitLsn: string, endLsn: string, commitTime: string): void {
    const writer = this.host.writer;
    // DDL may have added or removed precise triggers (a new table, DISABLE TRIGGER, uninstall): one catalog
    // read per transaction, before the messages that follow it are handled.
    if (tx.ddl && !tx.skip) {
      this.host.block(null, async (meta) => {
        this.preciseRelids = await preciseTriggerTables(meta);
      });
    }
    if (tx.fly) this.host.inflight?.end(tx.fly, 'committed');
    // Committed (replays too: the store has them): the shapes its changes used are what later changes are compared with.
    for (const [relid, s] of tx.shapes ?? []) this.committedShapes.set(relid, s.rel);
    // A transaction without row changes (only a session message, e.g. an UPDATE that matched nothing) is not stored.
    if (tx.skip || tx.handle.size === 0) {
      writer.abort(tx.handle);
      writer.advance(endLsn);
      return;
    }
    const actor: Actor = this.host.identity.resolve({
      source: this.host.name,
      xid: String(tx.xid),
      commitTime,
      messages: tx.messages,
      statements: [],
      preciseExpected: tx.precise ?? false,
    });
    const size = tx.handle.size;
    writer.commit(tx.handle, { position: commitLsn, commitTime, actor, resumePosition: endLsn });
    this.host.committed(size, endLsn, commitTime);
    this.host.flush(false);
  }

  private onRelation(msg: Extract<PgMessage, { tag: 'relation' }>, raw: Buffer): void {
    const known = this.declaredKeys.get(`${msg.schema}.${msg.table}`) ?? this.primaryKeys.get(msg.relid);
    if (known === undefined && msg.replicaIdentity === 'f') {
      // A table created after start under REPLICA IDENTITY FULL: ask the catalog for its primary key
      // (pgoutput marks every column as identity then). Later messages wait, in order.
      this.host.block(raw, async (meta) => {
        const found = (await primaryKeys(meta, msg.relid)).get(msg.relid);
        if (found === undefined && !(await relationExists(meta, msg.relid))) {
          this.host.log.warn(
            { source: this.host.name, table: `${msg.schema}.${msg.table}` },
            'primary key unknown: the table no longer exists and no precise-mode DDL message recorded it; its changes have key null',
          );
        }
        this.primaryKeys.set(msg.relid, found ?? []);
      });
      return;
    }
    // The schema change it may show is reported with the first change that uses it (useShape).
    this.relations.set(msg.relid, buildRelation(msg, this.customTypes, known ?? null));
  }

  /**
   * Before a change decoded with `rel`: when the shape differs from the one the transaction (or, before it,
   * the newest committed transaction) used, a `ddl` event "schema change seen in the stream" goes first.
   * Measured per transaction and kept only when it commits, so the events do not depend on where pgoutput put
   * its RELATION messages (a rolled-back stream may carry them): live capture and catch-up store the same.
   * The first shape ever seen of a table is its baseline (no event).
   */
  private useShape(tx: OpenTx, rel: Relation, xid: number | undefined): void {
    const mine = tx.shapes?.get(rel.relid);
    const base = mine?.rel ?? this.committedShapes.get(rel.relid);
    if (base === rel) return;
    (tx.shapes ??= new Map()).set(rel.relid, { rel, at: tx.handle.size, prev: mine });
    const ddl = base && !tx.skip ? relationChange(base, rel) : null;
    if (ddl) this.add(tx, ddl, xid);
  }

  private relation(relid: number): Relation {
    const r = this.relations.get(relid);
    if (!r) throw new RowtrailError('PROTOCOL', `pgoutput: change for relation ${relid} before its RELATION message`);
    return r;
  }
}

async function relationExists(meta: pg.Client, relid: number): Promise<boolean> {
  return (await meta.query(`SELECT 1 FROM pg_catalog.pg_class WHERE oid = $1::oid`, [relid])).rows.length > 0;
}

/** A precise-mode DDL message (model/precise.ts) → an `op: ddl` change (the shared shape, sources/ddl.ts). */
export function ddlMessageChange(d: DdlMessage): RowChange {
  return ddlChange(d.schema ?? '', d.table ?? d.object ?? '', d.statement || d.tag);
}
