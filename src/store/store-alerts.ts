/**
 * The store's detection side: committed transactions in commit order for the detectors, alerts, and the
 * detectors' persisted state. Pure SQL on a connection that store.ts owns.
 */
import type Database from 'better-sqlite3';
import type { Alert, ChangeEvent } from '../model/index.js';
import { eventColumns, storedActor, toEvent, type StoredRow } from './store-queries.js';
import { enqueueNotifications, type AlertRoute } from './store-outbox.js';

type Db = Database.Database;

/** Changes read at once by queryTxEvents. */
const EVENT_PAGE = 2000;

export interface SeqEvent {
  /** The transaction's commit_seq (commit order in this store). */
  seq: number;
  event: ChangeEvent;
}

export interface AlertFilter {
  open?: boolean;
  since?: Date;
  id?: string;
  limit?: number;
}

/** Events of at most `maxTx` committed transactions after `afterSeq`, oldest first, streamed. */
export function* queryTxEvents(db: Db, afterSeq: number, maxTx: number): IterableIterator<SeqEvent> {
  const txs = db
    .prepare(`SELECT tx_pk, commit_seq FROM transactions WHERE state = 'committed' AND commit_seq > ? ORDER BY commit_seq LIMIT ?`)
    .all(afterSeq, maxTx) as { tx_pk: number; commit_seq: number }[];
  if (!txs.length) return;
  // One transaction at a time, walking the changes' primary key (tx_pk, idx): one join over the whole range
  // ordered by (commit_seq, idx) made SQLite sort every change of the range in a temporary B-tree first.
  // Pages are read whole, so no statement stays open while the caller is suspended (it may await between).
  const page = db.prepare(
    `SELECT ${eventColumns(db, false)}
       FROM changes c JOIN transactions t ON t.tx_pk = c.tx_pk LEFT JOIN shapes s ON s.shape_pk = c.shape_pk
      WHERE c.tx_pk = ? AND c.idx > ? ORDER BY c.idx LIMIT ${EVENT_PAGE}`,
  );
  for (const { tx_pk, commit_seq } of txs) {
    for (let after = -1; ; ) {
      const rows = page.all(tx_pk, after) as StoredRow[];
      for (const r of rows) yield { seq: commit_seq, event: toEvent(r) };
      if (rows.length < EVENT_PAGE) break;
      after = rows[rows.length - 1].idx;
    }
  }
}

/**
 * What the detectors read of a change (detectors/summary.ts): its table and operation, the changed columns
 * and, for inserts and updates, the images they look at. Everything else of a ChangeEvent stays unread.
 */
export type DetectionEvent = Pick<ChangeEvent, 'source' | 'schema' | 'table' | 'op' | 'before' | 'after' | 'changed' | 'tx' | 'actor' | 'ddl'>;

/**
 * queryTxEvents for the detectors: the same transactions and order, but each change read as a DetectionEvent.
 * No key, types or shape; the transaction's actor parsed once, not per change; a delete's image, an
 * insert's before and an update's before image (unless a value became NULL) not parsed. Detection reads every
 * stored change once more, on the capture's thread, so this is most of its cost (bench/RESULTS.md).
 */
type TxRow = { tx_pk: number; commit_seq: number; source: string; xid: string; position: string; commit_time: string; size: number; actor: string | null };
type Row = {
  idx: number;
  schema: string;
  tbl: string;
  op: ChangeEvent['op'];
  after: string | null;
  before: string | null;
  changed: string | null;
  extra: string | null;
};

export function* queryDetectionEvents(db: Db, afterSeq: number, maxTx: number): IterableIterator<{ seq: number; event: DetectionEvent }> {
  const txs = db
    .prepare(
      `SELECT tx_pk, commit_seq, source, xid, position, commit_time, size, actor
         FROM transactions WHERE state = 'committed' AND commit_seq > ? ORDER BY commit_seq LIMIT ?`,
    )
    .all(afterSeq, maxTx) as TxRow[];
  const page = db.prepare(
    `SELECT idx, schema, tbl, op, CASE WHEN op IN ('insert', 'update') THEN after END AS after,
            CASE WHEN op = 'update' THEN before END AS before, CASE WHEN op = 'update' THEN changed END AS changed,
            CASE WHEN op = 'ddl' THEN extra END AS extra
       FROM changes WHERE tx_pk = ? AND idx > ? ORDER BY idx LIMIT ${EVENT_PAGE}`,
  );
  for (const t of txs) {
    const tx = { id: t.xid, position: t.position, commitTime: t.commit_time, index: 0, size: t.size };
    const actor = storedActor(t.actor);
    for (let after = -1; ; ) {
      const rows = page.all(t.tx_pk, after) as Row[];
      for (const r of rows) {
        const img = r.after === null ? null : (JSON.parse(r.after) as Record<string, string | null>);
        // An update's before image matters only where a value became NULL (mass NULLing).
        const before = r.before !== null && r.after?.includes(':null') ? JSON.parse(r.before) : null;
        const changed = r.changed !== null ? (JSON.parse(r.changed) as string[]) : img ? Object.keys(img) : [];
        const event: DetectionEvent = { source: t.source, schema: r.schema, table: r.tbl, op: r.op, before, after: img, changed, tx, actor };
        if (r.extra) event.ddl = (JSON.parse(r.extra) as { ddl?: string }).ddl;
        yield { seq: t.commit_seq, event };
      }
      if (rows.length < EVENT_PAGE) break;
      after = rows[rows.length - 1].idx;
    }
  }
}

function hasTable(db: Db, name: string): boolean {
  return !!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name);
}

/**
 * Upserts alerts and the detectors' state in one SQLite transaction, with the notifications the alerts' changes
 * cause when `route` is given (the outbox: nothing is lost between an alert and its delivery).
 */
export function saveDetection(db: Db, alerts: Alert[], name: string, seq: number, state: unknown, route?: AlertRoute): void {
  const upsert = db.prepare(
    `INSERT INTO alerts (id, detector, severity, state, source, tbl, actor, opened_us, updated_us, body)
     VALUES (@id, @detector, @severity, @state, @source, @tbl, @actor, @opened, @updated, @body)
     ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, state = excluded.state, updated_us = excluded.updated_us, body = excluded.body`,
  );
  const st = db.prepare(
    `INSERT INTO detector_state (name, seq, state, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, state = excluded.state, updated_at = excluded.updated_at`,
  );
  // Serialized before taking the write lock (it can be tens of MB), so the capture's writer waits for nothing.
  const json = JSON.stringify(state);
  // IMMEDIATE, like the batch writer: both connections write this store (see sqlite-batch.ts).
  const now = Date.now();
  db.transaction(() => {
    for (const a of alerts) {
      const body = JSON.stringify(a);
      if (route) enqueueNotifications(db, a, body, route, now);
      upsert.run({
        id: a.id,
        detector: a.detector,
        severity: a.severity,
        state: a.state,
        source: a.source,
        tbl: a.table,
        actor: a.actor?.agent ?? a.actor?.user ?? null,
        opened: Date.parse(a.window.from) * 1000,
        updated: Date.parse(a.window.to) * 1000,
        body,
      });
    }
    st.run(name, seq, json, new Date().toISOString());
  }).immediate();
}

export function loadDetectorState(db: Db, name: string): { seq: number; state: unknown } | null {
  if (!hasTable(db, 'detector_state')) return null;
  const r = db.prepare(`SELECT seq, state FROM detector_state WHERE name = ?`).get(name) as { seq: number; state: string } | undefined;
  if (!r) return null;
  let state: unknown = null;
  try {
    state = JSON.parse(r.state);
  } catch {
    // a corrupt row: the detectors relearn (the engine reports which)
  }
  return { seq: r.seq, state };
}

/** Stored alerts, newest first. */
export function queryAlerts(db: Db, f: AlertFilter = {}): Alert[] {
  if (!hasTable(db, 'alerts')) return [];
  const where: string[] = ['1'];
  const args: unknown[] = [];
  if (f.id) {
    where.push('(id = ? OR id LIKE ?)');
    args.push(f.id, `${f.id}%`);
  }
  if (f.open) where.push(`state = 'open'`);
  if (f.since) {
    where.push('updated_us >= ?');
    args.push(f.since.getTime() * 1000);
  }
  const limit = f.limit ? ` LIMIT ${Math.max(1, Math.floor(f.limit))}` : '';
  const rows = db.prepare(`SELECT body FROM alerts WHERE ${where.join(' AND ')} ORDER BY opened_us DESC${limit}`).all(...args) as { body: string }[];
  return rows.map((r) => JSON.parse(r.body) as Alert);
}
