/**
 * Guards, the pure core: per in-flight transaction, rows counted per operation and table as the source decodes
 * them; a guard fires once its line is crossed by an actor it matches. No I/O: the actor and table sizes come
 * from callbacks, the action from the runner (guard-runner.ts).
 *
 * Cost per row change (the source's thread calls this for every row): one map update, then for each guard a
 * set lookup on the operation and a cached table test; the actor is asked for only when a line is crossed.
 * A transaction fires at most once (the first guard whose line it crosses): one alert and one action per
 * transaction.
 */
import type { GuardConfig } from '../config/index.js';
import type { Actor } from '../model/index.js';
import { glob } from '../identity/index.js';

export type GuardOp = 'insert' | 'update' | 'delete';

/** One guard, compiled for the hot path. */
interface Compiled {
  config: GuardConfig;
  ops: ReadonlySet<GuardOp>;
  /** `schema.table` → whether the guard counts it (memo of the globs). */
  tables: Map<string, boolean> | null;
}

/** What one transaction has shown so far (the evaluator's state for it). */
export interface GuardTxState {
  /** `op schema.table` → rows. */
  seen: Map<string, number>;
  /** Per guard (config order): rows of its operations on its tables. */
  totals: number[];
  /** The firing, once a line was crossed. */
  fired: Firing | null;
}

/** Rows seen of one operation on one table (evidence: counts only, never values). */
export interface SeenRows {
  table: string;
  op: GuardOp;
  rows: number;
}

export interface Firing {
  guard: GuardConfig;
  actor: Actor;
  /** Which line was crossed, on which table (for a fraction) and with how many rows against what line. */
  crossed: 'rowsOver' | 'tableFractionOver';
  table: string;
  observed: number;
  line: number;
  /** Rows per operation and table when the line was crossed. */
  seen: SeenRows[];
}

export interface EvaluatorOptions {
  /** A table's row count (catalog estimate), or null where unknown (then its fraction line cannot be crossed). */
  tableRows?: (table: string) => number | null;
}

export class GuardEvaluator {
  private readonly guards: Compiled[];
  constructor(
    guards: readonly GuardConfig[],
    private readonly opts: EvaluatorOptions = {},
  ) {
    this.guards = guards.map((g) => ({
      config: g,
      ops: new Set<GuardOp>(g.when.ops ?? (g.when.op ? [g.when.op] : ['insert', 'update', 'delete'])),
      tables: g.when.tables ? new Map() : null,
    }));
  }

  /** Whether any guard needs table sizes (tableFractionOver). */
  get needsSizes(): boolean {
    return this.guards.some((g) => g.config.when.tableFractionOver !== undefined);
  }

  begin(): GuardTxState {
    return { seen: new Map(), totals: this.guards.map(() => 0), fired: null };
  }

  /**
   * One row change. Returns the firing when this change crossed a guard's line for an actor it matches
   * (once per transaction), else null. `actor` is called only when a line is crossed.
   */
  change(st: GuardTxState, op: GuardOp, table: string, actor: () => Actor): Firing | null {
    if (st.fired) return null;
    const key = `${op} ${table}`;
    st.seen.set(key, (st.seen.get(key) ?? 0) + 1);
    for (let i = 0; i < this.guards.length; i++) {
      const g = this.guards[i]!;
      if (!g.ops.has(op) || !this.counts(g, table)) continue;
      const total = ++st.totals[i]!;
      const w = g.config.when;
      let crossed: Pick<Firing, 'crossed' | 'observed' | 'line'> | null = null;
      if (w.rowsOver !== undefined && total > w.rowsOver) crossed = { crossed: 'rowsOver', observed: total, line: w.rowsOver };
      else if (w.tableFractionOver !== undefined) {
        const size = this.opts.tableRows?.(table) ?? null;
        const rows = rowsOf(st, g.ops, table);
        if (size !== null && size > 0 && rows > w.tableFractionOver * size) {
          crossed = { crossed: 'tableFractionOver', observed: rows, line: Math.floor(w.tableFractionOver * size) };
        }
      }
      if (!crossed) continue;
      const who = actor();
      if (!matchesActor(g.config, who)) continue;
      st.fired = { guard: g.config, actor: who, table, ...crossed, seen: seenRows(st) };
      return st.fired;
    }
    return null;
  }

  private counts(g: Compiled, table: string): boolean {
    if (!g.tables) return true;
    let ok = g.tables.get(table);
    if (ok === undefined) {
      ok = g.config.when.tables!.some((p) => glob(p, table));
      g.tables.set(table, ok);
    }
    return ok;
  }
}

function rowsOf(st: GuardTxState, ops: ReadonlySet<GuardOp>, table: string): number {
  let n = 0;
  for (const op of ops) n += st.seen.get(`${op} ${table}`) ?? 0;
  return n;
}

/** Rows seen so far per table and operation, most first. */
export function seenRows(st: GuardTxState): SeenRows[] {
  return [...st.seen]
    .map(([k, rows]) => {
      const sp = k.indexOf(' ');
      return { table: k.slice(sp + 1), op: k.slice(0, sp) as GuardOp, rows };
    })
    .sort((a, b) => b.rows - a.rows || a.table.localeCompare(b.table));
}

/** The guard's `match`: every field given must match (exact or glob); a field the actor lacks never matches. */
export function matchesActor(g: GuardConfig, a: Actor): boolean {
  const m = g.match ?? {};
  if (m.kind !== undefined && a.kind !== m.kind) return false;
  const fields: [string | undefined, string | null | undefined][] = [
    [m.user, a.user],
    [m.agent, a.agent],
    [m.application, a.application],
  ];
  return fields.every(([p, v]) => p === undefined || (v != null && glob(p, v)));
}

/** What rowtrail does about a firing: act (cancel/terminate the session) or only alert, and why not. */
export interface Decision {
  act: boolean;
  /** Why rowtrail does not act (null when it does). */
  reason: string | null;
}

/**
 * Acts only on the server's word: an exact actor whose session message (precise identity) names the backend,
 * on a transaction streamed before its commit. Everything else is an alert that says what would have happened.
 */
export function decide(f: Firing, streamed: boolean): Decision {
  const g = f.guard;
  if (g.action === 'alert') return { act: false, reason: 'dry run (action: alert)' };
  if (f.actor.confidence !== 'exact' || f.actor.method !== 'precise-message') {
    return { act: false, reason: `the actor is ${f.actor.confidence} (no precise-identity session message): rowtrail never ends a session on a guess` };
  }
  if (!f.actor.sessionId) return { act: false, reason: 'the session message named no backend pid' };
  if (!streamed) {
    return { act: false, reason: 'the transaction had committed before rowtrail saw it (it was not streamed: smaller than logical_decoding_work_mem)' };
  }
  return { act: true, reason: null };
}
