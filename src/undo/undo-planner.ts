/**
 * The undo planner (pure): from selected change events to ordered, guarded undo steps and refusals.
 *
 * - Changes are grouped per row (table + key; an update that changes the key moves the row to its new key),
 *   and the consecutive changes of one row collapse into one step: from the newest after image (what the row
 *   must be now) back to the oldest before image (what it was). INSERT…DELETE of one row collapses to nothing.
 * - A change that cannot be reverted exactly is refused with its reason, and so is every other change of its
 *   row (a row cannot be put back halfway).
 * - Steps run newest first, reordered where foreign keys require it (parents restored before children,
 *   children removed before parents).
 */
import type { ChangeEvent, Row, Value } from '../model/index.js';
import { canonicalKey } from '../store/keys.js';
import type { Dialect, TableRef } from './dialect.js';

/** A foreign key: child columns reference parent columns (same order). */
export interface ForeignKey {
  id: string;
  child: TableRef;
  childCols: string[];
  parent: TableRef;
  parentCols: string[];
}

/** What the planner knows of the source database now (read by the I/O edge; optional for pure use). */
export interface Catalog {
  /** `schema\0table` → its current columns; a table that is absent was dropped. */
  columns: Map<string, Set<string>>;
  foreignKeys: ForeignKey[];
}

export type StepKind = 'insert' | 'update' | 'delete' | 'none';

/** One guarded statement of an undo (or `none`: the row's changes cancel out, only its absence is checked). */
export interface UndoStep {
  /** 1-based position in execution order. */
  n: number;
  kind: StepKind;
  table: TableRef;
  /** Key columns, or null for a keyless table (the row is found by its full image). */
  keyCols: string[] | null;
  /** The image the row must have now (guard); null when the row must not exist now. */
  current: Row | null;
  /** The image to restore; null when the row must be removed. */
  target: Row | null;
  /** Key values of the row that must be absent now (insert and none steps of keyed tables). */
  absentKey: Row | null;
  /** Columns an update sets back. */
  set: string[];
  types: Record<string, string>;
  /** The reverted changes, newest first. */
  changeIds: string[];
  txIds: string[];
  /** The oldest reverted change's commit time (who changed the row after it is a conflict). */
  since: string;
  /** A change not in the selection sits between two selected changes of this row. */
  interleaved: boolean;
  /** Rows the statement must affect. */
  expected: number;
}

/** A change that will not be reverted, and why. */
export interface Refusal {
  changeId: string;
  txId: string;
  table: string;
  op: string;
  key: Row | null;
  reason: string;
}

export interface Plan {
  steps: UndoStep[];
  refusals: Refusal[];
  /** Number of selected changes. */
  changes: number;
}

/** One change as a group keeps it (the full event is dropped once folded in: bounded memory). */
interface Member {
  id: string;
  txId: string;
  op: ChangeEvent['op'];
}

interface Group {
  table: TableRef;
  keyCols: string[] | null;
  /** Image before the oldest change (what to restore). */
  target: Row | null;
  /** Image after the newest change (what the row must be now). */
  current: Row | null;
  /** Key of the row the oldest change inserted (a row inserted then deleted must stay absent). */
  firstKey: Row | null;
  since: string;
  members: Member[];
  /** Newest-first rank of the group's newest change (lower runs earlier). */
  rank: number;
  refused: string | null;
  refusedBy: string | null;
  types: Record<string, string>;
  interleaved: boolean;
}

/** The first, streaming half of planning: changes folded into one group per row. */
export interface Collected {
  groups: Group[];
  refusals: Refusal[];
  changes: number;
  /** Schemas the changes touch (whose catalog finishPlan wants). */
  schemas: Set<string>;
  /** Per table: every column any image had (checked against the current table). */
  columns: Map<string, Set<string>>;
}

export function tableId(t: TableRef): string {
  return `${t.schema}\u0000${t.table}`;
}

function pick(row: Row, cols: string[]): Row {
  const o: Row = {};
  for (const c of cols) o[c] = row[c] ?? null;
  return o;
}

/** The key values of an image, or the event's key where the image lacks them. */
function keyValues(img: Row | null, keyCols: string[], key: Row): Row {
  return img && keyCols.every((c) => c in img) ? pick(img, keyCols) : key;
}

function rowId(t: TableRef, keyVals: Row): string {
  return `${tableId(t)}\u0000${canonicalKey(keyVals)}`;
}

/** The image the row had after the change, with unchanged-TOAST (missing) columns filled from before. */
function afterImage(ev: ChangeEvent): Row | null {
  if (!ev.after) return null;
  const missing = ev.missing?.after;
  if (!missing?.length || !ev.before) return ev.after;
  const full: Row = { ...ev.after };
  for (const c of missing) if (c in ev.before) full[c] = ev.before[c];
  return full;
}

/** Why a single change cannot be reverted exactly, or null. */
function changeProblem(ev: ChangeEvent, d: Dialect): string | null {
  if (ev.op === 'truncate') return 'TRUNCATE cannot be reverted (the removed rows were not logged)';
  if (ev.op === 'ddl') return 'DDL is not reverted by undo';
  if (ev.system !== d.system && !(d.system !== 'postgresql' && ev.system !== 'postgresql')) return `change of a ${ev.system} source`;
  const keyless = !ev.key || Object.keys(ev.key).length === 0;
  if (ev.op !== 'insert' && (ev.incomplete?.includes('before') || !ev.before)) {
    const miss = ev.missing?.before?.length ? ` (missing: ${ev.missing.before.join(', ')})` : '';
    return keyless ? `table has no key and the before image is not full${miss}` : `before image incomplete${miss}`;
  }
  const after = afterImage(ev);
  if (ev.op !== 'delete') {
    if (!after) return 'after image missing';
    const unknown = (ev.missing?.after ?? []).filter((c) => !ev.before || !(c in ev.before));
    if (unknown.length) return `unchanged TOAST value not known (${unknown.join(', ')})`;
    if (keyless && ev.incomplete?.includes('after')) return 'table has no key and the after image is not full';
  }
  const cols = new Set([...Object.keys(ev.before ?? {}), ...Object.keys(after ?? {})]);
  for (const c of cols) {
    const t = ev.types?.[c];
    const p = d.typeProblem(t, ev.before?.[c] ?? null) ?? d.typeProblem(t, after?.[c] ?? null);
    if (p) return `column ${c}: ${p}`;
  }
  return null;
}

function sameImage(a: Row | null, b: Row | null): boolean {
  if (!a || !b) return a === b;
  for (const c of Object.keys(b)) if (c in a && a[c] !== b[c]) return false;
  return true;
}

/**
 * Plans the undo of `events` (oldest first, as the store yields them). Pure: the catalog (current columns and
 * foreign keys) comes from the caller.
 */
export function planUndo(events: Iterable<ChangeEvent>, d: Dialect, catalog?: Catalog): Plan {
  return finishPlan(collectUndo(events, d), catalog);
}

/** Folds the changes (oldest first) into one group per row; keeps no event, so memory grows with rows, not changes. */
export function collectUndo(events: Iterable<ChangeEvent>, d: Dialect): Collected {
  const refusals: Refusal[] = [];
  const groups: Group[] = [];
  const byRow = new Map<string, Group>();
  const typesSeen = new Map<string, Record<string, string>>();
  const schemas = new Set<string>();
  const columns = new Map<string, Set<string>>();
  let i = 0;
  for (const ev of events) {
    i++;
    schemas.add(ev.schema);
    const problem = changeProblem(ev, d);
    const t: TableRef = { schema: ev.schema, table: ev.table };
    if (ev.op === 'truncate' || ev.op === 'ddl') {
      refusals.push(refusalOf(ev, problem ?? 'not revertible'));
      continue;
    }
    const rank = -i;
    const keyCols = ev.key && Object.keys(ev.key).length ? Object.keys(ev.key) : null;
    const after = afterImage(ev);
    let g: Group | undefined;
    if (keyCols) {
      const id = rowId(t, keyValues(ev.op === 'insert' ? after : ev.before, keyCols, ev.key!));
      g = byRow.get(id);
      if (g) byRow.delete(id);
    }
    if (!g) {
      g = {
        table: t, keyCols, target: ev.before, current: after, since: ev.tx.commitTime, members: [], rank,
        firstKey: keyCols && !ev.before && after ? pick(after, keyCols) : null,
        refused: null, refusedBy: null, types: {}, interleaved: false,
      };
      groups.push(g);
    } else if (!sameImage(ev.before, g.current)) {
      g.interleaved = true;
    }
    g.members.push({ id: ev.id, txId: ev.tx.id, op: ev.op });
    g.current = after;
    g.rank = rank;
    if (ev.types) {
      // Interned: every event of a table carries an equal copy of the same types.
      const k = JSON.stringify(ev.types);
      let types = typesSeen.get(k);
      if (!types) typesSeen.set(k, (types = ev.types));
      g.types = g.members.length === 1 ? types : { ...g.types, ...types };
    }
    const tid = tableId(t);
    let cols = columns.get(tid);
    if (!cols) columns.set(tid, (cols = new Set()));
    for (const c in ev.before ?? {}) cols.add(c);
    for (const c in after ?? {}) cols.add(c);
    if (problem && !g.refused) {
      g.refused = problem;
      g.refusedBy = ev.id;
    }
    // The row lives on at its after key (or, once deleted, at its before key, where a re-insert continues it).
    if (keyCols) byRow.set(rowId(t, keyValues(after ?? ev.before, keyCols, ev.key!)), g);
  }
  // Ranks: newest change first.
  for (const g of groups) g.rank += i + 1;
  return { groups, refusals, changes: i, schemas, columns };
}

/** Why the current table cannot take the row back (dropped, columns gone), or null. */
function catalogProblem(g: Group, col: Collected, catalog: Catalog | undefined): string | null {
  if (!catalog) return null;
  const present = catalog.columns.get(tableId(g.table));
  if (!present) return 'table no longer exists';
  for (const c of col.columns.get(tableId(g.table)) ?? []) if (!present.has(c)) return `column ${c} no longer exists`;
  return null;
}

/** The second half: refusals against the current catalog, steps, foreign-key order. */
export function finishPlan(col: Collected, catalog?: Catalog): Plan {
  const refusals = [...col.refusals];
  const steps: (UndoStep & { rank: number })[] = [];
  for (const g of col.groups) {
    if (!g.refused) {
      g.refused = catalogProblem(g, col, catalog);
      g.refusedBy = g.refused ? null : g.refusedBy;
    }
    if (g.refused) {
      for (const m of g.members) {
        const why = g.refusedBy === null || m.id === g.refusedBy ? g.refused : `another change of this row is refused (${g.refusedBy}: ${g.refused})`;
        const img = g.target ?? g.current;
        const key = g.keyCols && img ? pick(img, g.keyCols) : g.firstKey;
        refusals.push({ changeId: m.id, txId: m.txId, table: `${g.table.schema}.${g.table.table}`, op: m.op, key, reason: why });
      }
      continue;
    }
    steps.push(stepOf(g));
  }
  const ordered = orderSteps(steps, catalog?.foreignKeys ?? []);
  ordered.forEach((s, k) => {
    s.n = k + 1;
  });
  return { steps: ordered, refusals, changes: col.changes };
}

function refusalOf(ev: ChangeEvent, reason: string): Refusal {
  return { changeId: ev.id, txId: ev.tx.id, table: `${ev.schema}.${ev.table}`, op: ev.op, key: ev.key, reason };
}

function stepOf(g: Group): UndoStep & { rank: number } {
  const { target, current } = g;
  const kind: StepKind = !target && !current ? 'none' : !target ? 'delete' : !current ? 'insert' : 'update';
  const set = kind === 'update' ? Object.keys(target!).filter((c) => c in current! && current![c] !== target![c]) : [];
  const keyCols = g.keyCols;
  let absentKey: Row | null = null;
  if (keyCols && (kind === 'insert' || kind === 'none')) absentKey = kind === 'insert' ? pick(target!, keyCols) : g.firstKey;
  const effective: StepKind = kind === 'update' && set.length === 0 ? 'none' : kind;
  return {
    n: 0,
    rank: g.rank,
    kind: effective,
    table: g.table,
    keyCols,
    current: effective === 'none' ? (kind === 'update' ? current : null) : current,
    target: effective === 'none' ? null : target,
    absentKey: effective === 'none' && kind === 'update' ? null : absentKey,
    set,
    types: g.types,
    changeIds: g.members.map((m) => m.id).reverse(),
    txIds: [...new Set(g.members.map((m) => m.txId).reverse())],
    since: g.since,
    interleaved: g.interleaved,
    expected: effective === 'none' ? 0 : 1,
  };
}

/** Values of `cols` in `row`, or null when any is NULL/absent (a NULL reference references nothing). */
function refOf(t: TableRef, cols: string[], row: Row | null): string | null {
  if (!row) return null;
  const vals: Value[] = cols.map((c) => row[c] ?? null);
  if (vals.some((v) => v === null)) return null;
  return `${tableId(t)}\u0000${JSON.stringify(vals)}`;
}

/**
 * Newest first, but a step that needs a parent row (it inserts or points a row at it) runs after the step
 * that restores the parent, and a step that removes a parent row (or moves its key) runs after the steps that
 * release the references to it. Ties keep newest-first order; a cycle keeps newest-first order for the rest
 * (the database then decides, and any failure rolls the whole undo back).
 */
export function orderSteps<S extends UndoStep & { rank?: number }>(steps: S[], fks: ForeignKey[]): S[] {
  const base = [...steps].sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
  if (!fks.length || base.length < 2) return base;
  const provides = new Map<string, number[]>();
  const removes = new Map<string, number[]>();
  const requires: [number, string][] = [];
  const releases: [number, string][] = [];
  const add = (m: Map<string, number[]>, k: string | null, i: number) => {
    if (k === null) return;
    const l = m.get(k);
    if (l) l.push(i);
    else m.set(k, [i]);
  };
  const tid = (t: TableRef) => tableId(t);
  base.forEach((s, i) => {
    if (s.kind === 'none') return;
    for (const fk of fks) {
      if (tid(fk.parent) === tid(s.table)) {
        const before = refOf(fk.parent, fk.parentCols, s.current);
        const after = refOf(fk.parent, fk.parentCols, s.target);
        if (after !== before) {
          add(provides, after, i);
          add(removes, before, i);
        }
      }
      if (tid(fk.child) === tid(s.table)) {
        const before = refOf(fk.parent, fk.childCols, s.current);
        const after = refOf(fk.parent, fk.childCols, s.target);
        if (after !== before) {
          if (after !== null) requires.push([i, after]);
          if (before !== null) releases.push([i, before]);
        }
      }
    }
  });
  const edges: number[][] = base.map(() => []);
  const indeg = base.map(() => 0);
  const edge = (from: number, to: number) => {
    if (from === to) return;
    edges[from].push(to);
    indeg[to]++;
  };
  for (const [i, ref] of requires) for (const p of provides.get(ref) ?? []) edge(p, i);
  for (const [i, ref] of releases) for (const r of removes.get(ref) ?? []) edge(i, r);
  // Kahn's algorithm with a min-heap on the newest-first index.
  const heap: number[] = [];
  const push = (x: number) => {
    heap.push(x);
    for (let k = heap.length - 1; k > 0; ) {
      const p = (k - 1) >> 1;
      if (heap[p] <= heap[k]) break;
      [heap[p], heap[k]] = [heap[k], heap[p]];
      k = p;
    }
  };
  const pop = (): number => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let k = 0; ; ) {
        const l = 2 * k + 1;
        const r = l + 1;
        let m = k;
        if (l < heap.length && heap[l] < heap[m]) m = l;
        if (r < heap.length && heap[r] < heap[m]) m = r;
        if (m === k) break;
        [heap[m], heap[k]] = [heap[k], heap[m]];
        k = m;
      }
    }
    return top;
  };
  indeg.forEach((d, i) => {
    if (d === 0) push(i);
  });
  const out: S[] = [];
  const done = new Set<number>();
  while (out.length < base.length) {
    if (!heap.length) {
      // A cycle: release the earliest remaining step.
      const next = base.findIndex((_, i) => !done.has(i));
      indeg[next] = 0;
      push(next);
    }
    const i = pop();
    if (done.has(i)) continue;
    done.add(i);
    out.push(base[i]);
    for (const j of edges[i]) if (--indeg[j] === 0 && !done.has(j)) push(j);
  }
  return out;
}
