/**
 * `rowtrail blame`: one row's history from the store, newest first. Reads only the store (no source I/O);
 * how the history reads as text is in present/.
 */
import { RowtrailError } from '../errors.js';
import type { ChangeEvent, Row } from '../model/index.js';
import type { Store } from '../store/index.js';
import type { Masker } from '../masking/index.js';

export interface BlameQuery {
  /** `schema.table` (or `table`). */
  table: string;
  /** Key values in key-column order (composite keys: several). */
  values?: string[];
  /** Key values by column (`--key col=value`). */
  pairs?: Row;
  source?: string;
}

/** The key columns of a table as the store knows them, in the table's column order. */
export function keyColumns(store: Store, table: string, source?: string): string[] {
  // A page of one, newest first: walks commit order (an index) instead of sorting a busy table's changes.
  const [ev] = store.changesPage({ table, source }, 1).changes;
  if (!ev) throw new RowtrailError('NOT_FOUND', `no stored change for table ${table}`);
  if (!ev.key || Object.keys(ev.key).length === 0) throw new RowtrailError('USAGE', `table ${table} has no key; blame needs one`);
  const cols = Object.keys(ev.key);
  const order = ev.types ? Object.keys(ev.types) : [];
  const rank = (c: string) => (order.includes(c) ? order.indexOf(c) : order.length);
  return cols.sort((a, b) => rank(a) - rank(b));
}

/** The row key a blame query names. */
export function blameKey(store: Store, q: BlameQuery): Row {
  const cols = keyColumns(store, q.table, q.source);
  const key: Row = { ...(q.pairs ?? {}) };
  const free = cols.filter((c) => !(c in key));
  const values = q.values ?? [];
  if (values.length !== free.length) {
    throw new RowtrailError('USAGE', `table ${q.table} has key (${cols.join(', ')}): give ${free.length} value(s) or --key col=value`);
  }
  free.forEach((c, i) => {
    key[c] = values[i];
  });
  for (const c of Object.keys(key)) if (!cols.includes(c)) throw new RowtrailError('USAGE', `${c} is not a key column of ${q.table} (key: ${cols.join(', ')})`);
  return key;
}

/**
 * The row's changes, newest first (as stored: masked). With a masker, a key column that is masked is looked
 * up by its pseudonym too (the user gives the raw value).
 */
export function blame(store: Store, q: BlameQuery, masker: Masker | null = null): ChangeEvent[] {
  const key = blameKey(store, q);
  const dot = q.table.indexOf('.');
  const [ev] = dot > 0 ? [] : store.changes({ table: q.table, source: q.source, newestFirst: true, limit: 1 });
  const [schema, table] = dot > 0 ? [q.table.slice(0, dot), q.table.slice(dot + 1)] : [ev?.schema ?? '', q.table];
  const forms = masker ? masker.keyForms(schema, table, key) : [key];
  const events = [...store.changes({ table: q.table, key: forms, source: q.source, newestFirst: true })];
  if (events.length === 0) throw new RowtrailError('NOT_FOUND', `no stored change for ${q.table} ${JSON.stringify(key)}`);
  return events;
}
