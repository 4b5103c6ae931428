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
}

export interface SourceStats {
  /** Row changes stored since start. */
  changes: number;
  transactions: number;
  /** Last durable (acknowledged) position. */
  position: string | null;
  /** Seconds between the newest stored commit and now. */
  lagSeconds: number | null;
}

export interface Source {
  readonly name: string;
  /** Connects and streams until `signal` aborts (resolves) or a failure (rejects with RowtrailError). */
  run(signal: AbortSignal): Promise<void>;
  stats(): SourceStats;
}
