/**
 * One store write: a source's batch of transactions (already serialized to strings and numbers on the
 * source's thread, so posting it to the write worker is a cheap clone) and `BatchWriter`, which applies it
 * to a SQLite connection in one transaction. The write worker (sqlite-worker.ts) runs a BatchWriter; a
 * Store runs one on its own connection for synchronous `SourceWriter.flush()` (tests, fixtures).
 */
import type Database from 'better-sqlite3';
import { RowtrailError } from '../errors.js';

/** Fields per change in `Batch.rows`: schema, table, op, key, before, after, changed, extra, shape key, sealed, sealed_at. */
export const ROW_FIELDS = 11;
/** Changes per multi-row INSERT: one statement call per 32 rows costs far less than 32 calls. */
const MULTI = 32;
const CHANGE_COLUMNS = '(tx_pk, idx, schema, tbl, op, key, before, after, changed, extra, shape_pk, sealed, sealed_at)';
const CHANGE_VALUES = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const CHANGE_ARGS = 13;

export interface BatchTx {
  /** Writer-assigned id (unique per Store), mapped to the transaction's row id by the BatchWriter. */
  id: number;
  xid: string;
  aborted: boolean;
  /** Written changes from this index on are deleted first (a rolled-back subtransaction). */
  truncateFrom: number | null;
  /** Index of this batch's first change in the transaction, and how many changes it carries. */
  first: number;
  count: number;
  /** position, commitTime, commit µs, size, actor JSON, actor user, agent, kind, agent run. */
  commit: [string, string, number, number, string, string | null, string | null, string, string | null] | null;
}

export interface Batch {
  source: string;
  system: string;
  database: string;
  /** The committed ones in the order the source committed them: commit_seq is handed out in this order. */
  txs: BatchTx[];
  /** ROW_FIELDS values per change, in order of `txs` (sealed: a slice blob or null; sealed_at: its holder's idx or null). */
  rows: (string | number | Uint8Array | null)[];
  /** Whether the changes were masked (the masking pipeline ran on them); false: in the clear. */
  masked: boolean;
  /** New sticky masking classifications: place, Classification JSON (2 values each). */
  classes: string[];
  /** Shapes first used in this batch: key, schema, table, types JSON (4 values each). */
  shapes: (string | number)[];
  /** The source's new resume position, or null. */
  position: string | null;
}

export class BatchWriter {
  private readonly db: Database.Database;
  private readonly s;
  /** Writer tx id → transactions.tx_pk of its open row. */
  private readonly pks = new Map<number, number>();
  /** Shape key → shapes.shape_pk. */
  private readonly shapes = new Map<number, number>();
  /** Writer tx id → the tables its written changes touch; null once a rollback to a savepoint made it unsure. */
  private readonly tables = new Map<number, Set<string> | null>();

  constructor(db: Database.Database) {
    this.db = db;
    this.s = {
      insertTx: db.prepare(`INSERT INTO transactions (source, system, database, xid, state, masked) VALUES (?, ?, ?, ?, 'open', ?)`),
      commitTx: db.prepare(
        `UPDATE transactions SET state = 'committed', position = ?, commit_seq = ?, commit_time = ?, commit_us = ?,
           size = ?, actor = ?, actor_user = ?, actor_agent = ?, actor_kind = ?, agent_run = ?, tables = ? WHERE tx_pk = ?`,
      ),
      insertChange: db.prepare(`INSERT INTO changes ${CHANGE_COLUMNS} VALUES ${CHANGE_VALUES}`),
      insertChanges: db.prepare(`INSERT INTO changes ${CHANGE_COLUMNS} VALUES ${Array(MULTI).fill(CHANGE_VALUES).join(', ')}`),
      deleteTx: db.prepare(`DELETE FROM transactions WHERE tx_pk = ?`),
      deleteTxChanges: db.prepare(`DELETE FROM changes WHERE tx_pk = ?`),
      truncateChanges: db.prepare(`DELETE FROM changes WHERE tx_pk = ? AND idx >= ?`),
      txTables: db.prepare(`SELECT DISTINCT schema || '.' || tbl AS t FROM changes WHERE tx_pk = ?`).pluck(),
      isCommitted: db.prepare(`SELECT 1 FROM transactions WHERE source = ? AND position = ? AND state = 'committed'`),
      maxSeq: db.prepare(`SELECT coalesce(max(commit_seq), 0) AS s FROM transactions`),
      setPosition: db.prepare(
        `INSERT INTO positions (source, position, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (source) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
      ),
      findShape: db.prepare(`SELECT shape_pk FROM shapes WHERE source = ? AND schema = ? AND tbl = ? AND types = ?`),
      insertShape: db.prepare(`INSERT INTO shapes (source, schema, tbl, types) VALUES (?, ?, ?, ?)`),
      openTxs: db.prepare(`SELECT tx_pk FROM transactions WHERE source = ? AND state = 'open'`),
      saveClass: db.prepare(`INSERT INTO masking_columns (place, body) VALUES (?, ?) ON CONFLICT (place) DO UPDATE SET body = excluded.body`),
    };
  }

  /** Removes open transactions of a source (crash leftovers; the source replays them). */
  removeOpen(source: string): number {
    const rows = this.s.openTxs.all(source) as { tx_pk: number }[];
    this.db.transaction(() => {
      for (const r of rows) this.deleteTx(r.tx_pk);
    }).immediate();
    return rows.length;
  }

  /**
   * Retention: removes committed transactions (and their changes) that committed before `beforeUs` (µs
   * since the epoch), in batches so other writers are never blocked for long. Returns how many went.
   */
  prune(beforeUs: number, batch = 2000): number {
    const pick = this.db.prepare(`SELECT tx_pk FROM transactions WHERE state = 'committed' AND commit_us < ? LIMIT ?`);
    let removed = 0;
    for (;;) {
      const ids = (pick.all(beforeUs, batch) as { tx_pk: number }[]).map((r) => r.tx_pk);
      if (ids.length === 0) return removed;
      this.db.transaction(() => {
        for (const id of ids) this.deleteTx(id);
      }).immediate();
      removed += ids.length;
    }
  }

  /** Writes a batch and the position atomically; returns the position now durable (or null). */
  apply(b: Batch): string | null {
    try {
      // IMMEDIATE: take the write lock first. A deferred transaction that reads, then writes, fails at once with
      // SQLITE_BUSY (busy_timeout does not apply) when another connection of the store (the detectors' state,
      // retention) committed in between.
      this.db.transaction(() => this.run(b)).immediate();
    } catch (e: any) {
      // The SQLite transaction rolled back: forget ids it may have created.
      for (let i = 0; i < b.shapes.length; i += 4) this.shapes.delete(b.shapes[i] as number);
      throw new RowtrailError('STORE', `store write failed: ${e?.message ?? e}`, e);
    }
    return b.position;
  }

  private run(b: Batch): void {
    const s = this.s;
    for (let i = 0; i < b.shapes.length; i += 4) {
      const [key, schema, tbl, types] = b.shapes.slice(i, i + 4) as [number, string, string, string];
      const row = s.findShape.get(b.source, schema, tbl, types) as { shape_pk: number } | undefined;
      this.shapes.set(key, row ? row.shape_pk : Number(s.insertShape.run(b.source, schema, tbl, types).lastInsertRowid));
    }
    let seq = (s.maxSeq.get() as { s: number }).s;
    const rows = b.rows;
    let r = 0;
    for (const tx of b.txs) {
      let pk = this.pks.get(tx.id) ?? null;
      const replay = tx.commit !== null && s.isCommitted.get(b.source, tx.commit[0]) !== undefined;
      if (tx.aborted || replay) {
        // Rolled back, or a replay of a transaction we already have (the ack did not reach the server before a crash).
        if (pk !== null) this.deleteTx(pk);
        this.pks.delete(tx.id);
        this.tables.delete(tx.id);
        r += tx.count * ROW_FIELDS;
        continue;
      }
      if (pk === null) {
        pk = Number(s.insertTx.run(b.source, b.system, b.database, tx.xid, b.masked ? 1 : 0).lastInsertRowid);
        this.pks.set(tx.id, pk);
      } else if (tx.truncateFrom !== null) {
        s.truncateChanges.run(pk, tx.truncateFrom);
        this.tables.set(tx.id, null); // what the rolled-back part wrote is gone: read the rest back at commit
      }
      let tables = this.tables.get(tx.id);
      if (tables === undefined) this.tables.set(tx.id, (tables = new Set()));
      const args: unknown[] = [];
      let lastSchema: unknown = null;
      let lastTbl: unknown = null;
      for (let idx = tx.first, end = tx.first + tx.count; idx < end; idx++, r += ROW_FIELDS) {
        if (tables && (rows[r] !== lastSchema || rows[r + 1] !== lastTbl)) {
          [lastSchema, lastTbl] = [rows[r], rows[r + 1]];
          tables.add(`${lastSchema}.${lastTbl}`);
        }
        const shape = rows[r + 8] as number;
        args.push(pk, idx, rows[r], rows[r + 1], rows[r + 2], rows[r + 3], rows[r + 4], rows[r + 5], rows[r + 6], rows[r + 7]);
        args.push(shape < 0 ? null : this.shapes.get(shape), rows[r + 9], rows[r + 10]);
        if (args.length === MULTI * CHANGE_ARGS) {
          s.insertChanges.run(args);
          args.length = 0;
        }
      }
      for (let i = 0; i < args.length; i += CHANGE_ARGS) s.insertChange.run(args.slice(i, i + CHANGE_ARGS));
      if (tx.commit) {
        const [position, commitTime, commitUs, size, actor, user, agent, kind, agentRun] = tx.commit;
        const written = tables ?? new Set(s.txTables.all(pk) as string[]);
        s.commitTx.run(position, ++seq, commitTime, commitUs, size, actor, user, agent, kind, agentRun, tableList(written), pk);
        this.pks.delete(tx.id);
        this.tables.delete(tx.id);
      }
    }
    for (let i = 0; i < b.classes.length; i += 2) s.saveClass.run(b.classes[i], b.classes[i + 1]);
    if (b.position !== null) s.setPosition.run(b.source, b.position, new Date().toISOString());
  }

  private deleteTx(pk: number): void {
    this.s.deleteTxChanges.run(pk);
    this.s.deleteTx.run(pk);
  }
}

/** `transactions.tables`: the sorted names joined by char(31) (a name may hold a comma), null for none. */
function tableList(tables: Set<string>): string | null {
  return tables.size ? [...tables].sort().join('\x1f') : null;
}
