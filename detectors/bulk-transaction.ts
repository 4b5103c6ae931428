/**
 * bulk-transaction: one transaction that changes many rows of a table, absolutely or as a fraction of the
 * table's size (from catalog statistics, through the engine). Needs no history: a fresh install alerts on an
 * agent deleting most of a table.
 */
import { describeActor, num } from './summary.js';
import type { DetectorSpec, DetectorUnit, Finding, TxSummary, DetectorContext } from './types.js';
import type { Severity } from '../src/model/index.js';

export interface BulkOptions {
  enabled: boolean;
  severity: Severity;
  /** Rows changed in one transaction on one table that alert whatever the table's size. Default 10000. */
  rows: number;
  /** Fraction of the table changed (updates + deletes) that alerts… Default 0.2. */
  fraction: number;
  /** …once at least this many rows changed. Default 100. */
  fractionMinRows: number;
  /** Fraction at which the alert is critical. Default 0.5. */
  criticalFraction: number;
}

class Bulk implements DetectorUnit {
  constructor(private readonly o: BulkOptions) {}

  observe(tx: TxSummary, ctx: DetectorContext): Finding[] {
    const out: Finding[] = [];
    for (const t of tx.tables) {
      const changed = t.ops.update + t.ops.delete;
      const total = changed + t.ops.insert;
      const size = ctx.tableRows(tx.source, t.table);
      // Statistics lag behind: the table held at least the rows this transaction updated or deleted.
      const before = size === null ? null : Math.max(size, changed);
      const fraction = before ? changed / before : null;
      const byFraction = fraction !== null && changed >= this.o.fractionMinRows && fraction >= this.o.fraction;
      if (!byFraction && total < this.o.rows) continue;
      const critical = (fraction !== null && fraction >= this.o.criticalFraction && changed >= this.o.fractionMinRows) || total >= this.o.rows * 10;
      const verb = { delete: 'deleted', update: 'updated', insert: 'inserted' } as const;
      const parts = (['delete', 'update', 'insert'] as const).filter((op) => t.ops[op] > 0).map((op) => `${verb[op]} ${num(t.ops[op])}`);
      const share = fraction !== null ? ` (${Math.round(fraction * 100)}% of the table)` : '';
      const who = describeActor(tx);
      out.push({
        detector: 'bulk-transaction',
        key: `${tx.source}|${tx.txId}|${t.table}`,
        severity: critical ? 'critical' : this.o.severity,
        title: `${who} ${parts.join(', ')} rows of ${t.table}${share} in one transaction`,
        summary: `${who} ${parts.join(', ')} rows of ${t.table}${share} in one transaction at ${tx.commitTime}.`,
        source: tx.source,
        table: t.table,
        actor: tx.actor,
        at: tx.commitMs,
        txIds: [tx.txId],
        evidence: {
          observed: total,
          expected: byFraction ? Math.floor(this.o.fraction * (before ?? 0)) : this.o.rows,
          score: 1,
          deleted: t.ops.delete,
          updated: t.ops.update,
          inserted: t.ops.insert,
          tableRows: before,
          fraction: fraction === null ? null : Math.round(fraction * 1000) / 1000,
        },
      });
    }
    return out;
  }
}

export const bulkTransaction: DetectorSpec<Omit<BulkOptions, 'enabled' | 'severity'>> = {
  name: 'bulk-transaction',
  description: 'one transaction changing many rows of a table, or a large fraction of it',
  defaults: { enabled: true, severity: 'warning', rows: 10000, fraction: 0.2, fractionMinRows: 100, criticalFraction: 0.5 },
  create: (o) => new Bulk(o),
};
