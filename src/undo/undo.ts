/**
 * `rowtrail undo` end to end, minus the terminal: select changes from the store, read the source's catalog,
 * plan, check conflicts, and hand back a plan to print or apply.
 */
import type { Config } from '../config/index.js';
import { sourceUrl } from '../config/index.js';
import { RowtrailError } from '../errors.js';
import type { ChangeEvent } from '../model/index.js';
import type { ChangeFilter, Store } from '../store/index.js';
import { openMasking, reveal } from '../store/index.js';
import type { Masker } from '../masking/index.js';
import { newRunId, type Dialect } from './dialect.js';
import { connectSource, dialectFor, type SqlConn } from './source-conn.js';
import { findConflicts, readCatalog } from './conflicts.js';
import { collectUndo, finishPlan } from './undo-planner.js';
import type { UndoPlan } from './undo-render.js';

export interface UndoRequest {
  filter: ChangeFilter;
  /** Leave conflicting rows out and revert the rest (default: refuse). */
  skipConflicts?: boolean;
  runId?: string;
}

export interface PreparedUndo {
  plan: UndoPlan;
  dialect: Dialect;
  /** Open connection to the source (close it). */
  conn: SqlConn;
}

/** What a selection matched, recorded while the changes stream past. */
export interface Selection {
  ids: Set<string>;
  txIds: Set<string>;
  sources: Set<string>;
  first: ChangeEvent | null;
}

/** The changes a filter selects, oldest first, streamed (recording what matched into `sel`). */
export function* selectChanges(store: Store, filter: ChangeFilter, sel: Selection = newSelection()): Generator<ChangeEvent> {
  for (const ev of store.changes({ ...filter, newestFirst: false, limit: undefined })) {
    sel.first ??= ev;
    sel.ids.add(ev.id);
    sel.txIds.add(ev.tx.id).add(ev.tx.position);
    sel.sources.add(ev.source);
    yield ev;
  }
}

export function newSelection(): Selection {
  return { ids: new Set(), txIds: new Set(), sources: new Set(), first: null };
}

/** NOT_FOUND naming what matched nothing: an unknown tx or change, or an empty selection. */
export function checkSelection(filter: ChangeFilter, sel: Selection): void {
  for (const tx of filter.txIds ?? []) {
    if (!sel.txIds.has(tx)) throw new RowtrailError('NOT_FOUND', `transaction '${tx}' has no stored change matching the selection`);
  }
  for (const id of filter.changeIds ?? []) {
    if (!sel.ids.has(id)) throw new RowtrailError('NOT_FOUND', `change '${id}' is not in the store (or not in the selection)`);
  }
  if (sel.ids.size === 0) {
    const what = Object.entries(filter)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v instanceof Date ? v.toISOString() : Array.isArray(v) ? v.join(',') : String(v)}`)
      .join(' ');
    throw new RowtrailError('NOT_FOUND', `no stored change matches the selection (${what || 'everything'})`);
  }
  if (sel.sources.size > 1) throw new RowtrailError('USAGE', `the selection spans sources ${[...sel.sources].join(', ')}; add --source NAME`);
}

export async function prepareUndo(store: Store, cfg: Config, req: UndoRequest): Promise<PreparedUndo> {
  const sel = newSelection();
  // The dialect is known from the first change; a change of another system is refused by the planner.
  let dialect: Dialect | null = null;
  // Undo works on the exact raw values: the sealed cells of masked changes are opened here (KEY error, naming
  // the fix, where a selected change has sealed values and the master key is not at hand).
  const masker = openMasking(store, cfg.masking, { write: false })?.masker ?? null;
  const events = revealed(masker, selectChanges(store, req.filter, sel));
  const head = events.next();
  if (!head.done) dialect = dialectFor(head.value.system);
  const collected = collectUndo(head.done ? [] : prepend(head.value, events), dialect ?? dialectFor('postgresql'));
  checkSelection(req.filter, sel);
  const first = sel.first!;
  const srcCfg = cfg.sources.find((s) => s.name === first.source);
  if (!srcCfg) throw new RowtrailError('CONFIG', `source '${first.source}' of the selected changes is not in the config`);
  const conn = await connectSource(first.system, sourceUrl(srcCfg), srcCfg.name);
  try {
    const catalog = await readCatalog(conn, dialect!, [...collected.schemas]);
    const base = finishPlan(collected, catalog);
    const conflicts = await findConflicts(conn, dialect!, base.steps, store, sel.ids, masker);
    const plan: UndoPlan = {
      ...base,
      runId: req.runId ?? newRunId(),
      source: srcCfg.name,
      system: first.system,
      database: first.database,
      conflicts,
      skipped: req.skipConflicts ? conflicts.map((c) => c.step) : [],
    };
    return { plan, dialect: dialect!, conn };
  } catch (e: any) {
    await conn.close();
    if (e instanceof RowtrailError) throw e;
    throw new RowtrailError('UNDO', `reading source '${srcCfg.name}' failed: ${String(e?.message ?? e).split('\n')[0]}; nothing was applied`, e);
  }
}

/** for…of, so a throwing reveal closes the store's statement (its connection can then close). */
function* revealed(masker: Masker | null, events: Iterable<ChangeEvent>): Generator<ChangeEvent> {
  for (const ev of events) yield reveal(masker, ev);
}

function* prepend<T>(head: T, rest: Iterator<T>): Generator<T> {
  try {
    yield head;
    for (let r = rest.next(); !r.done; r = rest.next()) yield r.value;
  } finally {
    rest.return?.(); // a planner that stops early (or throws) must not leave the store's statement open
  }
}
