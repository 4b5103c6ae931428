/**
 * The data contract every part of rowtrail speaks (see DESIGN.md, "Data model").
 *
 * Values are always the database's own text form (PostgreSQL text output, MySQL canonical text);
 * SQL NULL is `null`. Never a JS number or Date: precision must survive end to end because undo SQL is
 * rendered from these strings.
 */

/** One column value in text form; `null` is SQL NULL. */
export type Value = string | null;

/** A row image: column name → text value. Columns whose value is not known are absent (see `missing`). */
export type Row = Record<string, Value>;

export type Op = 'insert' | 'update' | 'delete' | 'truncate' | 'ddl';

export type SystemKind = 'postgresql' | 'mysql' | 'mariadb';

export type ActorKind = 'human' | 'service' | 'ai-agent' | 'unknown';

export type Confidence = 'exact' | 'inferred' | 'unknown';

/** Who made a transaction, and how sure rowtrail is. */
export interface Actor {
  /** Session user (PostgreSQL session_user / MySQL user). */
  user?: string | null;
  /** current_user where it differs from the session user (SET ROLE, SECURITY DEFINER). */
  currentUser?: string | null;
  application?: string | null;
  clientAddr?: string | null;
  /** Backend pid (PostgreSQL) or thread id (MySQL), as text. */
  sessionId?: string | null;
  /** Session start time, ISO-8601. */
  sessionStart?: string | null;
  /** Agent name from agent context (sqlcommenter comment, SET LOCAL rowtrail.actor). */
  agent?: string | null;
  kind: ActorKind;
  /** Agent context key/values (run, on_behalf_of, …); `verified` is set where a signing key is configured. */
  context?: Record<string, string | boolean> | null;
  confidence: Confidence;
  /** How the actor was found: `precise-message`, `activity-xid`, `processlist-thread`, `heuristic:…`, `none`. */
  method?: string;
}

export const UNKNOWN_ACTOR: Actor = Object.freeze({ kind: 'unknown', confidence: 'unknown', method: 'none' }) as Actor;

/** Transaction facts carried on every event. */
export interface TxInfo {
  /** Database transaction id (PostgreSQL xid, MySQL GTID or `file:pos` of BEGIN when GTIDs are off). */
  id: string;
  /** Commit position: PostgreSQL commit LSN (`0/16B6C50`), MySQL GTID or `file:pos` of the commit. */
  position: string;
  /** Commit time, ISO-8601 UTC with the precision the source gives (µs for PostgreSQL). */
  commitTime: string;
  /** 0-based index of this change in its transaction. */
  index: number;
  /** Number of row changes in the transaction. */
  size: number;
}

/** A change as a source produces it, before the transaction is known to commit. */
export interface RowChange {
  schema: string;
  table: string;
  op: Op;
  /** Primary key (or replica identity) columns of the row; null where the table has none. */
  key: Row | null;
  before: Row | null;
  after: Row | null;
  /** Columns whose value differs between before and after (updates); all columns for insert/delete. */
  changed: string[];
  /** Which images are not complete: `["before"]` where the database did not log a full before image. */
  incomplete?: ('before' | 'after')[];
  /** The columns missing from each incomplete image. */
  missing?: { before?: string[]; after?: string[] };
  /** TRUNCATE flags. */
  truncate?: { cascade: boolean; restartIdentity: boolean };
  /** DDL statement text for `op: ddl`, and for schema changes seen in the stream. */
  ddl?: string;
  /** Column types (name → database type name) of the table at the time of the change. */
  types?: Record<string, string>;
}

/** What `rowtrail changes --json` prints, one object per line: a RowChange with its place and its actor. */
export interface ChangeEvent extends RowChange {
  /** `source:position:index`: stable across replays, the idempotence key of every write downstream. */
  id: string;
  source: string;
  system: SystemKind;
  database: string;
  tx: TxInfo;
  actor: Actor;
}

export type Severity = 'info' | 'warning' | 'critical';

/** What `rowtrail alerts --json` prints. */
export interface Alert {
  id: string;
  detector: string;
  severity: Severity;
  title: string;
  summary: string;
  source: string;
  table: string | null;
  actor: Actor | null;
  window: { from: string; to: string };
  evidence: { observed: number; expected?: number; score?: number; [k: string]: unknown };
  txIds: string[];
  state: 'open' | 'resolved';
  /** The exact `rowtrail undo …` command that reverts the activity. */
  undo: string | null;
}

/** Columns (in order) that differ between two images; `null` and absent are distinct from any string. */
export function changedColumns(before: Row | null, after: Row | null): string[] {
  if (!before) return after ? Object.keys(after) : [];
  if (!after) return Object.keys(before);
  const out: string[] = [];
  for (const col of Object.keys(after)) {
    if (!(col in before) || before[col] !== after[col]) out.push(col);
  }
  for (const col of Object.keys(before)) if (!(col in after)) out.push(col);
  return out;
}

/**
 * The clock of identity's statement coverage (a source's commit receipt against the sampler's reads):
 * monotonic within a thread, comparable across threads (ms).
 */
export const coverageClock = (): number => performance.timeOrigin + performance.now();

export * from './precise.js';
