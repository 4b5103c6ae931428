/**
 * Pure: decoded pgoutput row messages + relation metadata → RowChange (the contract's row images).
 * Handles the partial images PostgreSQL sends: key-only old tuples (REPLICA IDENTITY DEFAULT/INDEX),
 * no old tuple at all, and unchanged TOAST values ('u') that are filled from the old tuple when it has them.
 */
import type { Row, RowChange } from '../../model/index.js';
import type { RelationMessage, TupleValues } from './postgres-decoder.js';
import { typeName, type CustomType } from './postgres-types.js';
import { ddlChange } from '../ddl.js';

/** A relation as the source knows it: the decoder's message plus what the catalog says about its key. */
export interface Relation {
  relid: number;
  schema: string;
  table: string;
  replicaIdentity: RelationMessage['replicaIdentity'];
  names: string[];
  /** Column name → type name (format_type form). Shared by every change of this shape. */
  types: Record<string, string>;
  /** Indexes of the replica identity columns sent in 'K' tuples. */
  identityCols: number[];
  /** Indexes of the row key: primary key, else the replica identity index; empty when the table has none. */
  keyCols: number[];
}

/**
 * Builds a Relation. `primaryKey` is the primary key column list from the catalog (needed because under
 * REPLICA IDENTITY FULL pgoutput marks every column as identity and so does not tell the key).
 */
export function buildRelation(msg: RelationMessage, types: ReadonlyMap<number, CustomType>, primaryKey: string[] | null): Relation {
  const names = msg.columns.map((c) => c.name);
  const t: Record<string, string> = {};
  for (const c of msg.columns) t[c.name] = typeName(c.typeOid, c.typeMod, types);
  const identityCols = msg.columns.flatMap((c, i) => (c.isKey ? [i] : []));
  let keyCols: number[];
  if (primaryKey?.length && primaryKey.every((k) => names.includes(k))) keyCols = primaryKey.map((k) => names.indexOf(k));
  else if (msg.replicaIdentity === 'd' || msg.replicaIdentity === 'i') keyCols = identityCols;
  else keyCols = [];
  return { relid: msg.relid, schema: msg.schema, table: msg.table, replicaIdentity: msg.replicaIdentity, names, types: t, identityCols, keyCols };
}

function fullRow(rel: Relation, vals: TupleValues, missing: string[]): Row {
  const row: Row = {};
  const n = rel.names;
  for (let i = 0; i < n.length; i++) {
    const v = vals[i];
    if (v === undefined) missing.push(n[i]);
    else row[n[i]] = v;
  }
  return row;
}

function pick(rel: Relation, vals: TupleValues, cols: number[]): Row | null {
  if (cols.length === 0) return null;
  const row: Row = {};
  for (const i of cols) {
    const v = vals[i];
    if (v === undefined) return null;
    row[rel.names[i]] = v;
  }
  return row;
}

function finish(c: RowChange, missBefore: string[], missAfter: string[]): RowChange {
  if (missBefore.length || missAfter.length) {
    c.incomplete = [];
    c.missing = {};
    if (missBefore.length) {
      c.incomplete.push('before');
      c.missing.before = missBefore;
    }
    if (missAfter.length) {
      c.incomplete.push('after');
      c.missing.after = missAfter;
    }
  }
  return c;
}

export function insertChange(rel: Relation, vals: TupleValues): RowChange {
  const missAfter: string[] = [];
  const after = fullRow(rel, vals, missAfter);
  return finish(
    {
      schema: rel.schema,
      table: rel.table,
      op: 'insert',
      key: pick(rel, vals, rel.keyCols),
      before: null,
      after,
      changed: Object.keys(after),
      types: rel.types,
    },
    [],
    missAfter,
  );
}

export function updateChange(rel: Relation, oldKind: 'K' | 'O' | null, oldVals: TupleValues | null, newVals: TupleValues): RowChange {
  const missBefore: string[] = [];
  const missAfter: string[] = [];
  let before: Row;
  let changed: string[];
  let newFilled = newVals;
  if (oldKind === 'O' && oldVals) {
    // Full old image (REPLICA IDENTITY FULL): unchanged TOAST values in the new tuple come from it.
    if (newVals.includes(undefined)) newFilled = newVals.map((v, i) => (v === undefined ? oldVals[i] : v));
    before = fullRow(rel, oldVals, missBefore);
  } else {
    // Only the identity columns are known (and only when the key changed: 'K'); the rest is not logged.
    const src = oldKind === 'K' && oldVals ? oldVals : newVals;
    before = {};
    for (let i = 0; i < rel.names.length; i++) {
      if (rel.identityCols.includes(i) && src[i] !== undefined) before[rel.names[i]] = src[i] as string | null;
      else missBefore.push(rel.names[i]);
    }
  }
  const after = fullRow(rel, newFilled, missAfter);
  if (missBefore.length === 0) {
    changed = [];
    for (const k of Object.keys(after)) if (before[k] !== after[k]) changed.push(k);
  } else {
    // Without a full before image the changed set is not known: report the columns that may have changed.
    changed = Object.keys(after).filter((k) => !(k in before) || before[k] !== after[k]);
  }
  return finish(
    { schema: rel.schema, table: rel.table, op: 'update', key: pick(rel, newFilled, rel.keyCols), before, after, changed, types: rel.types },
    missBefore,
    missAfter,
  );
}

export function deleteChange(rel: Relation, oldKind: 'K' | 'O', oldVals: TupleValues): RowChange {
  const missBefore: string[] = [];
  let before: Row;
  if (oldKind === 'O') before = fullRow(rel, oldVals, missBefore);
  else {
    before = {};
    for (let i = 0; i < rel.names.length; i++) {
      if (rel.identityCols.includes(i)) before[rel.names[i]] = oldVals[i] ?? null;
      else missBefore.push(rel.names[i]);
    }
  }
  return finish(
    {
      schema: rel.schema,
      table: rel.table,
      op: 'delete',
      key: pick(rel, oldVals, rel.keyCols),
      before,
      after: null,
      changed: Object.keys(before),
      types: rel.types,
    },
    missBefore,
    [],
  );
}

export function truncateChange(rel: Relation, cascade: boolean, restartIdentity: boolean): RowChange {
  return {
    schema: rel.schema,
    table: rel.table,
    op: 'truncate',
    key: null,
    before: null,
    after: null,
    changed: [],
    truncate: { cascade, restartIdentity },
    types: rel.types,
  };
}

/** A schema change seen in the stream (a Relation message with a different shape than before). */
export function relationChange(prev: Relation, next: Relation): RowChange | null {
  const parts: string[] = [];
  for (const n of next.names) {
    if (!(n in prev.types)) parts.push(`added column ${n} ${next.types[n]}`);
    else if (prev.types[n] !== next.types[n]) parts.push(`column ${n} type ${prev.types[n]} -> ${next.types[n]}`);
  }
  for (const n of prev.names) if (!(n in next.types)) parts.push(`dropped column ${n}`);
  if (prev.replicaIdentity !== next.replicaIdentity) parts.push(`replica identity ${prev.replicaIdentity} -> ${next.replicaIdentity}`);
  if (prev.schema !== next.schema || prev.table !== next.table) parts.push(`renamed from ${prev.schema}.${prev.table}`);
  if (parts.length === 0) return null;
  return ddlChange(next.schema, next.table, `-- schema change seen in the stream: ${parts.join('; ')}`, next.types);
}
