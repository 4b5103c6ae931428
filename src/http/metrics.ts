/**
 * Prometheus text exposition of the daemon's state (pure: state in, text out).
 * Names follow Prometheus conventions: `rowtrail_` prefix, base units, `_total` for counters. Labels are
 * bounded: the configured source names and kinds, and `confidence` (exact | inferred | unknown).
 */
import type { SourceHealth, SourceStats } from '../sources/source.js';
import type { ResolverStats } from '../identity/index.js';
import type { SinkStats } from '../sinks/elasticsearch/index.js';

export interface SourceMetrics {
  name: string;
  kind: string;
  stats: SourceStats;
  identity: ResolverStats;
  /** Null when the source cannot report its health: its health series are then left out. */
  health: SourceHealth | null;
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

const CONFIDENCES = ['exact', 'inferred', 'unknown'] as const;

/** One alert channel: counters since the daemon started, and what its outbox holds now. */
export interface AlertChannelMetrics {
  channel: string;
  kind: string;
  sent: number;
  failed: number;
  retried: number;
  queued: number;
}

/** `alerts`: per alert channel; `sink`: the Elasticsearch sink's stats when one runs (its series are left out otherwise). */
export function renderMetrics(sources: SourceMetrics[], alerts: AlertChannelMetrics[] = [], sink: SinkStats | null = null): string {
  const lines: string[] = [];
  const labels = (s: SourceMetrics, extra = '') => `{source="${esc(s.name)}",kind="${esc(s.kind)}"${extra}}`;
  const family = (name: string, type: 'counter' | 'gauge', help: string, value: (s: SourceMetrics) => number | null | undefined) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const s of sources) {
      const v = value(s);
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      lines.push(`${name}${labels(s)} ${v}`);
    }
  };
  family('rowtrail_changes_total', 'counter', 'Row changes stored since the daemon started.', (s) => s.stats.changes);
  family('rowtrail_transactions_total', 'counter', 'Transactions stored since the daemon started.', (s) => s.stats.transactions);
  family(
    'rowtrail_lag_seconds',
    'gauge',
    "Seconds since the oldest change not yet durable in the store was committed on the server (0 when caught up).",
    (s) => s.health?.lagSeconds,
  );
  family('rowtrail_lag_bytes', 'gauge', "Bytes of log between the server's current position and the durable position.", (s) => s.health?.lagBytes);
  family('rowtrail_source_connected', 'gauge', '1 while the source is connected and streaming, else 0.', (s) =>
    s.health ? Number(s.health.state === 'streaming') : null,
  );
  family('rowtrail_source_reconnects_total', 'counter', 'Reconnects of the source since the daemon started.', (s) => s.health?.reconnects);
  family('rowtrail_attributed_transactions_total', 'counter', 'Transactions attributed to a session (exact or inferred).', (s) => s.identity.attributed);
  family('rowtrail_exact_transactions_total', 'counter', 'Transactions attributed exactly.', (s) => s.identity.exact);
  family('rowtrail_unknown_transactions_total', 'counter', 'Transactions whose actor is unknown.', (s) => s.identity.unknown);
  family(
    'rowtrail_precise_missing_transactions_total',
    'counter',
    'Transactions that changed a table with the precise-mode trigger but carried no session message.',
    (s) => s.identity.preciseMissing,
  );
  // One series per confidence: MariaDB attributes mostly `inferred`, which an exact-only ratio reads as 0.
  const name = 'rowtrail_attribution_ratio';
  lines.push(`# HELP ${name} Share of transactions since start by attribution confidence (the three sum to 1).`, `# TYPE ${name} gauge`);
  for (const s of sources) {
    const n = s.identity.exact + s.identity.inferred + s.identity.unknown;
    if (!n) continue;
    for (const c of CONFIDENCES) lines.push(`${name}${labels(s, `,confidence="${c}"`)} ${s.identity[c] / n}`);
  }
  // Alert delivery, one series per configured channel (bounded: the channels of the config).
  const alertFamily = (n: string, type: 'counter' | 'gauge', help: string, v: (c: AlertChannelMetrics) => number) => {
    if (!alerts.length) return;
    lines.push(`# HELP ${n} ${help}`, `# TYPE ${n} ${type}`);
    for (const c of alerts) lines.push(`${n}{channel="${esc(c.channel)}",kind="${esc(c.kind)}"} ${v(c)}`);
  };
  alertFamily('rowtrail_alert_notifications_sent_total', 'counter', 'Notifications the channel acknowledged (2xx) since the daemon started.', (c) => c.sent);
  alertFamily(
    'rowtrail_alert_notifications_failed_total',
    'counter',
    'Notifications given up (a permanent 4xx, or too old) since the daemon started.',
    (c) => c.failed,
  );
  alertFamily('rowtrail_alert_notifications_retried_total', 'counter', 'Attempts that failed and were retried since the daemon started.', (c) => c.retried);
  alertFamily('rowtrail_alert_notifications_queued', 'gauge', "Notifications in the channel's outbox, not delivered yet.", (c) => c.queued);
  if (sink) lines.push(...sinkMetrics(sink));
  return lines.join('\n') + '\n';
}

/** The Elasticsearch sink: how far behind it is, and what became of the documents it sent. */
function sinkMetrics(s: SinkStats): string[] {
  const out: string[] = [];
  const one = (name: string, type: string, help: string, series: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...series.map(([l, v]) => `${name}${l} ${v}`));
  };
  one('rowtrail_es_sink_lag_seconds', 'gauge', 'Seconds since the oldest change not yet in Elasticsearch was committed (0 when caught up).', [
    ['', s.lagSeconds],
  ]);
  one('rowtrail_es_sink_documents_total', 'counter', 'Documents the sink sent since the daemon started, by result.', [
    ['{result="stored"}', s.stored],
    ['{result="duplicate"}', s.duplicates],
    ['{result="dead_letter"}', s.deadLettered],
  ]);
  one('rowtrail_es_sink_retries_total', 'counter', 'Bulk requests (or their refused items) the sink retried.', [['', s.retries]]);
  one('rowtrail_es_sink_failing', 'gauge', '1 while the last request to Elasticsearch failed, else 0.', [['', s.lastError ? 1 : 0]]);
  return out;
}
