/**
 * The store's sink side: each sink's cursor (what it delivered, in commit order), the documents a receiver
 * rejected for good (dead letters, kept with the reason), and the alert states a sink delivered. Pure SQL on
 * a connection that store.ts owns; tables in sqlite-schema.ts ("Sinks").
 */
import type Database from 'better-sqlite3';
import type { Alert } from '../model/index.js';
import type { StoredRow } from './store-queries.js';

type Db = Database.Database;

/** A stored change as a sink reads it: the columns `toEvent` reads (no table shape) and its commit_seq. */
export type SinkRow = Omit<StoredRow, 'types' | 'sealed' | 'sealed_at' | 'masked'> & { commit_seq: number };

/**
 * The first `limit` changes after a sink's cursor, in commit order, as stored rows (what `eventsAfter` reads,
 * without making events of them: a sink writes its documents from the rows). Read as arrays (better-sqlite3's
 * raw mode, half the cost of its row objects), the changes first and then their transactions' columns once per
 * transaction, in one read transaction (one snapshot).
 */
export function querySinkRows(db: Db, after: SinkCursor, limit: number): SinkRow[] {
  const changes = db.prepare(
    `SELECT c.tx_pk, c.idx, c.schema, c.tbl, c.op, c.key, c.before, c.after, c.changed, c.extra, t.commit_seq
       FROM transactions t JOIN changes c ON c.tx_pk = t.tx_pk
      WHERE t.state = 'committed' AND t.commit_seq >= ? AND (t.commit_seq > ? OR c.idx > ?)
      ORDER BY t.commit_seq, c.idx LIMIT ?`,
  );
  const txs = db.prepare(
    `SELECT tx_pk, source, system, database, xid, position, commit_time, size, actor
       FROM transactions WHERE state = 'committed' AND commit_seq >= ? AND commit_seq <= ?`,
  );
  return db.transaction(() => {
    const rows = changes.raw(true).all(after.idx === -1 ? after.seq + 1 : after.seq, after.seq, after.idx, limit) as any[][];
    if (!rows.length) return [];
    const tx = new Map<number, any[]>();
    for (const t of txs.raw(true).iterate(rows[0][10], rows[rows.length - 1][10]) as IterableIterator<any[]>) tx.set(t[0], t);
    const out: SinkRow[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const a = rows[i];
      const t = tx.get(a[0])!;
      out[i] = {
        tx_pk: a[0],
        idx: a[1],
        schema: a[2],
        tbl: a[3],
        op: a[4],
        key: a[5],
        before: a[6],
        after: a[7],
        changed: a[8],
        extra: a[9],
        commit_seq: a[10],
        source: t[1],
        system: t[2],
        database: t[3],
        xid: t[4],
        position: t[5],
        commit_time: t[6],
        size: t[7],
        actor: t[8],
      };
    }
    return out;
  })();
}

/** The last change a sink delivered: change `idx` of transaction `seq`; idx -1 means all of `seq`. */
export interface SinkCursor {
  seq: number;
  idx: number;
}

export interface DeadLetter {
  docId: string;
  target: string;
  status: number;
  reason: string;
  /** The document as sent, JSON. */
  doc: string;
}

export function loadSinkCursor(db: Db, sink: string): SinkCursor {
  const r = db.prepare(`SELECT seq, idx FROM sink_cursors WHERE sink = ?`).get(sink) as SinkCursor | undefined;
  return r ?? { seq: 0, idx: -1 };
}

/**
 * Advances a sink past what it delivered, with the dead letters and alert states of the same bulk request, in
 * one SQLite transaction: a crash before it replays the bulk (deterministic ids make that harmless), never skips.
 */
export function saveSinkProgress(
  db: Db,
  sink: string,
  p: { cursor?: SinkCursor; dead?: DeadLetter[]; alertStates?: { id: string; state: string }[] },
): void {
  const cur = db.prepare(
    `INSERT INTO sink_cursors (sink, seq, idx, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq, idx = excluded.idx, updated_at = excluded.updated_at`,
  );
  const dl = db.prepare(
    `INSERT INTO sink_dead_letters (sink, doc_id, target, status, reason, doc, at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (sink, doc_id) DO UPDATE SET target = excluded.target, status = excluded.status, reason = excluded.reason,
       doc = excluded.doc, at = excluded.at`,
  );
  const st = db.prepare(`INSERT OR IGNORE INTO sink_alert_states (sink, alert_id, state) VALUES (?, ?, ?)`);
  const now = new Date().toISOString();
  // IMMEDIATE, like every writer of this store (see sqlite-batch.ts).
  db.transaction(() => {
    for (const d of p.dead ?? []) dl.run(sink, d.docId, d.target, d.status, d.reason, d.doc, now);
    for (const a of p.alertStates ?? []) st.run(sink, a.id, a.state);
    if (p.cursor) cur.run(sink, p.cursor.seq, p.cursor.idx, now);
  }).immediate();
}

/** Dead letters of a sink, oldest first. */
export function querySinkDeadLetters(db: Db, sink: string): (DeadLetter & { at: string })[] {
  return db
    .prepare(`SELECT doc_id AS docId, target, status, reason, doc, at FROM sink_dead_letters WHERE sink = ? ORDER BY at, doc_id`)
    .all(sink) as (DeadLetter & { at: string })[];
}

/**
 * Alerts whose current state the sink has not delivered yet (at most `limit`), oldest first, each with the
 * states it has not delivered: a resolved alert never delivered as open yields both.
 */
export function queryUndeliveredAlerts(db: Db, sink: string, limit: number): { alert: Alert; states: ('open' | 'resolved')[] }[] {
  const rows = db
    .prepare(
      `SELECT a.body, a.state,
              EXISTS (SELECT 1 FROM sink_alert_states s WHERE s.sink = ? AND s.alert_id = a.id AND s.state = 'open') AS sent_open
         FROM alerts a
        WHERE NOT EXISTS (SELECT 1 FROM sink_alert_states s WHERE s.sink = ? AND s.alert_id = a.id AND s.state = a.state)
        ORDER BY a.updated_us, a.id LIMIT ?`,
    )
    .all(sink, sink, limit) as { body: string; state: 'open' | 'resolved'; sent_open: number }[];
  return rows.map((r) => ({
    alert: JSON.parse(r.body) as Alert,
    states: r.state === 'resolved' && !r.sent_open ? ['open', 'resolved'] : [r.state],
  }));
}

/** The commit time (ISO) of the oldest committed transaction after the cursor, or null when none is waiting. */
export function queryOldestUnsent(db: Db, c: SinkCursor): string | null {
  const after = c.idx === -1 ? c.seq : c.seq - 1;
  const r = db
    .prepare(`SELECT commit_time AS t FROM transactions WHERE state = 'committed' AND commit_seq > ? ORDER BY commit_seq LIMIT 1`)
    .get(after) as { t: string } | undefined;
  return r?.t ?? null;
}
