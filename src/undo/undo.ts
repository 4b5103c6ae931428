/**
 * `rowtrail undo` end to end, minus the terminal: select changes from the store, read the source's catalog,
 * plan, check conflicts, and hand back a plan to print or apply.
 */
import type { Config } from '../config/index.js';
import { sourceUrl } from '../config/index.js';
import { RowtrailError } from '../errors.js';
import type { ChangeEvent } from '../model/index.js';
import type { ChangeFilter, Store } from '../store/index.js';
import { newRunId, type Dialect } from './dialect.js';
import { connectSource, dialectFor, type SqlConn } from './source-conn.js';
import { findConflicts, readCatalog } from './conflicts.js';
import { planUndo } from './undo-planner.js';
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

/** The selected changes, oldest first; NOT_FOUND naming what matched nothing. */
export function selectChanges(store: Store, filter: ChangeFilter): ChangeEvent[] {
  const events = [...store.changes({ ...filter, newestFirst: false, limit: undefined })];
  for (const tx of filter.txIds ?? []) {
    if (!events.some((e) => e.tx.id === tx || e.tx.position === tx)) throw new RowtrailError('NOT_FOUND', `transaction '${tx}' has no stored change matching the selection`);
  }
  for (const id of filter.changeIds ?? []) {
    if (!events.some((e) => e.id === id)) throw new RowtrailError('NOT_FOUND', `change '${id}' is not in the store (or not in the selection)`);
  }
  if (events.length === 0) {
    const what = Object.entries(filter)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v instanceof Date ? v.toISOString() : Array.isArray(v) ? v.join(',') : String(v)}`)
      .join(' ');
    throw new RowtrailError('NOT_FOUND', `no stored change matches the selection (${what || 'everything'})`);
  }
  return events;
}

export async function prepareUndo(store: Store, cfg: Config, req: UndoRequest): Promise<PreparedUndo> {
  const events = selectChanges(store, req.filter);
  const sources = [...new Set(events.map((e) => e.source))];
  if (sources.length > 1) throw new RowtrailError('USAGE', `the selection spans sources ${sources.join(', ')}; add --source NAME`);
  const srcCfg = cfg.sources.find((s) => s.name === sources[0]);
  if (!srcCfg) throw new RowtrailError('CONFIG', `source '${sources[0]}' of the selected changes is not in the config`);
  const first = events[0];
  const dialect = dialectFor(first.system);
  const conn = await connectSource(first.system, sourceUrl(srcCfg), srcCfg.name);
  try {
    const schemas = [...new Set(events.map((e) => e.schema))];
    const catalog = await readCatalog(conn, dialect, schemas);
    const base = planUndo(events, dialect, catalog);
    const selected = new Set(events.map((e) => e.id));
    const conflicts = await findConflicts(conn, dialect, base.steps, store, selected);
    const plan: UndoPlan = {
      ...base,
      runId: req.runId ?? newRunId(),
      source: srcCfg.name,
      system: first.system,
      database: first.database,
      conflicts,
      skipped: req.skipConflicts ? conflicts.map((c) => c.step) : [],
    };
    return { plan, dialect, conn };
  } catch (e) {
    await conn.close();
    throw e;
  }
}
