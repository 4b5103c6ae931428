/**
 * value-pattern: shapes of damage that row counts alone miss — mass NULLing of a column, one value written
 * to many rows, and an actor that only ever inserted into a table starting to delete from it.
 */
import { describeActor, num } from './summary.js';
import type { DetectorSpec, DetectorUnit, Finding, TxSummary } from './types.js';
import type { Severity } from '../src/model/index.js';

export interface ValuePatternOptions {
  enabled: boolean;
  severity: Severity;
  /** Rows an update must set to NULL (from a value) in one column. Default 100. */
  nullRows: number;
  /** Rows that must get one same new value in one column, and be ≥ 90% of the updated rows. Default 1000. */
  sameValueRows: number;
  /** Inserts an actor must have made into a table, with no delete, before a delete is a flip. Default 100. */
  insertOnlyHistory: number;
  /** Rows deleted by such an actor that alert. Default 10. */
  flipRows: number;
}

class ValuePattern implements DetectorUnit {
  private ins = new Map<string, { inserts: number; deletes: number }>();
  constructor(private readonly o: ValuePatternOptions) {}

  observe(tx: TxSummary): Finding[] {
    const out: Finding[] = [];
    const who = describeActor(tx);
    const base = { detector: 'value-pattern', source: tx.source, actor: tx.actor, at: tx.commitMs, txIds: [tx.txId] };
    for (const t of tx.tables) {
      for (const [c, n] of Object.entries(t.nulled)) {
        if (n < this.o.nullRows) continue;
        out.push({
          ...base,
          key: `${tx.source}|${tx.txId}|${t.table}|${c}|null`,
          severity: this.o.severity,
          title: `${who} set ${c} to NULL in ${num(n)} rows of ${t.table}`,
          summary: `${who} set ${t.table}.${c} from a value to NULL in ${num(n)} rows in one transaction at ${tx.commitTime}.`,
          table: t.table,
          evidence: { observed: n, expected: 0, score: 1, pattern: 'mass-null', column: c },
        });
      }
      for (const [c, n] of Object.entries(t.sameValue)) {
        if (n < this.o.sameValueRows || n < 0.9 * t.ops.update || t.nulled[c] === n) continue;
        out.push({
          ...base,
          key: `${tx.source}|${tx.txId}|${t.table}|${c}|same`,
          severity: 'info',
          title: `${who} wrote one value to ${c} in ${num(n)} rows of ${t.table}`,
          summary: `${who} set ${t.table}.${c} to the same value in ${num(n)} of ${num(t.ops.update)} updated rows at ${tx.commitTime}.`,
          table: t.table,
          evidence: { observed: n, expected: 0, score: 1, pattern: 'one-value', column: c },
        });
      }
      const key = `${tx.source}|${tx.actorName}|${t.table}`;
      const h = this.ins.get(key) ?? { inserts: 0, deletes: 0 };
      if (t.ops.delete >= this.o.flipRows && h.deletes === 0 && h.inserts >= this.o.insertOnlyHistory && tx.actorName !== 'unknown') {
        out.push({
          ...base,
          key: `${key}|flip`,
          severity: 'warning',
          title: `${who} deleted ${num(t.ops.delete)} rows of ${t.table}; it only ever inserted there`,
          summary: `${who} inserted ${num(h.inserts)} rows into ${t.table} and never deleted any, until it deleted ${num(t.ops.delete)} at ${tx.commitTime}.`,
          table: t.table,
          evidence: { observed: t.ops.delete, expected: 0, score: 1, pattern: 'delete-insert-flip', insertsBefore: h.inserts },
        });
      }
      h.inserts += t.ops.insert;
      h.deletes += t.ops.delete;
      if (t.ops.insert || t.ops.delete) {
        this.ins.delete(key);
        this.ins.set(key, h);
        if (this.ins.size > 100000) this.ins.delete(this.ins.keys().next().value as string);
      }
    }
    return out;
  }

  snapshot(): unknown {
    return { v: 1, ins: [...this.ins] };
  }

  restore(state: unknown): boolean {
    const s = state as { v: number; ins: [string, { inserts: number; deletes: number }][] };
    if (s?.v !== 1 || !Array.isArray(s.ins)) return false;
    for (const e of s.ins) {
      if (Array.isArray(e) && typeof e[0] === 'string' && Number.isFinite(e[1]?.inserts) && Number.isFinite(e[1]?.deletes)) this.ins.set(e[0], e[1]);
    }
    return true;
  }
}

export const valuePattern: DetectorSpec<Omit<ValuePatternOptions, 'enabled' | 'severity'>> = {
  name: 'value-pattern',
  description: 'mass NULLing, one value written to many rows, an insert-only actor starting to delete',
  defaults: { enabled: true, severity: 'warning', nullRows: 100, sameValueRows: 1000, insertOnlyHistory: 100, flipRows: 10 },
  create: (o) => new ValuePattern(o),
};
