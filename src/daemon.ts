/**
 * The daemon (`rowtrail watch`): opens the store, runs every configured source under a supervisor, and
 * stops cleanly on SIGINT/SIGTERM. A source that fails fatally stops the daemon with its one-line reason.
 */
import type { Config } from './config/index.js';
import { sourceUrl } from './config/index.js';
import type { Logger } from './log/index.js';
import { Store, parseDuration } from './store/index.js';
import { sourceKind, type Source } from './sources/index.js';
import { createIdentity, type Identity } from './identity/index.js';

export interface Daemon {
  sources: Source[];
  identities: Identity[];
  store: Store;
  /** Resolves when every source stopped (after stop()); rejects with the first fatal error. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export function startDaemon(cfg: Config, log: Logger): Daemon {
  // Parts of the config contract that this version does not act on yet: say so rather than ignore them.
  const notYet = [
    cfg.elasticsearch && 'elasticsearch (events stay in the embedded store)',
    Object.keys(cfg.alerts).length > 0 && 'alerts',
    Object.keys(cfg.masking.columns).length > 0 && 'masking',
    Object.keys(cfg.detectors).length > 0 && 'detectors',
  ].filter(Boolean);
  if (notYet.length) log.warn({ keys: notYet }, 'these config sections are not implemented in this version and have no effect yet');
  const store = Store.open(cfg.store.path, { owner: 'rowtrail watch' });
  const ac = new AbortController();
  const identities: Identity[] = cfg.sources.map((s) => createIdentity(cfg, s, { url: sourceUrl(s), log, kind: s.kind }));
  const sources: Source[] = cfg.sources.map((s, i) =>
    sourceKind(s).create({ config: s, root: cfg, store, log, identity: identities[i].resolver, url: sourceUrl(s) }),
  );
  // Retention: prune at start and every hour.
  if (cfg.store.retention) {
    const keepMs = parseDuration(cfg.store.retention);
    const prune = () => {
      try {
        const n = store.prune(Date.now() - keepMs);
        if (n) log.info({ transactions: n, retention: cfg.store.retention }, 'retention: removed old transactions');
      } catch (e) {
        log.warn({ err: e }, 'retention: prune failed; will retry');
      }
    };
    prune();
    const timer = setInterval(prune, 3_600_000);
    timer.unref();
    ac.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }
  // Samplers run beside the sources; they never stop capture (start() does not reject).
  for (const id of identities) void id.start(ac.signal);
  const runs = sources.map((src) =>
    src.run(ac.signal).catch((e) => {
      ac.abort();
      throw e;
    }),
  );
  const close = async () => {
    await Promise.all(identities.map((id) => id.stop().catch(() => undefined)));
    store.close();
  };
  // Wait for every source to finish (they drain their in-flight writes on abort) before closing the store;
  // then report the first failure.
  const done = Promise.allSettled(runs).then(async (results) => {
    await close();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
  return {
    sources,
    identities,
    store,
    done,
    async stop() {
      ac.abort();
      await done.catch(() => undefined);
    },
  };
}
