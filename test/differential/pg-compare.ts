/**
 * Pure: what rowtrail must have stored for each change test_decoding printed, and the first difference
 * between that and what it did store.
 *
 * Normalizations (each with its why):
 * - bool: test_decoding prints `true`/`false`, the type's text output is `t`/`f` (done in the parser).
 * - commit time: test_decoding prints timestamptz output in the session's zone (UTC here) with trailing zeros
 *   of the fraction cut; rowtrail ISO-8601 with `Z`. Both become `YYYY-MM-DDTHH:MM:SS.ffffff`.
 * - TRUNCATE of several tables is one test_decoding record and one rowtrail event per table.
 * - rowtrail's `ddl` events (schema changes seen in Relation messages) have no test_decoding counterpart and
 *   are left out of the comparison; the row images after them must carry the new columns anyway.
 * - NULLs in old tuples: test_decoding prints the old tuple with its NULL columns left out (skip_nulls in
 *   tuple_to_stringinfo). Under REPLICA IDENTITY FULL an update's missing old columns are NULL (the new tuple
 *   names every column); a delete names no columns, so a FULL delete's before image is compared without its
 *   NULL columns (rowtrail's are dropped for the comparison, and must be NULL).
 * - Keys: test_decoding does not say which columns are the primary key under REPLICA IDENTITY FULL; the
 *   workload knows (`id` where the table has a primary key, else no key).
 */
import type { ChangeEvent, Row } from '../../src/model/index.js';
import type { TdChange, TdColumn, TdTx } from './test-decoding.js';

export interface NormChange {
  table: string;
  op: string;
  key: Row | null;
  before: Row | null;
  after: Row | null;
  changed: string[];
  missing: { before?: string[]; after?: string[] } | null;
  truncate?: { cascade: boolean; restartIdentity: boolean };
  /** test_decoding's record (expected side only; not compared). */
  raw?: string;
}

export interface NormTx {
  xid: string;
  commitTime: string;
  changes: NormChange[];
}

/** Table facts the expectation needs: whether `id` is the primary key. Keyed by `schema.table`. */
export type TableFacts = Map<string, { pk: boolean; full: boolean }>;

export function normTime(t: string): string {
  const m = /^(\d{4,}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|\+00(?::00)?)$/.exec(t);
  if (!m) return `unparsed:${t}`;
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0')}`;
}

const toRow = (cols: TdColumn[]): Row => Object.fromEntries(cols.map((c) => [c.name, c.value as string | null]));
const isToast = (c: TdColumn) => c.value !== null && typeof c.value === 'object';

function changedOf(before: Row | null, after: Row | null): string[] {
  if (!before) return Object.keys(after ?? {}).sort();
  if (!after) return Object.keys(before).sort();
  return Object.keys(after)
    .filter((k) => !(k in before) || before[k] !== after[k])
    .sort();
}

function missingOf(before: string[], after: string[]): NormChange['missing'] {
  if (!before.length && !after.length) return null;
  return { ...(before.length ? { before: [...before].sort() } : {}), ...(after.length ? { after: [...after].sort() } : {}) };
}

/** The events rowtrail must store for test_decoding's transactions. */
export function expectedFromTd(txs: TdTx[], facts: TableFacts): NormTx[] {
  return txs.map((tx) => ({
    xid: tx.xid,
    commitTime: normTime(tx.commitTime),
    changes: tx.changes.map((c): NormChange => ({ ...expectChange(c, facts), raw: c.raw })),
  }));
}

function expectChange(c: TdChange, facts: TableFacts): NormChange {
  const pk = facts.get(c.table)?.pk ?? false;
  const fullIdentity = facts.get(c.table)?.full ?? false;
  const keyOf = (r: Row | null) => (pk && r && 'id' in r ? { id: r.id } : null);
  if (c.op === 'truncate') return { table: c.table, op: 'truncate', key: null, before: null, after: null, changed: [], missing: null, truncate: c.truncate };
  if (c.op === 'insert') {
    const after = toRow(c.new!);
    return { table: c.table, op: 'insert', key: keyOf(after), before: null, after, changed: changedOf(null, after), missing: null };
  }
  if (c.op === 'delete') {
    const before = c.old ? toRow(c.old) : {};
    // Under DEFAULT the old tuple has the key only; rowtrail names the other columns as missing. The
    // delete event does not list the table's columns, so only FULL (all columns) or key-only is checked.
    return { table: c.table, op: 'delete', key: keyOf(before), before, after: null, changed: changedOf(before, null), missing: null };
  }
  // update
  const names = c.new!.map((x) => x.name);
  const full = fullIdentity && c.old !== null;
  let before: Row;
  let missBefore: string[] = [];
  const missAfter: string[] = [];
  const after: Row = {};
  if (full) {
    const old = toRow(c.old!);
    before = Object.fromEntries(names.map((n) => [n, n in old ? old[n] : null]));
    // An unchanged TOAST value is not in the new tuple; the full old image has it.
    for (const x of c.new!) after[x.name] = isToast(x) ? before[x.name] : (x.value as string | null);
  } else {
    // Only the key is logged (and only when it changed); before has the identity columns.
    before = c.old ? toRow(c.old) : pk ? { id: toRow(c.new!).id } : {};
    missBefore = names.filter((n) => !(n in before));
    for (const x of c.new!) {
      if (isToast(x)) missAfter.push(x.name);
      else after[x.name] = x.value as string | null;
    }
  }
  return { table: c.table, op: 'update', key: keyOf(after), before, after, changed: changedOf(before, after), missing: missingOf(missBefore, missAfter) };
}

/** rowtrail's events (oldest first), grouped into transactions, without `ddl` events. */
export function fromRowtrail(events: ChangeEvent[]): NormTx[] {
  const out: NormTx[] = [];
  for (const e of events) {
    if (e.op === 'ddl') continue;
    let tx = out[out.length - 1];
    if (!tx || tx.xid !== e.tx.id) out.push((tx = { xid: e.tx.id, commitTime: normTime(e.tx.commitTime), changes: [] }));
    const missing = e.missing ? missingOf(e.missing.before ?? [], e.missing.after ?? []) : null;
    const ch: NormChange = { table: `${e.schema}.${e.table}`, op: e.op, key: e.key, before: e.before, after: e.after, changed: [...e.changed].sort(), missing };
    if (e.op === 'delete') {
      // See the header: deletes are compared without NULL columns and without the missing list.
      ch.missing = null;
      if (ch.before) ch.before = Object.fromEntries(Object.entries(ch.before).filter(([, v]) => v !== null));
      ch.changed = Object.keys(ch.before ?? {}).sort();
    }
    if (e.truncate) ch.truncate = e.truncate;
    tx.changes.push(ch);
  }
  return out;
}

const show = (x: unknown) => JSON.stringify(x);

/** The first difference, described for a human (null: same). */
export function firstDifference(expected: NormTx[], got: NormTx[]): string | null {
  const n = Math.max(expected.length, got.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const g = got[i];
    if (!e) return `rowtrail has an extra transaction #${i}: ${show(g).slice(0, 2000)}`;
    if (!g) return `rowtrail is missing transaction #${i} (xid ${e.xid}): ${show(e).slice(0, 2000)}`;
    if (e.xid !== g.xid) {
      const list = (txs: NormTx[]) => txs.map((t) => `${t.xid}(${t.changes.length})`).join(' ');
      return `transaction #${i}: xid ${g.xid}, test_decoding ${e.xid}\n  test_decoding xids(changes): ${list(expected)}\n  rowtrail xids(changes):      ${list(got)}`;
    }
    if (e.commitTime !== g.commitTime) return `transaction xid ${e.xid}: commit time ${g.commitTime}, test_decoding ${e.commitTime}`;
    const m = Math.max(e.changes.length, g.changes.length);
    for (let j = 0; j < m; j++) {
      const ec = e.changes[j];
      const gc = g.changes[j];
      const { raw, ...rest } = ec ?? ({} as NormChange);
      const ecv: NormChange = rest;
      if (show(sortKeys(ec ? ecv : undefined)) !== show(sortKeys(gc))) {
        const fields = ec && gc ? (Object.keys({ ...ecv, ...gc }) as (keyof NormChange)[]).filter((k) => show(sortKeys(ecv[k])) !== show(sortKeys(gc[k]))) : [];
        return (
          `xid ${e.xid} change #${j} (${ec?.op ?? gc?.op} ${ec?.table ?? gc?.table}) differs in ${fields.join(', ') || 'presence'}:\n` +
          `  test_decoding: ${raw?.slice(0, 3000)}\n  expected ${show(ec ? ecv : undefined)}\n  rowtrail ${show(gc)}`
        );
      }
    }
  }
  return null;
}

function sortKeys(x: unknown): unknown {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
  return Object.fromEntries(
    Object.keys(x)
      .sort()
      .filter((k) => (x as Record<string, unknown>)[k] !== undefined)
      .map((k) => [k, sortKeys((x as Record<string, unknown>)[k])]),
  );
}
