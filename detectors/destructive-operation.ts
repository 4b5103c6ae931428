/**
 * destructive-operation: TRUNCATE, DROP / ALTER … DROP (DDL events) and mass DELETE, needing no history.
 * DDL text is classified by its leading keywords after comments; anything that removes data or structure is
 * critical, other schema changes are info.
 */
import { describeActor, num } from './summary.js';
import type { DetectorSpec, DetectorUnit, Finding, TxSummary } from './types.js';
import type { Severity } from '../src/model/index.js';

export interface DestructiveOptions {
  enabled: boolean;
  severity: Severity;
  /** Rows deleted from one table in one transaction that count as a mass delete. Default 1000. */
  deleteRows: number;
  /** Report non-destructive DDL (CREATE, ALTER … ADD) as info. Default false. */
  allDdl: boolean;
}

/** Strips comments and classifies a DDL statement. */
export function ddlKind(sql: string): 'drop' | 'truncate' | 'alter-drop' | 'rename' | 'other' {
  const s = sql
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .trim()
    .toUpperCase();
  if (/^DROP\s+(TABLE|SCHEMA|DATABASE|VIEW|MATERIALIZED\s+VIEW|INDEX|SEQUENCE|TYPE|FUNCTION|TRIGGER|PUBLICATION)\b/.test(s)) return 'drop';
  if (/^TRUNCATE\b/.test(s)) return 'truncate';
  if (/^ALTER\s+TABLE\b[\s\S]*\bDROP\b/.test(s)) return 'alter-drop';
  if (/^(ALTER\s+TABLE\b[\s\S]*\bRENAME\b|RENAME\s+TABLE\b)/.test(s)) return 'rename';
  return 'other';
}

class Destructive implements DetectorUnit {
  constructor(private readonly o: DestructiveOptions) {}

  observe(tx: TxSummary): Finding[] {
    const out: Finding[] = [];
    const who = describeActor(tx);
    const base = { detector: 'destructive-operation', source: tx.source, actor: tx.actor, at: tx.commitMs, txIds: [tx.txId] };
    for (const t of tx.tables) {
      if (t.ops.truncate) {
        out.push({
          ...base,
          key: `${tx.source}|${tx.txId}|${t.table}|truncate`,
          severity: 'critical',
          title: `${who} truncated ${t.table}`,
          summary: `${who} truncated ${t.table} at ${tx.commitTime}. TRUNCATE logs no row images: undo cannot restore it; restore from a backup.`,
          table: t.table,
          evidence: { observed: t.ops.truncate, score: 1, operation: 'truncate' },
        });
      }
      if (t.ops.delete >= this.o.deleteRows) {
        out.push({
          ...base,
          key: `${tx.source}|${tx.txId}|${t.table}|delete`,
          severity: this.o.severity,
          title: `${who} deleted ${num(t.ops.delete)} rows of ${t.table} in one transaction`,
          summary: `${who} deleted ${num(t.ops.delete)} rows of ${t.table} in one transaction at ${tx.commitTime}.`,
          table: t.table,
          evidence: { observed: t.ops.delete, expected: this.o.deleteRows, score: 1, operation: 'mass-delete' },
        });
      }
    }
    tx.ddl.forEach((sql, i) => {
      const kind = ddlKind(sql);
      if (kind === 'other' && !this.o.allDdl) return;
      const destructive = kind === 'drop' || kind === 'alter-drop' || kind === 'truncate';
      const text = sql.replace(/\s+/g, ' ').trim().slice(0, 200);
      out.push({
        ...base,
        key: `${tx.source}|${tx.txId}|ddl|${i}`,
        severity: destructive ? 'critical' : kind === 'rename' ? 'warning' : 'info',
        title: `${who} ran ${kind === 'other' ? 'DDL' : kind.replace('-', ' … ').toUpperCase()}: ${text.slice(0, 80)}`,
        summary:
          `${who} ran \`${text}\` at ${tx.commitTime}.` +
          (destructive ? ' Dropped data and structure are not in the change log: undo cannot restore them.' : ''),
        table: null,
        evidence: { observed: 1, score: 1, operation: kind, statement: text },
      });
    });
    return out;
  }
}

export const destructiveOperation: DetectorSpec<Omit<DestructiveOptions, 'enabled' | 'severity'>> = {
  name: 'destructive-operation',
  description: 'TRUNCATE, DROP / ALTER … DROP, and mass DELETE in one transaction',
  defaults: { enabled: true, severity: 'warning', deleteRows: 1000, allDdl: false },
  create: (o) => new Destructive(o),
};
