/**
 * The detectors' contract. A detector is a pure streaming unit: state + a committed transaction in, findings
 * out, no I/O. The engine (detectors/engine.ts) feeds it `TxSummary`s built from stored ChangeEvents, keeps
 * its state serializable (baselines persist in the store and survive restarts), and turns findings into
 * deduplicated Alerts.
 */
import type { Actor, Op, Severity } from '../src/model/index.js';

export type RowOp = Exclude<Op, 'ddl'>;

/** What one transaction did to one table. */
export interface TableActivity {
  /** `schema.table` (PostgreSQL) or `db.table` (MySQL). */
  table: string;
  /** Rows per op; `truncate` counts TRUNCATE statements, `ddl` schema changes. */
  ops: Record<Op, number>;
  /** Column → rows in which it changed (updates) or was written (inserts). */
  columns: Record<string, number>;
  /** Column → rows in which an update set it from a value to NULL. */
  nulled: Record<string, number>;
  /** Column → the largest number of updated rows that got one same new value. */
  sameValue: Record<string, number>;
}

/** A committed transaction as the detectors see it. */
export interface TxSummary {
  source: string;
  txId: string;
  position: string;
  /** Commit time, ms since the epoch (UTC). */
  commitMs: number;
  commitTime: string;
  actor: Actor;
  /** Stable name of the actor for baselines: agent, else user, else `unknown`. */
  actorName: string;
  tables: TableActivity[];
  /** Row changes in the transaction. */
  rows: number;
  /** DDL statements (op ddl) in the transaction. */
  ddl: string[];
}

/** Facts the detectors may ask for (answered by the engine from the store or the catalog, cached). */
export interface DetectorContext {
  /** Estimated rows in the table before this transaction; null where unknown. */
  tableRows(source: string, table: string): number | null;
}

/** What a detector reports. The engine dedups by (detector, key): one open alert per key, updated while it lasts. */
export interface Finding {
  detector: string;
  /** Dedup key within the detector, e.g. `app|deploy-bot|public.users|delete`. */
  key: string;
  severity: Severity;
  title: string;
  summary: string;
  source: string;
  table: string | null;
  actor: Actor | null;
  /** Commit time (ms) of the activity this finding is about. */
  at: number;
  txIds: string[];
  evidence: { observed: number; expected?: number; score?: number; [k: string]: unknown };
}

/** A resolution: the activity behind an open alert with this key returned to normal. */
export interface Resolution {
  detector: string;
  key: string;
  at: number;
}

/** One detector: a factory of streaming units with its documented defaults. */
export interface DetectorSpec<O extends object = Record<string, unknown>> {
  name: string;
  description: string;
  /** Defaults, documented in detectors/README.md. `enabled` and `severity` are common to all. */
  defaults: O & { enabled: boolean; severity: Severity };
  create(opts: O & { enabled: boolean; severity: Severity }): DetectorUnit;
}

/**
 * What the daemon measured about one source's capture at one moment (src/detection/capture-status.ts): not a
 * transaction but a periodic sample, fed to the detectors that implement `sample` (capture-health). Null
 * where not known (not measured yet, not readable, or not applicable to the database).
 */
export interface HealthSample {
  source: string;
  kind: 'postgres' | 'mysql';
  /** When it was taken, ms since the epoch. */
  at: number;
  /** Seconds since the oldest change not yet durable in the store was committed (0 when caught up). */
  lagSeconds: number | null;
  /** Bytes of log between the server's current position and the durable position. */
  lagBytes: number | null;
  /** PostgreSQL: WAL the slot holds back, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn). */
  retainedBytes: number | null;
  /** PostgreSQL: WAL the server may still write before it drops what the slot needs (safe_wal_size; null: no limit). */
  safeBytes: number | null;
  /** PostgreSQL: the slot's wal_status (`reserved`, `extended`, `unreserved`, `lost`). */
  walStatus: string | null;
  /** MySQL / MariaDB: seconds binlogs are kept (binlog_expire_logs_seconds / expire_logs_days); 0: until purged by hand. */
  retentionSeconds: number | null;
  /** Watched tables whose updates and deletes are logged without a full before image (undo cannot revert them). */
  irreversible: { table: string; reason: string }[] | null;
}

export interface DetectorUnit {
  observe(tx: TxSummary, ctx: DetectorContext): Finding[];
  /** A periodic measurement of a source's capture (only capture-health uses it). */
  sample?(s: HealthSample): { findings?: Finding[]; resolutions?: Resolution[] };
  /**
   * Called as time passes (with the newest commit time seen, or the wall clock): resolutions of keys whose
   * activity returned to normal, and findings that only the absence of activity shows (a service gone silent).
   */
  tick?(nowMs: number): { findings?: Finding[]; resolutions?: Resolution[] };
  /** What the detector has learned, one row per key (for `rowtrail baseline show`). */
  describe?(nowMs: number): BaselineRow[];
  /** Serializable state (baselines); undefined for stateless detectors. */
  snapshot?(): unknown;
  /** Restores a snapshot; a corrupt one is ignored (the detector relearns) and reported by returning false. */
  restore?(state: unknown): boolean;
}

/** One learned key, as `rowtrail baseline show` prints it. */
export interface BaselineRow {
  detector: string;
  source: string;
  actor: string;
  table: string | null;
  op: string | null;
  /** Hours (volume-spike) or days (off-hours) of history behind it. */
  history: string;
  /** What is normal now, in words (`~12 rows/h, usually ≤ 30`). */
  normal: string;
  /** Whether the key can alert yet (learning period over). */
  learned: boolean;
}
