/**
 * Figures of the fault suite: one row per (database, fault), appended by the test files to
 * `.tmp/faults-figures/<pid>.jsonl`; the suite's global teardown (report.ts) merges them into
 * `.tmp/faults-figures.json` and prints the table. Timings are recorded, never asserted.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const FIGURES_DIR = join(import.meta.dirname, '..', '..', '.tmp', 'faults-figures');

export interface FaultFigure {
  db: 'PostgreSQL' | 'MariaDB';
  fault: string;
  /** Committed transactions and their row changes in the scenario (the ledger). */
  committedTx: number;
  changes: number;
  lost: number;
  duplicated: number;
  wrongActors: number;
  /** Fault start → the daemon's first warning or error about it; null: not reported; undefined: n/a. */
  detectMs?: number | null;
  /** Fault end (or daemon restart) → the store has every transaction committed before and one committed after;
   * null: not within the wait. */
  recoverMs?: number | null;
  /** `truthful`, `n/a`, or what /healthz said that was wrong. */
  health: string;
  note?: string;
}

export function recordFigure(f: FaultFigure): void {
  mkdirSync(FIGURES_DIR, { recursive: true });
  appendFileSync(join(FIGURES_DIR, `${process.pid}.jsonl`), JSON.stringify(f) + '\n');
  console.log(`fault figure: ${JSON.stringify(f)}`);
}

const ms = (v: number | null | undefined) => (v === undefined ? 'n/a' : v === null ? 'not seen' : `${(v / 1000).toFixed(1)} s`);

/** The figures as a Markdown table (what bench/RESULTS.md holds). */
export function figuresTable(rows: FaultFigure[]): string {
  const head = '| database | fault | committed tx (changes) | lost | duplicated | wrong actor | detect | recover | /healthz |';
  const lines = rows.map(
    (r) => `| ${r.db} | ${r.fault} | ${r.committedTx} (${r.changes}) | ${r.lost} | ${r.duplicated} | ${r.wrongActors} | ${ms(r.detectMs)} | ${ms(r.recoverMs)} | ${r.health} |`,
  );
  return [head, '|---|---|---|---|---|---|---|---|---|', ...lines].join('\n');
}
