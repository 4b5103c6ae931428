/**
 * The daemon (`rowtrail watch`): opens the store, runs every configured source under a supervisor, and
 * stops cleanly on SIGINT/SIGTERM. A source that fails fatally stops the daemon with its one-line reason.
 */
import type { Config } from './config/index.js';
import { sourceUrl } from './config/index.js';
import type { Logger } from './log/index.js';
import { Store } from './store/index.js';
import { sourceKind, type Source } from './sources/index.js';
import { unknownResolver } from './identity/resolver.js';

export interface Daemon {
  sources: Source[];
  store: Store;
  /** Resolves when every source stopped (after stop()); rejects with the first fatal error. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export function startDaemon(cfg: Config, log: Logger): Daemon {
  const store = Store.open(cfg.store.path);
  const ac = new AbortController();
  const sources: Source[] = cfg.sources.map((s) =>
    sourceKind(s).create({ config: s, root: cfg, store, log, identity: unknownResolver, url: sourceUrl(s) }),
  );
  const runs = sources.map((src) =>
    src.run(ac.signal).catch((e) => {
      ac.abort();
      throw e;
    }),
  );
  const done = Promise.all(runs).then(
    () => store.close(),
    (e) => {
      store.close();
      throw e;
    },
  );
  return {
    sources,
    store,
    done,
    async stop() {
      ac.abort();
      await done.catch(() => undefined);
    },
  };
}
