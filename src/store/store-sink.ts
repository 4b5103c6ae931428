/**
 * The store's sink side: each sink's cursor (what it delivered, in commit order), the documents a receiver
 * rejected for good (dead letters, kept with the reason), and the alert states a sink delivered. Pure SQL on
 * a connection that store.ts owns; tables in sqlite-schema.ts ("Sinks").
 */
import type Database from 'better-sqlite3';
import type { Alert } from '../model/index.js';

type Db = Database.Database;

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
