/**
 * The delivery worker (I/O edge): sends the store's alert outbox. One loop per channel, on the main thread's
 * event loop with async fetch (capture decodes and writes elsewhere and never waits for it):
 * - in order: a channel sends its oldest queued notification, and the next only once that one is settled
 *   (sent, skipped or failed), so an alert's resolve never overtakes its trigger;
 * - at least once: a notification is marked sent only after the receiver's 2xx; a crash between the 2xx and
 *   the mark sends it again after the restart with the same delivery id / dedup_key (receivers dedupe);
 * - retries with exponential backoff and full jitter (1 s doubling to 5 min), `Retry-After` honoured on 429,
 *   permanent 4xx marked failed with one log line; after `alerts.giveUpAfter` a notification is marked failed;
 * - rate limits per channel: Slack 1 message a second, PagerDuty 120 a minute;
 * - a failing channel logs once when it starts failing and once when it recovers, not on every retry.
 */
import type { Logger } from '../log/index.js';
import type { OutboxRow, Store } from '../store/index.js';
import type { AlertsSettings, Channel, ChannelKind } from './alerts-config.js';
import { buildGroupRequest, buildRequest, sendRequest, type Outcome } from './channel-send.js';

/**
 * A Slack channel whose queue starts with at least this many new alerts gets them as one message (up to
 * GROUP_MAX, the first ten in full, the rest counted) instead of one a second for minutes.
 */
export const GROUP_AT = 4;
export const GROUP_MAX = 50;

/** Least time between two sends on one channel (ms). */
export const MIN_INTERVAL_MS: Record<ChannelKind, number> = { slack: 1000, pagerduty: 500, webhook: 0 };

export interface WorkerOptions {
  /** How often an idle channel looks at the outbox (ms); wake() makes it look at once. Default 1000. */
  pollMs?: number;
  /** First retry delay (ms), doubling per attempt. Default 1000. */
  backoffBaseMs?: number;
  /** Longest retry delay (ms). Default 300000. */
  backoffMaxMs?: number;
  /** Override the per-kind rate limits (tests). */
  minIntervalMs?: Partial<Record<ChannelKind, number>>;
  random?: () => number;
  now?: () => number;
}

export interface ChannelStats {
  channel: string;
  kind: ChannelKind;
  sent: number;
  failed: number;
  retried: number;
  skipped: number;
  /** The last error while the channel is failing, else null. */
  failing: string | null;
}

/** Backoff before retry `attempt` (1-based): full jitter over base·2^(attempt-1), capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 20));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

export class DeliveryWorker {
  private readonly wakers = new Set<() => void>();
  private readonly stats_: Map<string, ChannelStats>;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly settings: AlertsSettings,
    private readonly log: Logger,
    private readonly opts: WorkerOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.stats_ = new Map(
      settings.channels.map((c) => [c.name, { channel: c.name, kind: c.kind, sent: 0, failed: 0, retried: 0, skipped: 0, failing: null }]),
    );
  }

  /** Makes idle channels look at the outbox now (after alerts were saved). */
  wake(): void {
    for (const w of [...this.wakers]) w();
  }

  stats(): ChannelStats[] {
    return [...this.stats_.values()].map((s) => ({ ...s }));
  }

  /** Runs until the signal aborts; never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      for (const o of this.store.outbox.failOrphans(this.settings.channels.map((c) => c.name))) {
        this.log.warn({ channel: o.channel, notifications: o.n }, 'alerts: queued notifications of a channel no longer configured were marked failed');
      }
    } catch (e) {
      this.log.warn({ err: (e as Error)?.message }, 'alerts: could not read the outbox');
    }
    await Promise.all(this.settings.channels.map((c) => this.channelLoop(c, signal)));
  }

  private async channelLoop(ch: Channel, signal: AbortSignal): Promise<void> {
    const st = this.stats_.get(ch.name)!;
    const interval = this.opts.minIntervalMs?.[ch.kind] ?? MIN_INTERVAL_MS[ch.kind];
    let lastSend = 0;
    while (!signal.aborted) {
      let row: OutboxRow | null;
      try {
        row = this.store.outbox.head(ch.name);
      } catch (e) {
        this.log.warn({ channel: ch.name, err: (e as Error)?.message }, 'alerts: could not read the outbox; retrying');
        await this.idle(this.opts.pollMs ?? 1000, signal);
        continue;
      }
      const now = this.now();
      if (!row) {
        await this.idle(this.opts.pollMs ?? 1000, signal);
        continue;
      }
      if (row.nextMs > now) {
        await this.idle(row.nextMs - now, signal, false);
        continue;
      }
      if (now - row.createdMs > this.settings.giveUpMs) {
        const error = `${ch.name}: gave up after ${row.attempts} attempts (${row.error ?? 'no answer'})`;
        this.settle(ch, st, row, { kind: 'failed', status: row.status, error });
        continue;
      }
      const wait = lastSend + interval - now;
      if (wait > 0) {
        await this.idle(wait, signal, false);
        if (signal.aborted) break;
      }
      // a storm of new alerts at the head of a Slack queue goes as one message
      const group = ch.kind === 'slack' && row.event === 'opened' ? this.storm(ch.name) : [row];
      const ids = group.map((g) => g.id);
      const ref = row.event === 'opened' ? null : this.store.outbox.ref(row.alertId, ch.name);
      const req = group.length > 1
        ? buildGroupRequest(ch, group.map((g) => g.alert))
        : buildRequest(ch, row.event, row.alert, row.deliveryId, ref, this.now());
      let out: Outcome;
      if ('skip' in req) out = { kind: 'skipped', reason: req.skip };
      else {
        lastSend = this.now();
        try {
          this.store.outbox.begin(ids);
        } catch (e) {
          this.log.warn({ channel: ch.name, err: (e as Error)?.message }, 'alerts: could not record a delivery; will retry');
          await this.idle(this.opts.pollMs ?? 1000, signal, false);
          continue;
        }
        out = await sendRequest(ch, req, this.settings.timeoutMs, signal, this.now);
        // stopped mid-request: the row stays queued as it was and is sent after the restart
        if (signal.aborted) break;
      }
      this.settle(ch, st, row, out, ids);
    }
  }

  /** The run of new-alert notifications at the head of a channel's queue when it is a storm, else the head alone. */
  private storm(channel: string): OutboxRow[] {
    const q = this.store.outbox.queue(channel, GROUP_MAX);
    let n = 0;
    while (n < q.length && q[n]!.event === 'opened') n++;
    return n >= GROUP_AT ? q.slice(0, n) : q.slice(0, 1);
  }

  /** Records an outcome in the outbox and the stats; logs failures without secrets. */
  private settle(ch: Channel, st: ChannelStats, row: OutboxRow, out: Outcome, ids = [row.id]): void {
    const now = this.now();
    // a grouped message gives no thread to its alerts: their updates and resolves are posted on their own
    if (out.kind === 'sent' && ids.length > 1) out = { ...out, ref: null };
    try {
      if (out.kind === 'sent') {
        this.store.outbox.mark(ids, { state: 'sent', status: out.status, ref: out.ref ?? null }, now);
        st.sent += ids.length;
        if (st.failing) this.log.info({ channel: ch.name }, 'alerts: channel delivers again');
        st.failing = null;
      } else if (out.kind === 'skipped') {
        this.store.outbox.mark(ids, { state: 'skipped', status: null }, now);
        st.skipped++;
      } else if (out.kind === 'failed') {
        this.store.outbox.mark(ids, { state: 'failed', status: out.status, error: out.error }, now);
        st.failed += ids.length;
        const n = ids.length > 1 ? { notifications: ids.length } : {};
        const fields = { channel: ch.name, alert: row.alertId, event: row.event, status: out.status, ...n };
        this.log.error(fields, `alerts: notification not delivered: ${out.error}`);
      } else {
        const attempt = row.attempts + 1; // begin() counted it in the store; `row` was read before
        const delay = out.afterMs !== undefined
          ? Math.min(out.afterMs, 3_600_000)
          : backoffMs(attempt, this.opts.backoffBaseMs ?? 1000, this.opts.backoffMaxMs ?? 300_000, this.opts.random ?? Math.random);
        this.store.outbox.mark(ids, { state: 'queued', status: out.status, error: out.error, nextMs: now + delay }, now);
        st.retried++;
        if (!st.failing) {
          this.log.warn({ channel: ch.name, status: out.status, retryInMs: delay }, `alerts: delivery failing, retrying with backoff: ${out.error}`);
        }
        st.failing = out.error;
      }
    } catch (e) {
      // the store is busy or closing: the row stays as it was and is tried again
      this.log.warn({ channel: ch.name, err: (e as Error)?.message }, 'alerts: could not record a delivery; will retry');
    }
  }

  /** Waits `ms`, returning early on abort (and on wake() when `wakeable`). */
  private idle(ms: number, signal: AbortSignal, wakeable = true): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        this.wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
      if (wakeable) this.wakers.add(done);
    });
  }
}
