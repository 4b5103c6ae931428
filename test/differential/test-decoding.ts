/**
 * Pure: parses the text output of PostgreSQL's `test_decoding` plugin (pg_logical_slot_get_changes with
 * include-xids, include-timestamp, skip-empty-xacts) into transactions of row changes. It is the server's
 * own decoder of the same WAL that rowtrail reads through pgoutput, so it is the reference of the
 * differential tests.
 *
 * Format (contrib/test_decoding/test_decoding.c, PostgreSQL 14–18):
 *   BEGIN 725
 *   table public.t: INSERT: id[integer]:1 name[text]:'a''b'
 *   table public.t: UPDATE: old-key: id[integer]:1 … new-tuple: id[integer]:1 …   (old-key only when logged)
 *   table public.t: DELETE: id[integer]:1            (or `(no-tuple-data)`)
 *   table public.a, public.b: TRUNCATE: restart_seqs cascade   (or `(no-flags)`)
 *   message: transactional: 1 prefix: p, sz: 5 content:hello
 *   COMMIT 725 (at 2026-11-29 19:36:50.012936+00)
 * Values (print_literal): int2/4/8, oid, float4/8 and numeric unquoted; bool as `true`/`false`; bit and varbit
 * as `B'…'`; every other type (domains over numbers too) as a quoted literal with only `'` doubled;
 * `null`; `unchanged-toast-datum` for a TOAST value the update did not change.
 */

/** A column value: text, SQL NULL, or an unchanged TOAST value that was not logged. */
export type TdValue = string | null | { unchangedToast: true };

export interface TdColumn {
  name: string;
  type: string;
  value: TdValue;
}

export interface TdChange {
  /** `schema.table`, identifiers unquoted. */
  table: string;
  op: 'insert' | 'update' | 'delete' | 'truncate';
  /** The old tuple where logged: the identity columns (REPLICA IDENTITY DEFAULT, key changed) or all (FULL). */
  old: TdColumn[] | null;
  new: TdColumn[] | null;
  truncate?: { cascade: boolean; restartIdentity: boolean };
  /** The record as test_decoding printed it (for failure reports). */
  raw: string;
}

export interface TdTx {
  xid: string;
  /** Commit time as printed (`2026-11-29 19:36:50.012936+00`). */
  commitTime: string;
  changes: TdChange[];
}

export const UNCHANGED_TOAST = Object.freeze({ unchangedToast: true as const });

/** Parses one identifier (quoted or not) at `s[i]`; an unquoted one ends before any of `stops`. */
function ident(s: string, i: number, stops: string): [string, number] {
  if (s[i] !== '"') {
    let j = i;
    while (j < s.length && !stops.includes(s[j])) j++;
    return [s.slice(i, j), j];
  }
  let out = '';
  let j = i + 1;
  for (;;) {
    if (j >= s.length) throw new Error(`test_decoding: unterminated identifier in ${s.slice(i, i + 40)}`);
    if (s[j] === '"') {
      if (s[j + 1] === '"') {
        out += '"';
        j += 2;
        continue;
      }
      return [out, j + 1];
    }
    out += s[j++];
  }
}

/** Parses a quoted literal starting at the opening quote; returns its text and the index after it. */
function quoted(s: string, i: number): [string, number] {
  let out = '';
  let j = i + 1;
  for (;;) {
    const q = s.indexOf("'", j);
    if (q < 0) throw new Error(`test_decoding: unterminated literal at ${s.slice(i, i + 40)}`);
    out += s.slice(j, q);
    if (s[q + 1] === "'") {
      out += "'";
      j = q + 2;
      continue;
    }
    return [out, q + 1];
  }
}

/** Parses `name[type]:value name[type]:value …` until the end or one of the stop words. */
function columns(s: string, i: number, stopWords: string[] = []): [TdColumn[], number] {
  const cols: TdColumn[] = [];
  while (i < s.length) {
    while (s[i] === ' ') i++;
    if (i >= s.length || stopWords.some((w) => s.startsWith(w, i))) break;
    const [name, afterName] = ident(s, i, '[');
    if (s[afterName] !== '[') throw new Error(`test_decoding: expected '[' after ${name}`);
    // The type is format_type() output: it may contain ']' itself (integer[]), never ']:'.
    const close = s.indexOf(']:', afterName);
    const type = s.slice(afterName + 1, close);
    let j = close + 2;
    let value: TdValue;
    if (s[j] === "'") [value, j] = quoted(s, j);
    else if (s.startsWith("B'", j)) [value, j] = quoted(s, j + 1);
    else {
      let end = s.indexOf(' ', j);
      if (end < 0) end = s.length;
      const word = s.slice(j, end);
      j = end;
      if (word === 'null') value = null;
      else if (word === 'unchanged-toast-datum') value = UNCHANGED_TOAST;
      else if (type === 'boolean') value = word === 'true' ? 't' : 'f'; // why: print_literal spells out 't'/'f'
      else value = word;
    }
    cols.push({ name, type, value });
    i = j;
  }
  return [cols, i];
}

/** Splits `public.a, public.b` (identifiers possibly quoted) into `schema.table` names, unquoted. */
function tableList(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const [schema, j] = ident(s, i, '.');
    const [table, k] = ident(s, j + 1, ',');
    out.push(`${schema}.${table}`);
    i = k + 2; // ', '
  }
  return out;
}

/** Parses the `data` column of pg_logical_slot_get_changes, one record per element. */
export function parseTestDecoding(records: string[]): TdTx[] {
  const txs: TdTx[] = [];
  let cur: TdTx | null = null;
  for (const rec of records) {
    if (rec.startsWith('BEGIN ')) {
      cur = { xid: rec.slice(6).trim(), commitTime: '', changes: [] };
      continue;
    }
    const commit = /^COMMIT (\d+) \(at (.+)\)$/.exec(rec);
    if (commit) {
      if (!cur || cur.xid !== commit[1]) throw new Error(`test_decoding: COMMIT ${commit[1]} without its BEGIN`);
      cur.commitTime = commit[2];
      txs.push(cur);
      cur = null;
      continue;
    }
    if (rec.startsWith('message: ')) continue; // logical messages (precise identity): not row changes
    if (!cur) throw new Error(`test_decoding: record outside a transaction: ${rec.slice(0, 80)}`);
    const m = /^table (.+?): (INSERT|UPDATE|DELETE|TRUNCATE):/.exec(rec);
    if (!m) throw new Error(`test_decoding: unknown record ${rec.slice(0, 80)}`);
    const rest = m[0].length;
    if (m[2] === 'TRUNCATE') {
      const flags = rec.slice(rest);
      for (const t of tableList(m[1])) {
        cur.changes.push({ raw: rec, table: t, op: 'truncate', old: null, new: null, truncate: { cascade: flags.includes('cascade'), restartIdentity: flags.includes('restart_seqs') } });
      }
      continue;
    }
    const table = tableList(m[1])[0];
    if (m[2] === 'INSERT') cur.changes.push({ raw: rec, table, op: 'insert', old: null, new: columns(rec, rest)[0] });
    else if (m[2] === 'DELETE') {
      const noData = rec.slice(rest).trim() === '(no-tuple-data)';
      cur.changes.push({ raw: rec, table, op: 'delete', old: noData ? null : columns(rec, rest)[0], new: null });
    } else {
      let i = rest + 1;
      let old: TdColumn[] | null = null;
      if (rec.startsWith('old-key: ', i)) {
        [old, i] = columns(rec, i + 'old-key: '.length, ['new-tuple: ']);
        i += 'new-tuple: '.length;
      }
      cur.changes.push({ raw: rec, table, op: 'update', old, new: columns(rec, i)[0] });
    }
  }
  if (cur) throw new Error(`test_decoding: transaction ${cur.xid} has no COMMIT`);
  return txs;
}
