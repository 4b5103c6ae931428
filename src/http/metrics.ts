/**
 * Prometheus text exposition of the daemon's state (pure: state in, text out).
 * Names follow Prometheus conventions: `rowtrail_` prefix, base units, `_total` for counters.
 */
import type { SourceStats } from '../sources/index.js';
import type { ResolverStats } from '../identity/index.js';

export interface SourceMetrics {
  name: string;
  kind: string;
  stats: SourceStats;
  identity: ResolverStats;
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function renderMetrics(sources: SourceMetrics[]): string {
  const lines: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string, value: (s: SourceMetrics) => number | null) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const s of sources) {
      const v = value(s);
      if (v === null || !Number.isFinite(v)) continue;
      lines.push(`${name}{source="${esc(s.name)}",kind="${esc(s.kind)}"} ${v}`);
    }
  };
  family('rowtrail_changes_total', 'counter', 'Row changes stored since the daemon started.', (s) => s.stats.changes);
  family('rowtrail_transactions_total', 'counter', 'Transactions stored since the daemon started.', (s) => s.stats.transactions);
  family('rowtrail_lag_seconds', 'gauge', 'Seconds between now and the commit time of the newest stored transaction.', (s) => s.stats.lagSeconds);
  family('rowtrail_attributed_transactions_total', 'counter', 'Transactions attributed to a session (exact or inferred).', (s) => s.identity.attributed);
  family('rowtrail_exact_transactions_total', 'counter', 'Transactions attributed exactly.', (s) => s.identity.exact);
  family('rowtrail_unknown_transactions_total', 'counter', 'Transactions whose actor is unknown.', (s) => s.identity.unknown);
  family(
    'rowtrail_precise_missing_transactions_total',
    'counter',
    'Transactions that changed a table with the precise-mode trigger but carried no session message.',
    (s) => s.identity.preciseMissing,
  );
  family('rowtrail_attribution_ratio', 'gauge', 'Share of transactions attributed exactly since start (1 = all).', (s) => {
    const n = s.identity.exact + s.identity.inferred + s.identity.unknown;
    return n ? s.identity.exact / n : null;
  });
  return lines.join('\n') + '\n';
}
