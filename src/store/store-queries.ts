/**
 * The store's read queries (on the main-thread connection): change events by filter, per-actor summaries,
 * attribution counts. Pure SQL builders and row mappers; store.ts owns the connection.
 */
import type Database from 'better-sqlite3';
import type { ChangeEvent, Row, SystemKind } from '../model/index.js';
import { canonicalKey } from './keys.js';
import { sealIdOf } from './source-writer.js';

type Db = Database.Database;

export interface ChangeFilter {
  source?: string;
  /** `schema.table` or `table`. */
  table?: string;
  txIds?: string[];
  /** Actor name: matches user, agent or kind. */
  actor?: string;
  agentRun?: string;
  /** ISO time or Date; inclusive. */
  since?: Date;
  until?: Date;
  changeIds?: string[];
  /** Row key (column → text), with `table`; several: the forms one row's key may be stored under (Masker.keyForms). */
  key?: Row | Row[];
  op?: string;
  limit?: number;
  /** Newest first (default oldest first). */
  newestFirst?: boolean;
}

export interface ActorSummary {
  user: string | null;
  agent: string | null;
  kind: string;
  confidence: string;
  transactions: number;
  changes: number;
  first: string;
  last: string;
  tables: string[];
}

export interface StoredRow {
  tx_pk: number;
  idx: number;
  schema: string;
  tbl: string;
  op: string;
  key: string | null;
  before: string | null;
  after: string | null;
  changed: string | null;
  extra: string | null;
  /** The table shape's column types (not read where unused: a sink's rows). */
  types?: string | null;
  source: string;
  system: string;
  database: string;
  xid: string;
  position: string;
  commit_time: string;
  size: number;
  actor: string | null;
  /** The change's sealed raw cells (masking), where selected: its own blob, or the slice blob it points at. */
  sealed?: Uint8Array | null;
  /** idx of the change of the same transaction whose blob holds this change's cells (null: none). */
  sealed_at?: number | null;
  /** 0 where the transaction's changes are in the clear (stored before masking, or with masking off). */
  masked?: number;
}

/**
 * A stored change's sealed blob and what it is bound to, on the events that `changes()` returns. A symbol
 * key: JSON output, logs and every other view of the event never carry it; only undo and `--reveal` read it.
 */
export const SEALED = Symbol('rowtrail.sealed');

export interface Sealed {
  /** The blob with this change's cells (its own, or its transaction slice's); null: nothing of it is sealed. */
  blob: Uint8Array | null;
  /** The id the blob was sealed for (`source:xid:index` of the change holding it, see source-writer.ts sealIdOf). */
  sealId: string;
  /** The change's index in its transaction (its cells' key in a slice blob). */
  index: number;
  /** Whether the change was stored masked (false: its images are in the clear). */
  masked: boolean;
}

/** The sealed side of an event read by `changes()` (undefined for events from elsewhere). */
export function sealedOf(ev: ChangeEvent): Sealed | undefined {
  return (ev as ChangeEvent & { [SEALED]?: Sealed })[SEALED];
}

/** Whether a table of the store has a column (older stores lack the later schemas' columns). */
export function hasColumn(db: Db, table: string, column: string): boolean {
  return (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[]).some((c) => c.name === column);
}

const hasSealed = new WeakMap<Db, boolean>();

/** The columns `toEvent` reads, from changes c, transactions t and shapes s; with the sealed blob where asked. */
export function eventColumns(db: Db, sealed: boolean): string {
  const base = `c.tx_pk, c.idx, c.schema, c.tbl, c.op, c.key, c.before, c.after, c.changed, c.extra, s.types,
      t.source, t.system, t.database, t.xid, t.position, t.commit_time, t.size, t.actor`;
  if (!sealed) return base;
  let has = hasSealed.get(db);
  if (has === undefined) {
    // A store of schema 2 opened read-only (not migrated yet): every change is in the clear.
    has = hasColumn(db, 'changes', 'sealed');
    hasSealed.set(db, has);
  }
  return has ? `${base}, c.sealed, c.sealed_at, t.masked` : `${base}, NULL AS sealed, NULL AS sealed_at, 0 AS masked`;
}

/**
 * The WHERE parts (on `changes c JOIN transactions t`) that a change filter names. With `walk`, the table
 * and op terms are kept off their indexes (SQLite's unary `+`), so a newest-first page walks the commit_seq
 * index and stops at LIMIT instead of sorting every change of a busy table (the store has no ANALYZE
 * statistics to tell the planner which is cheaper).
 */
function changeWhere(f: ChangeFilter, walk = false): { where: string[]; args: unknown[] } {
  const p = walk ? '+' : '';
  const { where, args } = txWhere(f, p);
  if (f.table) {
    const dot = f.table.indexOf('.');
    if (dot > 0) {
      where.push(`${p}c.schema = ? AND ${p}c.tbl = ?`);
      args.push(f.table.slice(0, dot), f.table.slice(dot + 1));
    } else {
      where.push(`${p}c.tbl = ?`);
      args.push(f.table);
    }
  }
  if (f.key) {
    const forms = Array.isArray(f.key) ? f.key : [f.key];
    where.push(`c.key IN (${forms.map(() => '?').join(',')})`);
    args.push(...forms.map(canonicalKey));
  }
  if (f.txIds?.length) {
    // By xid or by commit position, each on its index: the positions table names every source that stored a
    // transaction, so (source, position) is an index lookup too. (An OR of the two columns scanned the store.)
    const marks = f.txIds.map(() => '?').join(',');
    where.push(
      `t.tx_pk IN (SELECT tx_pk FROM transactions WHERE xid IN (${marks}) UNION ALL
         SELECT tx_pk FROM transactions WHERE source IN (SELECT source FROM positions) AND position IN (${marks}) AND state = 'committed')`,
    );
    args.push(...f.txIds, ...f.txIds);
  }
  if (f.actor) {
    where.push('(t.actor_user = ? OR t.actor_agent = ? OR t.actor_kind = ?)');
    args.push(f.actor, f.actor, f.actor);
  }
  if (f.agentRun) {
    where.push('t.agent_run = ?');
    args.push(f.agentRun);
  }
  if (f.op) {
    where.push(`${p}c.op = ?`);
    args.push(f.op);
  }
  if (f.changeIds?.length) {
    const parts: string[] = [];
    for (const id of f.changeIds) {
      const p = parseChangeId(id);
      if (!p) continue;
      parts.push('(t.source = ? AND t.position = ? AND c.idx = ?)');
      args.push(p.source, p.position, p.index);
    }
    where.push(parts.length ? `(${parts.join(' OR ')})` : '0');
  }
  return { where, args };
}

/** Change events matching a filter, oldest first (or newest first). */
export function* queryChanges(db: Db, f: ChangeFilter = {}): IterableIterator<ChangeEvent> {
  const { where, args } = changeWhere(f);
  const dir = f.newestFirst ? 'DESC' : 'ASC';
  const sql = `SELECT ${eventColumns(db, true)}
    FROM changes c JOIN transactions t ON t.tx_pk = c.tx_pk LEFT JOIN shapes s ON s.shape_pk = c.shape_pk
    WHERE ${where.join(' AND ')}
    ORDER BY t.commit_seq ${dir}, c.idx ${dir}${f.limit ? ` LIMIT ${Math.max(0, Math.floor(f.limit))}` : ''}`;
  const holder = db.prepare(`SELECT sealed FROM changes WHERE tx_pk = ? AND idx = ?`).pluck();
  let last: { tx: number; at: number; blob: Uint8Array | null } | null = null;
  for (const r of db.prepare(sql).iterate(...args) as IterableIterator<StoredRow>) {
    if (r.sealed_at != null && r.sealed_at !== r.idx) {
      // A slice blob held by another change of the transaction (often the one just read): fetch it once.
      if (!last || last.tx !== r.tx_pk || last.at !== r.sealed_at) {
        last = { tx: r.tx_pk, at: r.sealed_at, blob: holder.get(r.tx_pk, r.sealed_at) as Uint8Array | null };
      }
      r.sealed = last.blob;
    }
    yield toEvent(r);
  }
}

/** A place in commit order: the transaction's commit_seq and the change's index in it. */
export interface ChangeCursor {
  seq: number;
  idx: number;
}

/** One page of changes, newest first, and the cursor of the next (older) page, or null at the end. */
export interface ChangePage {
  changes: ChangeEvent[];
  next: ChangeCursor | null;
}

/**
 * A page of changes, newest first, strictly older than `before` (the previous page's `next`). Keyset
 * pagination on (commit_seq, idx): a page is found by index and stays stable while new changes arrive
 * (they sort before the first page, never into a later one). Reads at most `limit + 1` rows past the
 * filter.
 */
export function pageChanges(db: Db, f: ChangeFilter, limit: number, before?: ChangeCursor): ChangePage {
  // Walk commit order unless an index finds the few rows directly: a row key, transactions, change ids, a rare table.
  const walk = !f.key && !f.txIds?.length && !f.changeIds?.length && !(f.table && rareTable(db, f.table));
  const { where, args } = changeWhere(f, walk);
  if (before) {
    // Written as a range on commit_seq (not an OR) so the index walk starts at the cursor.
    where.push('t.commit_seq <= ? AND (t.commit_seq < ? OR c.idx < ?)');
    args.push(before.seq, before.seq, before.idx);
  }
  if (f.since) {
    // Every transaction of the window has a commit_seq at least the smallest one in it: a range on the
    // commit_seq walk (found on the commit time index), so a window with few changes is not a full scan.
    where.push(`t.commit_seq >= coalesce((SELECT min(commit_seq) FROM transactions WHERE commit_us >= ?), 0)`);
    args.push(f.since.getTime() * 1000);
  }
  const n = Math.max(1, Math.floor(limit));
  const rows = db
    .prepare(
      // INDEXED BY: for a small LIMIT SQLite otherwise picks the committed-position index and sorts (585 ms
      // for a page of one on 1M changes, against 1 ms walking commit_seq).
      `SELECT ${eventColumns(db, false)}, t.commit_seq
         FROM changes c JOIN transactions t ${walk ? 'INDEXED BY transactions_seq ' : ''}ON t.tx_pk = c.tx_pk
         LEFT JOIN shapes s ON s.shape_pk = c.shape_pk
        WHERE ${where.join(' AND ')}
        ORDER BY t.commit_seq DESC, c.idx DESC LIMIT ${n + 1}`,
    )
    .all(...args) as (StoredRow & { commit_seq: number })[];
  const more = rows.length > n;
  if (more) rows.length = n;
  const last = rows[rows.length - 1];
  return { changes: rows.map(toEvent), next: more && last ? { seq: last.commit_seq, idx: last.idx } : null };
}

/** Below this many stored changes a table's page is read by its index and sorted; above, by walking commit order. */
const RARE_TABLE = 5000;

/** Whether a table has few stored changes (an index count that stops at RARE_TABLE). */
function rareTable(db: Db, table: string): boolean {
  const dot = table.indexOf('.');
  const [sql, args] =
    dot > 0
      ? [`SELECT count(*) AS n FROM (SELECT 1 FROM changes WHERE schema = ? AND tbl = ? LIMIT ${RARE_TABLE})`, [table.slice(0, dot), table.slice(dot + 1)]]
      : [`SELECT count(*) AS n FROM (SELECT 1 FROM changes WHERE tbl = ? LIMIT ${RARE_TABLE})`, [table]];
  return (db.prepare(sql).get(...args) as { n: number }).n < RARE_TABLE;
}

/** The commit_seq of the newest committed transaction (0 on an empty store). */
export function latestSeq(db: Db): number {
  // Only committed transactions get a commit_seq: max() alone is one index lookup.
  const r = db.prepare(`SELECT max(commit_seq) AS s FROM transactions`).get() as { s: number | null };
  return r.s ?? 0;
}

/** How transactions of a source were attributed since a time (ms since the epoch): counts per confidence. */
export function queryAttribution(db: Db, source: string, sinceMs: number): { attributed: number; exact: number; inferred: number; unknown: number } {
  const rows = db
    .prepare(
      `SELECT json_extract(actor, '$.confidence') AS c, count(*) AS n FROM transactions
        WHERE source = ? AND state = 'committed' AND commit_us >= ? GROUP BY 1`,
    )
    .all(source, sinceMs * 1000) as { c: string; n: number }[];
  const by = (k: string) => rows.find((r) => r.c === k)?.n ?? 0;
  const exact = by('exact');
  const inferred = by('inferred');
  return { attributed: exact + inferred, exact, inferred, unknown: rows.reduce((a, r) => a + r.n, 0) - exact - inferred };
}

/**
 * Who wrote what: per actor (user, agent, kind, confidence) the transactions, changes, first and last commit,
 * and the tables written, all within the same window and source. One pass over the window's transactions
 * (and their changes, by primary key), not a scan of the whole store per actor.
 */
export function queryActors(db: Db, f: { source?: string; since?: Date; until?: Date } = {}): ActorSummary[] {
  const { where, args } = txWhere(f);
  let has = hasTables.get(db);
  if (has === undefined) {
    has = hasColumn(db, 'transactions', 'tables'); // a store opened read-only before its migration has none
    hasTables.set(db, has);
  }
  // The tables a transaction wrote: its `tables` (char(31)-joined: a name may hold a comma), or, for one stored
  // before that column, read from its changes. The window's transactions alone answer, not their changes.
  const fromChanges = `(SELECT group_concat(name, char(31)) FROM (SELECT DISTINCT c.schema || '.' || c.tbl AS name FROM changes c WHERE c.tx_pk = t.tx_pk))`;
  const rows = db
    .prepare(
      `SELECT t.actor_user AS user, t.actor_agent AS agent, t.actor_kind AS kind, json_extract(t.actor, '$.confidence') AS confidence,
              ${has ? `coalesce(t.tables, ${fromChanges})` : fromChanges} AS tables,
              count(*) AS transactions, sum(t.size) AS changes, min(t.commit_time) AS first, max(t.commit_time) AS last
         FROM transactions t WHERE ${where.join(' AND ')}
        GROUP BY 1, 2, 3, 4, 5`,
    )
    .all(...args) as (Omit<ActorSummary, 'tables'> & { tables: string | null })[];
  // One row per actor and set of tables: merged per actor here (few sets per actor).
  const actors = new Map<string, ActorSummary & { set: Set<string> }>();
  for (const r of rows) {
    const id = JSON.stringify([r.user, r.agent, r.kind, r.confidence]);
    let a = actors.get(id);
    if (!a) actors.set(id, (a = { ...r, transactions: 0, changes: 0, tables: [], set: new Set() }));
    a.transactions += r.transactions;
    a.changes += r.changes;
    if (r.first < a.first) a.first = r.first;
    if (r.last > a.last) a.last = r.last;
    if (r.tables) for (const t of r.tables.split('\x1f')) a.set.add(t);
  }
  return [...actors.values()]
    .map(({ set, ...a }) => ({ ...a, tables: [...set].sort() }))
    .sort((x, y) => y.changes - x.changes);
}

const hasTables = new WeakMap<Db, boolean>();

/** WHERE parts on committed transactions: source and commit-time window (`p` '+': kept off their indexes). */
function txWhere(f: { source?: string; since?: Date; until?: Date }, p = ''): { where: string[]; args: unknown[] } {
  const where = [`t.state = 'committed'`];
  const args: unknown[] = [];
  if (f.source) {
    where.push(`${p}t.source = ?`);
    args.push(f.source);
  }
  if (f.since) {
    where.push(`${p}t.commit_us >= ?`);
    args.push(f.since.getTime() * 1000);
  }
  if (f.until) {
    where.push(`${p}t.commit_us <= ?`);
    args.push(f.until.getTime() * 1000);
  }
  return { where, args };
}

/** A transaction's actor from its stored JSON (null: unknown). */
export function storedActor(json: string | null): ChangeEvent['actor'] {
  return json ? JSON.parse(json) : { kind: 'unknown', confidence: 'unknown' };
}

export function toEvent(r: StoredRow): ChangeEvent {
  const before: Row | null = r.before ? JSON.parse(r.before) : null;
  const after: Row | null = r.after ? JSON.parse(r.after) : null;
  const ev: ChangeEvent = {
    id: `${r.source}:${r.position}:${r.idx}`,
    source: r.source,
    system: r.system as SystemKind,
    database: r.database,
    schema: r.schema,
    table: r.tbl,
    op: r.op as ChangeEvent['op'],
    key: r.key ? JSON.parse(r.key) : null,
    before,
    after,
    changed: r.changed !== null ? JSON.parse(r.changed) : Object.keys((r.op === 'delete' ? before : after) ?? {}),
    tx: { id: r.xid, position: r.position, commitTime: r.commit_time, index: r.idx, size: r.size },
    actor: storedActor(r.actor),
  };
  if (r.extra) Object.assign(ev, JSON.parse(r.extra));
  if (r.types) ev.types = JSON.parse(r.types);
  if (r.sealed !== undefined) {
    const sealed: Sealed = { blob: r.sealed, sealId: sealIdOf(r.source, r.xid, r.sealed_at ?? r.idx), index: r.idx, masked: r.masked === 1 };
    Object.defineProperty(ev, SEALED, { value: sealed, enumerable: false });
  }
  return ev;
}

/** `source:position:index` → parts (the position may itself contain ':' for MySQL file:pos). */
export function parseChangeId(id: string): { source: string; position: string; index: number } | null {
  const first = id.indexOf(':');
  const last = id.lastIndexOf(':');
  if (first <= 0 || last <= first) return null;
  const index = Number(id.slice(last + 1));
  if (!Number.isInteger(index) || index < 0) return null;
  return { source: id.slice(0, first), position: id.slice(first + 1, last), index };
}
