/** How `rowtrail actors` (and the demo's "who changed what") reads as text. */
import type { ActorSummary } from '../store/index.js';
import { clip, secondsText, table } from './text.js';

/** `agent via user`, the user alone, or `unknown`. */
export function actorName(a: Pick<ActorSummary, 'agent' | 'user'>): string {
  return a.agent ? `${a.agent}${a.user ? ` via ${a.user}` : ''}` : (a.user ?? 'unknown');
}

/** One aligned table, one row per actor: transactions, changes, first and last commit, tables written. */
export function actorsTable(rows: ActorSummary[]): string {
  return table(
    ['actor', 'kind', 'confidence', 'txs', 'changes', 'first', 'last', 'tables'],
    rows.map((r) => [
      actorName(r),
      r.kind,
      r.confidence,
      String(r.transactions),
      String(r.changes),
      secondsText(r.first),
      secondsText(r.last),
      clip(r.tables.join(', '), 50),
    ]),
  );
}
