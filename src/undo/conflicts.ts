/**
 * I/O edge of planning: what the source database looks like now (tables, columns, foreign keys), and which
 * rows changed since the changes being reverted (conflicts), with who changed them (from the store).
 */
import type { Masker } from '../masking/index.js';
import type { ChangeEvent } from '../model/index.js';
import type { Store } from '../store/index.js';
import type { Dialect, TableRef } from './dialect.js';
import type { SqlConn } from './source-conn.js';
import { tableId, type Catalog, type ForeignKey, type UndoStep } from './undo-planner.js';
import { guardOf, stepKey, type Conflict } from './undo-render.js';

/** Reads current columns and foreign keys of the schemas the selection touches. */
export async function readCatalog(conn: SqlConn, d: Dialect, schemas: string[]): Promise<Catalog> {
  const columns = new Map<string, Set<string>>();
  for (const r of await conn.query(d.columnsSql(schemas))) {
    const id = tableId({ schema: String(r.schema), table: String(r.tbl) });
    let set = columns.get(id);
    if (!set) columns.set(id, (set = new Set()));
    set.add(String(r.col));
  }
  const byId = new Map<string, ForeignKey>();
  for (const r of await conn.query(d.foreignKeysSql(schemas))) {
    const id = String(r.id);
    let fk = byId.get(id);
    if (!fk) {
      fk = {
        id,
        child: { schema: String(r.child_schema), table: String(r.child_table) },
        parent: { schema: String(r.parent_schema), table: String(r.parent_table) },
        childCols: [],
        parentCols: [],
      };
      byId.set(id, fk);
    }
    fk.childCols.push(String(r.child_col));
    fk.parentCols.push(String(r.parent_col));
  }
  return { columns, foreignKeys: [...byId.values()] };
}

interface Probe {
  i: number;
  table: TableRef;
  where: string;
  ok: string;
  limitOne: boolean;
  /** What it means when a row is found: `row` (the row must be there) or `absent` (it must not). */
  want: 'row' | 'absent';
}

function probeOf(s: UndoStep, d: Dialect): Probe | null {
  if (s.absentKey) {
    const where = Object.keys(s.absentKey).map((c) => d.locate(c, s.absentKey![c]!, s.types[c])).join(' AND ');
    return { i: s.n, table: s.table, where, ok: '1 = 1', limitOne: false, want: 'absent' };
  }
  if (!s.current || s.kind === 'none' || s.kind === 'insert') return null;
  const guard = guardOf(s, d, s.current);
  if (!s.keyCols) return { i: s.n, table: s.table, where: guard, ok: '1 = 1', limitOne: true, want: 'row' };
  const where = s.keyCols.map((c) => d.locate(c, s.current![c]!, s.types[c])).join(' AND ');
  return { i: s.n, table: s.table, where, ok: guard, limitOne: false, want: 'row' };
}

/** One query for a batch of probes: rows `(i, ok)` for the rows found. Same SQL in both dialects. */
function probeSql(probes: Probe[], d: Dialect): string {
  return probes
    .map((p) => `(SELECT ${p.i} AS i, CASE WHEN ${p.ok} THEN 1 ELSE 0 END AS ok FROM ${d.table(p.table)} WHERE ${p.where}${p.limitOne ? ' LIMIT 1' : ''})`)
    .join('\nUNION ALL ');
}

const BATCH = 200;

export function actorName(ev: ChangeEvent): string {
  const a = ev.actor;
  const who = a.agent ?? a.user ?? 'unknown actor';
  return a.agent && a.user ? `${who} via ${a.user}` : who;
}

/** Changes to a step's row after the reverted ones, not part of the selection (oldest first). */
export function changesSince(store: Store, s: UndoStep, selected: Set<string>, masker: Masker | null = null): Conflict['since'] {
  const raw = s.keyCols ? stepKey(s) : null;
  if (!raw) return [];
  // The store keeps masked key columns as pseudonyms: look the row up under every form its key may have.
  const key = masker ? masker.keyForms(s.table.schema, s.table.table, raw) : raw;
  const out: Conflict['since'] = [];
  let after = false;
  const oldest = s.changeIds[s.changeIds.length - 1];
  for (const ev of store.changes({ key })) {
    if (ev.schema !== s.table.schema || ev.table !== s.table.table) continue;
    if (ev.id === oldest) after = true;
    else if (after && !selected.has(ev.id)) out.push({ changeId: ev.id, op: ev.op, time: ev.tx.commitTime, actor: actorName(ev) });
  }
  return out;
}

/**
 * Reads the current rows of every step and reports each one that is not as the undo expects: changed since
 * (or gone), or a row already in the way of a re-insert; and each row with a foreign change between two
 * reverted ones. Who changed the row since comes from the store.
 */
export async function findConflicts(
  conn: SqlConn,
  d: Dialect,
  steps: UndoStep[],
  store: Store | null,
  selected: Set<string>,
  masker: Masker | null = null,
): Promise<Conflict[]> {
  const probes = steps.map((s) => probeOf(s, d)).filter((p): p is Probe => p !== null);
  const found = new Map<number, number>();
  for (let k = 0; k < probes.length; k += BATCH) {
    const batch = probes.slice(k, k + BATCH);
    for (const r of await conn.query(probeSql(batch, d))) {
      const i = Number(r.i);
      found.set(i, Math.max(found.get(i) ?? 0, Number(r.ok)));
    }
  }
  const byN = new Map(probes.map((p) => [p.i, p]));
  const conflicts: Conflict[] = [];
  for (const s of steps) {
    const p = byN.get(s.n);
    let c: Pick<Conflict, 'found' | 'reason'> | null = null;
    if (p?.want === 'absent' && found.has(s.n)) {
      c = {
        found: 'exists',
        reason:
          s.kind === 'insert'
            ? 'a row with this key exists now, so the deleted row cannot be re-inserted'
            : 'the inserted row was deleted and a row with this key exists again',
      };
    } else if (p?.want === 'row' && !found.has(s.n)) {
      c = { found: 'gone', reason: s.keyCols ? 'the row no longer exists' : 'no row equals the recorded image any more (table without key)' };
    } else if (p?.want === 'row' && found.get(s.n) === 0) {
      c = { found: 'changed', reason: 'the row changed since' };
    } else if (s.interleaved) {
      c = { found: 'interleaved', reason: 'another change, not selected, sits between the selected changes of this row' };
    }
    if (!c) continue;
    const since = store ? changesSince(store, s, selected, masker) : [];
    conflicts.push({ step: s.n, table: `${s.table.schema}.${s.table.table}`, key: stepKey(s), ...c, since, changeIds: s.changeIds });
  }
  return conflicts;
}
