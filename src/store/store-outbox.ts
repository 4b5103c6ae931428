/**
 * The alert outbox (table `alert_outbox`): notifications are enqueued inside the SQLite transaction that saves
 * their alert (saveDetection), and the delivery worker (src/alerts) reads the head of each channel's queue and
 * records what the receiver said. Pure SQL on a connection that store.ts owns.
 */
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import type { Alert } from '../model/index.js';

type Db = Database.Database;

export type NotifyEvent = 'opened' | 'updated' | 'resolved';

/** Names the channels an alert goes to; handed to the store by the daemon (src/alerts routing). */
export type AlertRoute = (alert: Alert) => string[];

export interface OutboxRow {
  id: number;
  deliveryId: string;
  alertId: string;
  channel: string;
  event: NotifyEvent;
  /** The alert as it was when this notification was enqueued (the Alert contract). */
  alert: Alert;
  state: 'queued' | 'sent' | 'failed' | 'skipped';
  attempts: number;
  nextMs: number;
  createdMs: number;
  doneMs: number | null;
  status: number | null;
  error: string | null;
  ref: string | null;
}

interface RawRow {
  id: number;
  delivery_id: string;
  alert_id: string;
  channel: string;
  event: NotifyEvent;
  body: string;
  state: OutboxRow['state'];
  attempts: number;
  next_ms: number;
  created_ms: number;
  done_ms: number | null;
  status: number | null;
  error: string | null;
  ref: string | null;
}

function toRow(r: RawRow): OutboxRow {
  return {
    id: r.id,
    deliveryId: r.delivery_id,
    alertId: r.alert_id,
    channel: r.channel,
    event: r.event,
    alert: JSON.parse(r.body) as Alert,
    state: r.state,
    attempts: r.attempts,
    nextMs: r.next_ms,
    createdMs: r.created_ms,
    doneMs: r.done_ms,
    status: r.status,
    error: r.error,
    ref: r.ref,
  };
}

function hasOutbox(db: Db): boolean {
  return !!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alert_outbox'`).get();
}

/**
 * Enqueues the notifications that saving `alert` causes; call inside the transaction that upserts it, before
 * the upsert (it compares with the stored alert). Nothing is enqueued when the stored alert is identical (a
 * replay after a crash re-saves the same alert). Per channel: the first notification is `opened` (an alert
 * that escalates into a channel's severity opens there; one first seen already resolved is opened and resolved),
 * `resolved` only where the channel had the alert, and an update folds into a notification of the same alert
 * that is queued and not yet tried (a burst of updates becomes one message).
 */
export function enqueueNotifications(db: Db, alert: Alert, body: string, route: AlertRoute, nowMs: number): number {
  const prev = db.prepare(`SELECT state, body FROM alerts WHERE id = ?`).get(alert.id) as { state: string; body: string } | undefined;
  if (prev && prev.body === body) return 0;
  if (prev && prev.state === 'resolved' && alert.state === 'resolved') return 0;
  const event: NotifyEvent = !prev ? 'opened' : alert.state === 'resolved' ? 'resolved' : 'updated';
  const had = db.prepare(`SELECT 1 FROM alert_outbox WHERE alert_id = ? AND channel = ? LIMIT 1`);
  const fold = db.prepare(
    `UPDATE alert_outbox SET body = ? WHERE id = (SELECT max(id) FROM alert_outbox WHERE alert_id = ? AND channel = ?)
        AND state = 'queued' AND attempts = 0 AND event IN ('opened', 'updated')`,
  );
  const insert = db.prepare(
    `INSERT INTO alert_outbox (delivery_id, alert_id, channel, event, body, state, next_ms, created_ms) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)`,
  );
  let n = 0;
  for (const channel of route(alert)) {
    const seen = had.get(alert.id, channel) !== undefined;
    if (!seen) {
      if (event === 'resolved') continue;
      insert.run(randomUUID(), alert.id, channel, 'opened', body, nowMs, nowMs);
      n++;
      // raised and resolved between two saves: the channel hears both (a PagerDuty trigger must be resolved)
      if (alert.state === 'resolved') {
        insert.run(randomUUID(), alert.id, channel, 'resolved', body, nowMs, nowMs);
        n++;
      }
      continue;
    }
    if (event !== 'resolved' && fold.run(body, alert.id, channel).changes > 0) continue;
    insert.run(randomUUID(), alert.id, channel, event, body, nowMs, nowMs);
    n++;
  }
  return n;
}

/** The oldest queued notification of a channel (deliveries go in order per channel), or null. */
export function outboxHead(db: Db, channel: string): OutboxRow | null {
  const r = db.prepare(`SELECT * FROM alert_outbox WHERE channel = ? AND state = 'queued' ORDER BY id LIMIT 1`).get(channel) as RawRow | undefined;
  return r ? toRow(r) : null;
}

/** The first `limit` queued notifications of a channel, in order. */
export function outboxQueue(db: Db, channel: string, limit: number): OutboxRow[] {
  const rows = db.prepare(`SELECT * FROM alert_outbox WHERE channel = ? AND state = 'queued' ORDER BY id LIMIT ?`).all(channel, limit) as RawRow[];
  return rows.map(toRow);
}

/** Channels that have queued notifications. */
export function outboxChannels(db: Db): string[] {
  if (!hasOutbox(db)) return [];
  return (db.prepare(`SELECT DISTINCT channel FROM alert_outbox WHERE state = 'queued'`).all() as { channel: string }[]).map((r) => r.channel);
}

export type OutboxOutcome =
  | { state: 'sent' | 'skipped'; status: number | null; ref?: string | null }
  | { state: 'failed'; status: number | null; error: string }
  | { state: 'queued'; status: number | null; error: string; nextMs: number };

/**
 * Counts an attempt before its request goes out: a notification in flight is no longer folded into (an update
 * saved meanwhile gets a row of its own), and a crash mid-request still counts it.
 */
export function beginAttempt(db: Db, ids: number[]): void {
  const stmt = db.prepare(`UPDATE alert_outbox SET attempts = attempts + 1 WHERE id = ?`);
  db.transaction(() => {
    for (const id of ids) stmt.run(id);
  }).immediate();
}

/** Records an attempt's outcome (of one notification, or of several sent as one message). */
export function markOutbox(db: Db, ids: number[], o: OutboxOutcome, nowMs: number): void {
  const stmt = db.prepare(
    `UPDATE alert_outbox SET state = ?, status = ?, error = ?, next_ms = coalesce(?, next_ms), done_ms = ?, ref = coalesce(?, ref) WHERE id = ?`,
  );
  const error = o.state === 'failed' || o.state === 'queued' ? o.error : null;
  const next = o.state === 'queued' ? o.nextMs : null;
  const done = o.state === 'queued' ? null : nowMs;
  const ref = o.state === 'sent' ? (o.ref ?? null) : null;
  db.transaction(() => {
    for (const id of ids) stmt.run(o.state, o.status, error, next, done, ref, id);
  }).immediate();
}

/** Marks every queued notification of channels not in `keep` failed (their channel left the config). */
export function failOrphans(db: Db, keep: string[], nowMs: number): { channel: string; n: number }[] {
  const out: { channel: string; n: number }[] = [];
  for (const channel of outboxChannels(db)) {
    if (keep.includes(channel)) continue;
    const r = db
      .prepare(`UPDATE alert_outbox SET state = 'failed', error = 'the channel is no longer configured', done_ms = ? WHERE channel = ? AND state = 'queued'`)
      .run(nowMs, channel);
    out.push({ channel, n: r.changes });
  }
  return out;
}

/** What the receiver gave back for the first delivered notification of an alert on a channel (Slack ts). */
export function outboxRef(db: Db, alertId: string, channel: string): string | null {
  const r = db
    .prepare(`SELECT ref FROM alert_outbox WHERE alert_id = ? AND channel = ? AND ref IS NOT NULL ORDER BY id LIMIT 1`)
    .get(alertId, channel) as { ref: string } | undefined;
  return r?.ref ?? null;
}

export interface DeliveryState {
  channel: string;
  /** The latest notification's event and state on this channel. */
  event: NotifyEvent;
  state: OutboxRow['state'];
  attempts: number;
  status: number | null;
  error: string | null;
  at: string | null;
}

/** Per alert id, the state of its latest notification on each channel. */
export function deliveryStates(db: Db, alertIds: string[]): Map<string, DeliveryState[]> {
  const out = new Map<string, DeliveryState[]>();
  if (!alertIds.length || !hasOutbox(db)) return out;
  const stmt = db.prepare(
    `SELECT o.* FROM alert_outbox o
       JOIN (SELECT channel, max(id) AS id FROM alert_outbox WHERE alert_id = ? GROUP BY channel) l ON l.id = o.id
      ORDER BY o.channel`,
  );
  for (const id of alertIds) {
    const rows = (stmt.all(id) as RawRow[]).map((r) => ({
      channel: r.channel,
      event: r.event,
      state: r.state,
      attempts: r.attempts,
      status: r.status,
      error: r.error,
      at: r.done_ms ? new Date(r.done_ms).toISOString() : null,
    }));
    if (rows.length) out.set(id, rows);
  }
  return out;
}

export interface ChannelCounts {
  channel: string;
  queued: number;
  sent: number;
  failed: number;
  skipped: number;
  /** Attempts beyond the first, over every notification. */
  retried: number;
}

/** Counts per channel (for /metrics and `alerts --json`). */
export function outboxCounts(db: Db): ChannelCounts[] {
  if (!hasOutbox(db)) return [];
  return db
    .prepare(
      `SELECT channel, sum(state = 'queued') AS queued, sum(state = 'sent') AS sent, sum(state = 'failed') AS failed,
              sum(state = 'skipped') AS skipped, sum(max(attempts - 1, 0)) AS retried
         FROM alert_outbox GROUP BY channel ORDER BY channel`,
    )
    .all() as ChannelCounts[];
}
