/**
 * What every source (postgres, mysql) is: a long-running part that owns its connection, decoder and
 * position, writes whole transactions through a SourceWriter, and acknowledges to the database only the
 * position the store's writer reported written (`SourceWriter.onWritten`: durable in the store).
 */
import type { Logger } from '../log/index.js';
import type { Store } from '../store/index.js';
import type { SourceConfig, Config } from '../config/index.js';
import type { IdentityResolver } from '../identity/resolver.js';

export interface SourceContext {
  config: SourceConfig;
  /** The whole config (actors rules, identity settings). */
  root: Config;
  store: Store;
  log: Logger;
  identity: IdentityResolver;
  /** Connection URL with the password applied. Never log it. */
  url: string;
  /** Told about transactions while they are in flight (PostgreSQL guards); absent: nothing watches. */
  inflight?: InFlightWatcher;
}

/** A transaction a source has seen changes of but not yet its end (what a guard watches). */
export interface InFlightTx {
  readonly source: string;
  readonly xid: string;
  /** Streamed to rowtrail before it committed (PostgreSQL protocol v2); false: seen only once committed. */
  readonly streamed: boolean;
  /** The precise-mode session messages received so far (the same array grows as more arrive). */
  readonly messages: readonly string[];
  /** It changed a table that carries the precise-identity trigger (so a session message is expected). */
  preciseExpected: boolean;
  /** The watcher's own per-transaction state. */
  watch?: unknown;
}

/**
 * What watches transactions in flight. Called on the source's thread for every row change, so `change` must
 * be cheap and never block; any I/O it starts is its own (capture never waits for it).
 */
export interface InFlightWatcher {
  change(tx: InFlightTx, op: 'insert' | 'update' | 'delete', schema: string, table: string): void;
  /** The transaction ended: committed, aborted (rolled back on the server), or dropped (the session closed; it is replayed). */
  end(tx: InFlightTx, outcome: 'committed' | 'aborted' | 'dropped'): void;
}

export interface SourceStats {
  /** Row changes stored since start. */
  changes: number;
  transactions: number;
  /** Last durable (acknowledged) position. */
  position: string | null;
  /** The same number as `SourceHealth.lagSeconds` (lag against the server; 0 on a caught-up idle database). */
  lagSeconds: number | null;
}

/**
 * What `/healthz`, `/metrics` and `doctor` say about a running source. Lag is measured against the server's
 * own current position (PostgreSQL `pg_current_wal_lsn()`, MySQL/MariaDB the binlog's end / executed GTID
 * set), never as "now minus the last commit", so a caught-up idle database reads 0.
 */
export interface SourceHealth {
  /** connecting: first connect in progress; streaming: connected and receiving; reconnecting: in backoff
   * after a retryable failure; stopped: ended on request; failed: ended on a fatal error. */
  state: 'connecting' | 'streaming' | 'reconnecting' | 'stopped' | 'failed';
  /** ISO time the current connection started streaming, null when not connected. */
  connectedSince: string | null;
  /** ISO time of the last message received from the server (data or keepalive/heartbeat). */
  lastMessageAt: string | null;
  /** Reconnects since start. */
  reconnects: number;
  /** Bytes of log between the server's current position and the durable (acknowledged) position; null if unknown. */
  lagBytes: number | null;
  /** Seconds since the oldest server change not yet durable in the store was committed; 0 when caught up; null if unknown. */
  lagSeconds: number | null;
  /** PostgreSQL: bytes of WAL the server keeps for this source's slot (its position minus the slot's
   * restart_lsn), which grow while rowtrail is behind or down. Null for MySQL/MariaDB, whose servers keep
   * binlogs by their own expiry, not for a reader; null until first read. */
  retainedBytes: number | null;
  /** One-line reason of the last failure (retryable or fatal), null if none. Never contains secrets. */
  lastError: string | null;
}

export interface Source {
  readonly name: string;
  /** Connects and streams until `signal` aborts (resolves) or a failure (rejects with RowtrailError).
   * Aborting must end the run promptly in every phase, connecting included. */
  run(signal: AbortSignal): Promise<void>;
  stats(): SourceStats;
  /** Health as `SourceHealth` says (for /healthz, /metrics and doctor). Cheap: no I/O, callable any time. */
  health(): SourceHealth;
}
