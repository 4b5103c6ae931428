/**
 * Rendering of an undo plan (pure): each step as one guarded statement, the whole as a script (per dialect)
 * or as a JSON plan.
 */
import type { Row } from '../model/index.js';
import { commentText, type Dialect, type ScriptStatement } from './dialect.js';
import type { Plan, Refusal, UndoStep } from './undo-planner.js';

/** A row that changed since (or is in the way), and who changed it. */
export interface Conflict {
  step: number;
  table: string;
  key: Row | null;
  /** What was found: `changed` (differs from the recorded image), `gone` (no such row now), `exists` (a row with the key to restore is there). */
  found: 'changed' | 'gone' | 'exists' | 'interleaved';
  reason: string;
  /** Changes to this row after the reverted ones that are not part of the undo, oldest first. */
  since: { changeId: string; op: string; time: string; actor: string }[];
  changeIds: string[];
}

/** A plan with what the conflict check found, ready to print or apply. */
export interface UndoPlan extends Plan {
  runId: string;
  source: string;
  system: string;
  database: string;
  conflicts: Conflict[];
  /** Steps left out because of conflicts (with --skip-conflicts). */
  skipped: number[];
}

/** The key (or, keyless, the whole image) that identifies a step's row. */
export function stepKey(s: UndoStep): Row | null {
  if (s.absentKey) return s.absentKey;
  const img = s.current ?? s.target;
  if (!img) return null;
  if (!s.keyCols) return img;
  const o: Row = {};
  for (const c of s.keyCols) o[c] = img[c] ?? null;
  return o;
}

/** The predicate that holds only for the row in its recorded image: key equality (indexable) plus every column. */
export function guardOf(s: UndoStep, d: Dialect, img: Row): string {
  const parts: string[] = [];
  if (s.keyCols) for (const c of s.keyCols) if (img[c] !== null && img[c] !== undefined) parts.push(d.locate(c, img[c]!, s.types[c]));
  for (const c of Object.keys(img)) parts.push(d.same(c, img[c], s.types[c]));
  return parts.join(' AND ');
}

/** The statement of one step (null for `none`), starting with the run comment. */
export function stepSql(s: UndoStep, d: Dialect, runId: string): string | null {
  const keyless = !s.keyCols;
  let sql: string;
  switch (s.kind) {
    case 'none':
      return null;
    case 'insert': {
      const cols = Object.keys(s.target!);
      sql = d.insertSql(s.table, cols, cols.map((c) => d.literal(s.target![c], s.types[c])));
      break;
    }
    case 'delete':
      sql = d.deleteSql(s.table, guardOf(s, d, s.current!), keyless);
      break;
    case 'update':
      sql = d.updateSql(
        s.table,
        s.set.map((c) => [c, d.literal(s.target![c], s.types[c])]),
        guardOf(s, d, s.current!),
        keyless,
      );
      break;
  }
  return `${d.runComment(runId)} ${sql}`;
}

export function stepLabel(s: UndoStep): string {
  const what = { insert: 're-insert deleted row', delete: 'delete inserted row', update: `set back ${s.set.join(', ')}`, none: 'no-op' }[s.kind];
  return commentText(`${what} of ${s.table.schema}.${s.table.table} ${JSON.stringify(stepKey(s))} (${s.changeIds.length} change(s): ${s.changeIds.join(' ')})`);
}

/** The statements to run, in order, with their expected counts (rendered as iterated). */
export function* statementsOf(plan: UndoPlan, d: Dialect): Generator<ScriptStatement> {
  const skip = new Set(plan.skipped);
  for (const s of plan.steps) {
    if (skip.has(s.n)) continue;
    const sql = stepSql(s, d, plan.runId);
    if (sql !== null) yield { sql, expected: s.expected, label: stepLabel(s) };
  }
}

export function scriptStatements(plan: UndoPlan, d: Dialect): ScriptStatement[] {
  return [...statementsOf(plan, d)];
}

function refusalNote(r: Refusal): string {
  return `refused ${r.changeId} (${r.op} ${r.table} ${JSON.stringify(r.key)}): ${r.reason}`;
}

function conflictNote(c: Conflict): string {
  const who = c.since.length ? `; since changed by ${c.since.map((x) => `${x.actor} (${x.op} at ${x.time}, ${x.changeId})`).join(', ')}` : '';
  return `skipped conflict ${c.table} ${JSON.stringify(c.key)}: ${c.reason}${who}`;
}

/** Writes the SQL script (`--format sql`) in pieces. */
export function writeSql(plan: UndoPlan, d: Dialect, emit: (text: string) => void): void {
  const skipped = new Set(plan.skipped);
  const notes = [...plan.refusals.map(refusalNote), ...plan.conflicts.filter((c) => skipped.has(c.step)).map(conflictNote)];
  const meta = { runId: plan.runId, source: plan.source, database: plan.database, changes: plan.changes - plan.refusals.length, notes };
  d.script(() => statementsOf(plan, d), meta, emit);
}

/** The SQL script (`--format sql`) as one string. */
export function renderSql(plan: UndoPlan, d: Dialect): string {
  const parts: string[] = [];
  writeSql(plan, d, (t) => parts.push(t));
  return parts.join('');
}

/** The JSON plan (`--format json`). */
export function renderJson(plan: UndoPlan, d: Dialect): object {
  const skip = new Set(plan.skipped);
  return {
    runId: plan.runId,
    source: plan.source,
    system: plan.system,
    database: plan.database,
    changes: plan.changes,
    statements: plan.steps.map((s) => ({
      n: s.n,
      kind: s.kind,
      table: `${s.table.schema}.${s.table.table}`,
      key: stepKey(s),
      set: s.set,
      current: s.current,
      target: s.target,
      expected: s.expected,
      changeIds: s.changeIds,
      txIds: s.txIds,
      skipped: skip.has(s.n),
      sql: stepSql(s, d, plan.runId),
    })),
    refusals: plan.refusals,
    conflicts: plan.conflicts,
    script: renderSql(plan, d),
  };
}

export { conflictNote, refusalNote };
