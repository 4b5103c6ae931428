/**
 * Prometheus metrics of the daemon (prom-client, one registry per HTTP server). Values are read from the
 * daemon's state when scraped (collect callbacks), except the per-op counts and the commit→readable
 * latency, which the live feed records as it sees each committed transaction (feed.ts).
 *
 * Names: `rowtrail_` prefix, base units, `_total` for counters. Labels are bounded: the configured source
 * names and kinds, `op` (5 values), `confidence` (3), `severity` (3) and `state` (2). Never a table, actor
 * or key: those are unbounded and belong in the API.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SourceHealth, SourceStats } from '../sources/source.js';
import type { ResolverStats } from '../identity/index.js';
import type { ChangeEvent } from '../model/index.js';
import type { SinkStats } from '../sinks/elasticsearch/index.js';

export interface SourceMetrics {
  name: string;
  kind: string;
  stats: SourceStats;
  identity: ResolverStats;
  /** Null when the source cannot report its health: its health series are then left out. */
  health: SourceHealth | null;
}

/** What the metrics read when scraped. */
export interface MetricsInputs {
  sources: () => SourceMetrics[];
  /** Stored alerts by severity and state. */
  alerts?: () => { severity: string; state: string; n: number }[];
  /** Alert delivery per channel (src/alerts): counters since start and the outbox's queue; none without channels. */
  alertChannels?: () => AlertChannelMetrics[];
  /** The Elasticsearch sink's stats, null when none runs. */
  sink?: () => SinkStats | null;
  /** Bytes the store takes on disk (database and WAL). */
  storeBytes?: () => number;
}

export interface DaemonMetrics {
  registry: Registry;
  /** Records a committed change as the feed reads it (in commit order): count per op, and commit→readable
   * latency once per transaction. */
  observe(event: ChangeEvent, readAtMs: number): void;
}

/** One alert channel: counters since the daemon started, and what its outbox holds now. */
export interface AlertChannelMetrics {
  channel: string;
  kind: string;
  sent: number;
  failed: number;
  retried: number;
  queued: number;
}

const CONFIDENCES = ['exact', 'inferred', 'unknown'] as const;

export function createMetrics(inputs: MetricsInputs): DaemonMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const perSource = (
    name: string,
    help: string,
    value: (s: SourceMetrics) => number | null | undefined,
    type: 'counter' | 'gauge' = 'gauge',
  ) =>
    // A counter here is a total kept by the source itself, re-read on each scrape.
    scraped(registry, type, name, help, ['source', 'kind'], function* () {
      for (const s of inputs.sources()) {
        const v = value(s);
        if (v === null || v === undefined || !Number.isFinite(v)) continue;
        yield [{ source: s.name, kind: s.kind }, v];
      }
    });
  perSource('rowtrail_changes_total', 'Row changes stored since the daemon started.', (s) => s.stats.changes, 'counter');
  perSource('rowtrail_transactions_total', 'Transactions stored since the daemon started.', (s) => s.stats.transactions, 'counter');
  perSource(
    'rowtrail_lag_seconds',
    'Seconds since the oldest change not yet durable in the store was committed on the server (0 when caught up).',
    (s) => s.health?.lagSeconds,
  );
  perSource('rowtrail_lag_bytes', "Bytes of log between the server's current position and the durable position.", (s) => s.health?.lagBytes);
  perSource(
    'rowtrail_retained_wal_bytes',
    "PostgreSQL: bytes of WAL the server keeps for the source's replication slot (grows while rowtrail is behind or down).",
    (s) => s.health?.retainedBytes,
  );
  perSource('rowtrail_source_connected', '1 while the source is connected and streaming, else 0.', (s) =>
    s.health ? Number(s.health.state === 'streaming') : null,
  );
  perSource('rowtrail_source_reconnects_total', 'Reconnects of the source since the daemon started.', (s) => s.health?.reconnects, 'counter');
  perSource(
    'rowtrail_attributed_transactions_total',
    'Transactions attributed to a session (exact or inferred).',
    (s) => s.identity.attributed,
    'counter',
  );
  perSource('rowtrail_exact_transactions_total', 'Transactions attributed exactly.', (s) => s.identity.exact, 'counter');
  perSource('rowtrail_unknown_transactions_total', 'Transactions whose actor is unknown.', (s) => s.identity.unknown, 'counter');
  perSource(
    'rowtrail_precise_missing_transactions_total',
    'Transactions that changed a table with the precise-mode trigger but carried no session message.',
    (s) => s.identity.preciseMissing,
    'counter',
  );
  // One series per confidence: MariaDB attributes mostly `inferred`, which an exact-only ratio reads as 0.
  scraped(
    registry,
    'gauge',
    'rowtrail_attribution_ratio',
    'Share of transactions since start by attribution confidence (the three sum to 1).',
    ['source', 'kind', 'confidence'],
    function* () {
      for (const s of inputs.sources()) {
        const n = s.identity.exact + s.identity.inferred + s.identity.unknown;
        if (!n) continue;
        for (const c of CONFIDENCES) yield [{ source: s.name, kind: s.kind, confidence: c }, s.identity[c] / n];
      }
    },
  );
  const byOp = new Counter({
    name: 'rowtrail_changes_by_op_total',
    help: 'Committed row changes read from the store since the daemon started, per operation.',
    labelNames: ['source', 'op'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'rowtrail_commit_to_readable_seconds',
    help: 'Seconds from the commit on the server to the transaction being readable in the store (the feed polls every 250 ms).',
    labelNames: ['source'],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  if (inputs.alerts) {
    const alerts = inputs.alerts;
    scraped(registry, 'gauge', 'rowtrail_alerts', 'Alerts in the store, by severity and state.', ['severity', 'state'], () =>
      alerts().map((a) => [{ severity: a.severity, state: a.state }, a.n]),
    );
  }
  if (inputs.alertChannels) alertChannelMetrics(registry, inputs.alertChannels);
  if (inputs.sink) sinkMetrics(registry, inputs.sink);
  if (inputs.storeBytes) {
    const bytes = inputs.storeBytes;
    const help = 'Bytes the embedded store takes on disk (database and write-ahead log).';
    scraped(registry, 'gauge', 'rowtrail_store_bytes', help, [], () => [[{}, bytes()]]);
  }
  let lastTx = '';
  return {
    registry,
    observe(ev, readAtMs) {
      byOp.inc({ source: ev.source, op: ev.op });
      const id = `${ev.source}:${ev.tx.position}`;
      if (id === lastTx) return;
      lastTx = id;
      const t = Date.parse(ev.tx.commitTime);
      if (Number.isFinite(t)) latency.observe({ source: ev.source }, Math.max(0, (readAtMs - t) / 1000));
    },
  };
}

/** Alert delivery, one series per configured channel (bounded: the channels of the config). */
function alertChannelMetrics(registry: Registry, channels: () => AlertChannelMetrics[]): void {
  const family = (name: string, help: string, v: (c: AlertChannelMetrics) => number, type: 'counter' | 'gauge' = 'counter') =>
    scraped(registry, type, name, help, ['channel', 'kind'], () => channels().map((c) => [{ channel: c.channel, kind: c.kind }, v(c)]));
  family('rowtrail_alert_notifications_sent_total', 'Notifications the channel acknowledged (2xx) since the daemon started.', (c) => c.sent);
  family('rowtrail_alert_notifications_failed_total', 'Notifications given up (a permanent 4xx, or too old) since the daemon started.', (c) => c.failed);
  family('rowtrail_alert_notifications_retried_total', 'Attempts that failed and were retried since the daemon started.', (c) => c.retried);
  family('rowtrail_alert_notifications_queued', "Notifications in the channel's outbox, not delivered yet.", (c) => c.queued, 'gauge');
}

/** The Elasticsearch sink: how far behind it is, and what became of the documents it sent. */
function sinkMetrics(registry: Registry, sink: () => SinkStats | null): void {
  const one = (type: 'counter' | 'gauge', name: string, help: string, v: (s: SinkStats) => number) =>
    scraped(registry, type, name, help, [], () => {
      const s = sink();
      return s ? [[{}, v(s)]] : [];
    });
  const lag = 'Seconds since the oldest change not yet in Elasticsearch was committed (0 when caught up).';
  one('gauge', 'rowtrail_es_sink_lag_seconds', lag, (s) => s.lagSeconds);
  one('gauge', 'rowtrail_es_sink_failing', '1 while the last request to Elasticsearch failed, else 0.', (s) => (s.lastError ? 1 : 0));
  one('counter', 'rowtrail_es_sink_retries_total', 'Bulk requests (or their refused items) the sink retried.', (s) => s.retries);
  scraped(registry, 'counter', 'rowtrail_es_sink_documents_total', 'Documents the sink sent since the daemon started, by result.', ['result'], () => {
    const s = sink();
    if (!s) return [];
    return [
      [{ result: 'stored' }, s.stored],
      [{ result: 'duplicate' }, s.duplicates],
      [{ result: 'dead_letter' }, s.deadLettered],
    ];
  });
}

/**
 * A counter or gauge whose values are read when scraped: `series` gives every labelled value (for a counter,
 * a total kept elsewhere), and the metric is reset first, so a series that is gone is gone.
 */
function scraped<L extends string>(
  registry: Registry,
  type: 'counter' | 'gauge',
  name: string,
  help: string,
  labelNames: readonly L[],
  series: () => Iterable<[Partial<Record<L, string>>, number]>,
): void {
  const opts = { name, help, labelNames, registers: [registry] };
  if (type === 'counter') {
    new Counter<L>({
      ...opts,
      collect() {
        this.reset();
        for (const [l, v] of series()) this.inc(l, v);
      },
    });
  } else {
    new Gauge<L>({
      ...opts,
      collect() {
        this.reset();
        for (const [l, v] of series()) this.set(l, v);
      },
    });
  }
}
