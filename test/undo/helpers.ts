/** Test helpers: plan (and optionally apply) an undo through the same calls the CLI makes. */
import { expect } from 'vitest';
import { applyUndo, prepareUndo, renderSql, scriptStatements, type UndoPlan } from '../../src/undo/index.js';
import type { ChangeFilter } from '../../src/store/index.js';
import type { Recorder } from './fixture.js';

export interface UndoOutcome {
  plan: UndoPlan;
  sql: string;
  applied?: { statements: number; rows: number };
}

export async function undo(rec: Recorder, filter: ChangeFilter, opts: { apply?: boolean; skipConflicts?: boolean } = {}): Promise<UndoOutcome> {
  const { plan, dialect, conn } = await prepareUndo(rec.store, rec.config(), { filter, skipConflicts: opts.skipConflicts });
  try {
    const sql = renderSql(plan, dialect);
    // Nothing to run (the changes cancel out): the runner would refuse, as the CLI does.
    if (!opts.apply || scriptStatements(plan, dialect).length === 0) return { plan, sql };
    // The progress the CLI draws on a terminal: called after each statement, ending at all of them.
    const steps: string[] = [];
    const applied = await applyUndo(conn, dialect, plan, (done, total) => steps.push(`${done}/${total}`));
    const n = applied.statements;
    expect(steps).toEqual(Array.from({ length: n }, (_, i) => `${i + 1}/${n}`));
    return { plan, sql, applied };
  } finally {
    await conn.close();
  }
}

/** `FC_SEED=<n>` replays a fast-check failure (fast-check prints the seed), `FC_RUNS=<n>` overrides the number of runs. */
export function fcSeed(): { seed?: number; numRuns?: number } {
  const s = process.env.FC_SEED;
  const runs = process.env.FC_RUNS;
  return { ...(s ? { seed: Number(s) } : {}), ...(runs ? { numRuns: Number(runs) } : {}) };
}
