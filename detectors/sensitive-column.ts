/**
 * sensitive-column: writes to columns that carry authority, money or credentials (detectors/sensitive.ts,
 * plus configured ones) by an actor that never wrote that column of that table before. Learns silently for
 * `learningHours` after the detector first runs.
 */
import { describeActor, num } from './summary.js';
import { isSensitiveColumn } from './sensitive.js';
import type { DetectorSpec, DetectorUnit, Finding, TxSummary } from './types.js';
import type { Severity } from '../src/model/index.js';

export interface SensitiveColumnOptions {
  enabled: boolean;
  severity: Severity;
  /** Extra sensitive columns by bare name (`nick`) or `schema.table.column`. */
  columns: string[];
  /** Hours after the first transaction during which the detector only learns. Default 24. */
  learningHours: number;
  /** (actor, table, column) triples remembered at most. Default 200000. */
  maxKeys: number;
}

class SensitiveColumn implements DetectorUnit {
  private started: number | null = null;
  private seen = new Set<string>();
  constructor(private readonly o: SensitiveColumnOptions) {}

  observe(tx: TxSummary): Finding[] {
    if (this.started === null) this.started = tx.commitMs;
    const learning = tx.commitMs - this.started < this.o.learningHours * 3_600_000;
    const out: Finding[] = [];
    for (const t of tx.tables) {
      const cols = Object.keys(t.columns).filter((c) => isSensitiveColumn(c, this.o.columns) || this.o.columns.includes(`${t.table}.${c}`));
      const fresh = cols.filter((c) => !this.seen.has(`${tx.source}|${tx.actorName}|${t.table}|${c}`));
      for (const c of fresh) {
        this.seen.add(`${tx.source}|${tx.actorName}|${t.table}|${c}`);
        if (this.seen.size > this.o.maxKeys) this.seen.delete(this.seen.values().next().value as string);
      }
      if (learning || fresh.length === 0 || tx.actorName === 'unknown') continue;
      const rows = Math.max(...fresh.map((c) => t.columns[c]));
      const who = describeActor(tx);
      out.push({
        detector: 'sensitive-column',
        key: `${tx.source}|${tx.actorName}|${t.table}|${fresh.join(',')}`,
        severity: this.o.severity,
        title: `${who} changed ${fresh.join(', ')} of ${t.table} for the first time`,
        summary:
          `${who} wrote ${fresh.join(', ')} in ${num(rows)} rows of ${t.table} at ${tx.commitTime}; ` +
          `it never wrote ${fresh.length > 1 ? 'these columns' : 'this column'} before.`,
        source: tx.source,
        table: t.table,
        actor: tx.actor,
        at: tx.commitMs,
        txIds: [tx.txId],
        evidence: { observed: rows, expected: 0, score: 1, columns: fresh },
      });
    }
    return out;
  }

  snapshot(): unknown {
    return { v: 1, started: this.started, seen: [...this.seen] };
  }

  restore(state: unknown): boolean {
    const s = state as { v: number; started: number | null; seen: string[] };
    if (s?.v !== 1 || !Array.isArray(s.seen)) return false;
    this.started = typeof s.started === 'number' ? s.started : null;
    for (const k of s.seen) if (typeof k === 'string') this.seen.add(k);
    return true;
  }
}

export const sensitiveColumn: DetectorSpec<Omit<SensitiveColumnOptions, 'enabled' | 'severity'>> = {
  name: 'sensitive-column',
  description: 'writes to authority, money or credential columns by an actor that does not usually write them',
  defaults: { enabled: true, severity: 'warning', columns: [], learningHours: 24, maxKeys: 200000 },
  create: (o) => new SensitiveColumn(o),
};
