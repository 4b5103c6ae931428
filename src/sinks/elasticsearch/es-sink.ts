/**
 * The Elasticsearch sink's I/O edge: reads what is durable in the store (changes in commit order, alert
 * states) and writes it to the data streams with bulk requests, keeping its own cursor in the store.
 *
 * - Capture never waits for Elasticsearch: the sink reads the store on its own schedule, and the store is the
 *   buffer. While the cluster is down, slow or refusing, the sink holds one batch (at most `batchSize`
 *   documents) and retries it with backoff; it catches up from its cursor afterwards, or after a restart.
 *   Nothing is dropped while the store retains it (store.retention prunes by age whether sent or not).
 * - The cursor (store table sink_cursors) moves only after every item of a bulk request is stored, was already
 *   stored (409), or was dead-lettered (400, kept in sink_dead_letters with the reason and logged), in one SQLite
 *   transaction with those dead letters. A crash before that replays the bulk: the same ids, 409, no duplicate.
 * - How far behind it may fall: it logs a warning while its oldest unsent change committed more than
 *   `maxLagSeconds` ago (default 300), and reports the lag in stats().
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import type { Logger } from '../../log/index.js';
import type { DeadLetter, SinkCursor, Store } from '../../store/index.js';
import { backoff, sleep } from '../../sources/backoff.js';
import { alertDocId, alertDocument, streamNames } from './es-documents.js';
import { BulkBody, bulkDoc, classifyItem } from './es-bulk.js';
import { ChangeDocWriter } from './es-rowdoc.js';
import { describeEsError, type EsConfig } from './es-client.js';

/** The sink's name in the store's sink tables. */
export const SINK_NAME = 'elasticsearch';

export interface SinkOptions {
  /** How often the store is polled when caught up (ms). Default 1000. */
  intervalMs?: number;
  /** Delay before retry number `attempt` (0-based), ms. Default 0.5 s doubling to 30 s, with jitter. */
  backoff?: (attempt: number) => number;
  /** Clock (tests). */
  now?: () => number;
}

export interface SinkStats {
  /** Documents Elasticsearch stored (2xx). */
  stored: number;
  /** Documents it already had (409 on a replay). */
  duplicates: number;
  /** Documents rejected for good and kept in the store's dead letters. */
  deadLettered: number;
  /** Bulk requests (or items) that had to be retried. */
  retries: number;
  /** Bulk requests sent. */
  requests: number;
  cursor: SinkCursor;
  /** Seconds since the oldest change not yet delivered was committed; 0 when caught up. */
  lagSeconds: number;
  /** The last failure's one-line reason, null once a request succeeded after it. */
  lastError: string | null;
}

export class ElasticsearchSink {
  private readonly streams: { changes: string; alerts: string };
  private templatesChecked = false;
  private lastLagWarn = 0;
  /** The largest change body so far (bytes): the next one starts that large instead of growing to it. */
  private bodyHint = 1 << 16;
  private readonly counts: SinkStats;

  constructor(
    private readonly store: Store,
    private readonly client: Client,
    private readonly cfg: EsConfig,
    private readonly log: Logger,
    private readonly opts: SinkOptions = {},
  ) {
    this.streams = streamNames(cfg.namespace);
    this.counts = {
      stored: 0,
      duplicates: 0,
      deadLettered: 0,
      retries: 0,
      requests: 0,
      cursor: store.sinkCursor(SINK_NAME),
      lagSeconds: 0,
      lastError: null,
    };
  }

  stats(): SinkStats {
    return { ...this.counts };
  }

  /** Runs until the signal aborts; never rejects (a failing pass is logged and retried). */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let busy = false;
      try {
        busy = (await this.runOnce(signal)) > 0;
        failures = 0;
      } catch (e) {
        this.log.warn({ err: (e as Error)?.message }, 'elasticsearch sink: pass failed; retrying');
        failures++;
      }
      if (!busy) await sleep(failures ? this.delay(failures) : (this.opts.intervalMs ?? 1000), signal);
    }
  }

  /**
   * One pass: waits for the templates, then delivers up to one batch of changes and one of alert states.
   * Returns how many documents it delivered (0: caught up, or stopped).
   */
  async runOnce(signal: AbortSignal = new AbortController().signal): Promise<number> {
    if (!(await this.templatesReady(signal))) return 0;
    const n = (await this.sendChanges(signal)) + (await this.sendAlerts(signal));
    this.checkLag();
    return n;
  }

  /**
   * Whether the index templates exist: without them, a write would create a plain index with guessed
   * mappings (and `require_data_stream` refuses it anyway). Waits (retrying) until they do, saying why.
   */
  private async templatesReady(signal: AbortSignal): Promise<boolean> {
    let attempt = 0;
    while (!this.templatesChecked && !signal.aborted) {
      try {
        const found = await this.client.indices.existsIndexTemplate({ name: this.streams.changes });
        if (found) {
          this.templatesChecked = true;
          if (attempt) this.log.info({ template: this.streams.changes }, 'elasticsearch sink: templates found; sending');
          break;
        }
        this.fail(attempt, `Elasticsearch has no index template ${this.streams.changes}: run \`rowtrail setup elastic\` (capture continues; the sink waits)`);
      } catch (e) {
        this.fail(attempt, describeEsError(e).message);
      }
      await sleep(this.delay(attempt++), signal);
    }
    return this.templatesChecked;
  }

  private async sendChanges(signal: AbortSignal): Promise<number> {
    const cur = this.counts.cursor;
    const limit = this.cfg.batchSize;
    const body = new BulkBody(this.bodyHint);
    const writer = new ChangeDocWriter(this.streams.changes);
    let last: SinkCursor = cur;
    let lastIdx = -1;
    // One more than a batch is read: if it belongs to the last transaction, that one is sent in part.
    const rows = this.store.sinkRows(cur, limit + 1);
    for (let i = 0; i < rows.length && i < limit; i++) {
      const r = rows[i];
      body.add(writer.doc(r, r.commit_seq));
      last = { seq: r.commit_seq, idx: -1 };
      lastIdx = r.idx;
    }
    const partial = rows.length > limit && rows[limit].commit_seq === last.seq;
    rows.length = 0; // not held while the bulk request is out
    if (!body.size) return 0;
    this.bodyHint = Math.max(this.bodyHint, body.bytes().length + 1024);
    const next: SinkCursor = partial ? { seq: last.seq, idx: lastIdx } : last;
    const n = body.size;
    const dead = await this.deliver(body, signal);
    if (!dead) return 0; // stopped mid-way: the cursor stays, the next run replays
    this.store.saveSinkProgress(SINK_NAME, { cursor: next, dead });
    this.counts.cursor = next;
    return n;
  }

  private async sendAlerts(signal: AbortSignal): Promise<number> {
    const pending = this.store.undeliveredAlerts(SINK_NAME, this.cfg.batchSize);
    if (!pending.length) return 0;
    const body = new BulkBody();
    const states: { id: string; state: string }[] = [];
    for (const { alert, states: ss } of pending) {
      for (const s of ss) {
        body.add(bulkDoc(alertDocId(alert, s), this.streams.alerts, alertDocument(alert, s)));
        states.push({ id: alert.id, state: s });
      }
    }
    const n = body.size;
    const dead = await this.deliver(body, signal);
    if (!dead) return 0;
    this.store.saveSinkProgress(SINK_NAME, { alertStates: states, dead });
    return n;
  }

  /**
   * Sends the documents until every one is stored, already stored or rejected for good (returned, to be
   * dead-lettered); retries failed requests and failed items with backoff. Null when the signal stopped it.
   */
  private async deliver(docs: BulkBody, signal: AbortSignal): Promise<DeadLetter[] | null> {
    const dead: DeadLetter[] = [];
    let pending = docs;
    let attempt = 0;
    while (pending.size) {
      if (signal.aborted) return null;
      let items: Parameters<typeof classifyItem>[0][];
      try {
        this.counts.requests++;
        // The NDJSON body, encoded once (es-bulk.ts): the transport sends a Buffer as is (its types say arrays
        // only). Its errors keep the request; the default redaction copies it key by key (a Buffer: byte by byte,
        // a second per failed request), 'remove' drops the headers and the connection (credentials) instead.
        const operations = pending.bytes() as unknown as estypes.BulkOperationContainer[];
        const res = await this.client.bulk({ operations, require_data_stream: true }, { signal, redaction: { type: 'remove' } });
        items = res.items;
      } catch (e) {
        if (signal.aborted) return null;
        this.counts.retries++;
        this.fail(attempt, describeEsError(e).message, { documents: pending.size });
        await sleep(this.delay(attempt++), signal);
        continue;
      }
      if (items.length !== pending.size) {
        this.counts.retries++;
        this.fail(attempt, `Elasticsearch answered ${items.length} items for ${pending.size} documents; resending`);
        await sleep(this.delay(attempt++), signal);
        continue;
      }
      const retry: number[] = [];
      let firstRetry: string | null = null;
      for (let i = 0; i < items.length; i++) {
        const o = classifyItem(items[i]);
        if (o.kind === 'stored') this.counts.stored++;
        else if (o.kind === 'duplicate') this.counts.duplicates++;
        else if (o.kind === 'dead') {
          const id = pending.id(i);
          const target = pending.target(i);
          dead.push({ docId: id, target, status: o.status, reason: o.reason, doc: pending.json(i) });
          this.counts.deadLettered++;
          this.log.error(
            { id, stream: target, status: o.status, reason: o.reason },
            'elasticsearch sink: document rejected; kept in the store (sink_dead_letters), capture continues',
          );
        } else {
          retry.push(i);
          firstRetry ??= `${o.status} ${o.reason}`;
        }
      }
      if (retry.length) {
        this.counts.retries++;
        this.fail(attempt, `Elasticsearch refused ${retry.length} of ${pending.size} documents for now (${firstRetry}); retrying them`);
        pending = pending.subset(retry);
        await sleep(this.delay(attempt++), signal);
        continue;
      }
      break;
    }
    if (this.counts.lastError) {
      this.log.info({ after: this.counts.lastError }, 'elasticsearch sink: delivering again');
      this.counts.lastError = null;
    }
    return dead;
  }

  /** Logs a failure: the first of a run of failures and then every tenth, so an outage is visible, not noisy. */
  private fail(attempt: number, message: string, extra: Record<string, unknown> = {}): void {
    const changed = message !== this.counts.lastError;
    this.counts.lastError = message;
    if (changed || attempt % 10 === 0) this.log.warn({ attempt, ...extra }, `elasticsearch sink: ${message}`);
    this.checkLag();
  }

  private delay(attempt: number): number {
    return (this.opts.backoff ?? ((a) => backoff(a)))(attempt);
  }

  private checkLag(): void {
    const now = this.opts.now?.() ?? Date.now();
    const oldest = this.store.oldestUnsent(this.counts.cursor);
    this.counts.lagSeconds = oldest ? Math.max(0, (now - Date.parse(oldest)) / 1000) : 0;
    if (this.counts.lagSeconds > this.cfg.maxLagSeconds && now - this.lastLagWarn > 60_000) {
      this.lastLagWarn = now;
      this.log.warn(
        { lagSeconds: Math.round(this.counts.lagSeconds), maxLagSeconds: this.cfg.maxLagSeconds, oldestUnsent: oldest },
        'elasticsearch sink is behind: changes wait in the store and will be sent (nothing is dropped while the store keeps them)',
      );
    }
  }
}
