/**
 * An alert as a PagerDuty Events API v2 event (pure). `trigger` for an opened or updated alert, `resolve` when
 * it resolves, both with the same `dedup_key` (`rowtrail-<alert id>`, stable, at most 255 characters), so
 * PagerDuty folds updates and a retried or replayed trigger into one incident. Limits from PagerDuty's Events v2
 * reference: summary at most 1024 characters, source/component/group/class short strings, the whole event under
 * 512 KB (custom_details is cut to fit).
 */
import type { Alert, Severity } from '../model/index.js';
import { actorText, clipText, evidenceLine, headline, rowsText, whereText, windowText, type Notice } from './alert-text.js';

export const PD_LIMITS = { summary: 1024, dedupKey: 255, field: 255, eventBytes: 512 * 1024 } as const;

const SEVERITY: Record<Severity, 'critical' | 'error' | 'warning' | 'info'> = { critical: 'critical', warning: 'warning', info: 'info' };

export function dedupKey(a: Alert): string {
  return clipText(`rowtrail-${a.id}`, PD_LIMITS.dedupKey);
}

export function pagerdutyEvent(a: Alert, notice: Notice, routingKey: string): Record<string, unknown> {
  if (notice === 'resolved') return { routing_key: routingKey, event_action: 'resolve', dedup_key: dedupKey(a) };
  const details: Record<string, unknown> = {
    alert: a.id,
    state: a.state,
    actor: actorText(a),
    where: whereText(a),
    rows: rowsText(a),
    window: windowText(a),
    evidence: evidenceLine(a),
    details: a.evidence,
    transactions: a.txIds,
    undo: a.undo ?? 'not revertible by rowtrail undo (see the summary)',
    summary: a.summary,
  };
  const event = {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey(a),
    client: 'rowtrail',
    payload: {
      summary: clipText(headline(a, notice), PD_LIMITS.summary) || 'rowtrail alert',
      source: clipText(whereText(a), PD_LIMITS.field),
      severity: SEVERITY[a.severity] ?? 'warning',
      timestamp: a.window.to,
      component: clipText(a.table ?? a.source, PD_LIMITS.field),
      group: clipText(a.source, PD_LIMITS.field),
      class: clipText(a.detector, PD_LIMITS.field),
      custom_details: details,
    },
  };
  // Keep the event under PagerDuty's size limit: the raw evidence and the summary go first, then the tx list.
  const budget = PD_LIMITS.eventBytes - 16 * 1024;
  const size = () => Buffer.byteLength(JSON.stringify(event));
  if (size() > budget) details.details = clipText(JSON.stringify(a.evidence), 4000);
  if (size() > budget) details.summary = clipText(a.summary, 4000);
  if (size() > budget) details.transactions = [...a.txIds.slice(0, 50), `… ${a.txIds.length} in all`];
  return event;
}
