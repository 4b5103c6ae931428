/**
 * The daemon (`rowtrail watch`): opens the store (taking its write lock), runs every configured source under
 * a supervisor, and stops cleanly on SIGINT/SIGTERM. A source that fails fatally stops the daemon with its
 * one-line reason. `createDaemon` only opens and builds (nothing connects), so the caller can bind its HTTP
 * port first and fail before any source connects; `start()` then runs the sources and samplers.
 */
import type { Config } from './config/index.js';
import { sourceUrl } from './config/index.js';
import type { Logger } from './log/index.js';
import { Store, parseDuration } from './store/index.js';
import { sourceKind, type Source } from './sources/index.js';
import type { SourceHealth } from './sources/source.js';
import { createIdentity, type Identity } from './identity/index.js';
import { DetectionRunner } from './detection/index.js';
import { ElasticsearchSink, createEsClient, esNodes } from './sinks/elasticsearch/index.js';

export interface Daemon {
  sources: Source[];
  identities: Identity[];
  store: Store;
  /** The detectors, fed from the store after each transaction is durable. */
  detection: DetectionRunner;
  /** The Elasticsearch sink, fed from the store (null without `elasticsearch:` in the config). */
  sink: ElasticsearchSink | null;
  /** Runs the sources and samplers; once. */
  start(): void;
  /** Resolves when every source stopped and the store closed (after stop()); rejects with the first fatal error. */
  done: Promise<void>;
  /** Stops everything and waits for `done` (never rejects). Before start(), just closes the store. */
  stop(): Promise<void>;
  /** Each source's health, null where the source cannot say. */
  health(): { name: string; kind: string; health: SourceHealth | null }[];
}

/** Opens the store and builds sources and identities; nothing connects until start(). */
export function createDaemon(cfg: Config, log: Logger): Daemon {
  // Parts of the config contract that this version does not act on yet: say so rather than ignore them.
  const notYet = [
    Object.keys(cfg.alerts).length > 0 && 'alerts',
    Object.keys(cfg.masking.columns).length > 0 && 'masking',
  ].filter(Boolean);
  if (notYet.length) log.warn({ keys: notYet }, 'these config sections are not implemented in this version and have no effect yet');
  const store = Store.open(cfg.store.path, { owner: 'rowtrail watch' });
  const ac = new AbortController();
  let identities: Identity[];
  let sources: Source[];
  let detection: DetectionRunner;
  let detecting: Promise<void> = Promise.resolve();
  let sink: ElasticsearchSink | null = null;
  let sinking: Promise<void> = Promise.resolve();
  const es = cfg.elasticsearch;
  let esClient: ReturnType<typeof createEsClient> | null = null;
  try {
    detection = new DetectionRunner(store, cfg, log);
    // Builds the client only (reads caFile): nothing connects until start().
    if (es) sink = new ElasticsearchSink(store, (esClient = createEsClient(es)), es, log);
    identities = cfg.sources.map((s) => createIdentity(cfg, s, { url: sourceUrl(s), log, kind: s.kind }));
    sources = cfg.sources.map((s, i) =>
      sourceKind(s).create({ config: s, root: cfg, store, log, identity: identities[i].resolver, url: sourceUrl(s) }),
    );
  } catch (e) {
    store.close();
    void esClient?.close().catch(() => undefined);
    throw e;
  }
  let settle!: { resolve: () => void; reject: (e: unknown) => void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => undefined); // the caller awaits it; an unobserved rejection must not crash the process
  let started = false;
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all(identities.map((id) => id.stop().catch(() => undefined)));
    await detecting;
    await sinking;
    await esClient?.close().catch(() => undefined);
    store.close();
  };

  const start = () => {
    if (started || ac.signal.aborted) return;
    started = true;
    if (cfg.store.retention) keepPruning(store, cfg.store.retention, log, ac.signal);
    // Samplers run beside the sources; they never stop capture (start() does not reject).
    for (const id of identities) void id.start(ac.signal);
    // Detection reads what is durable and never stops capture (run() does not reject).
    detecting = detection.run(ac.signal);
    // The sink reads what is durable and never stops capture (run() does not reject); the store is its buffer.
    if (sink && es) {
      log.info({ nodes: esNodes(es).map(redactUrl), namespace: es.namespace }, 'elasticsearch sink: sending changes and alerts');
      sinking = sink.run(ac.signal);
    }
    const runs = sources.map((src) =>
      src.run(ac.signal).catch((e) => {
        ac.abort();
        throw e;
      }),
    );
    // Wait for every source to finish (they drain their in-flight writes on abort) before closing the
    // store; then report the first failure.
    void Promise.allSettled(runs).then(async (results) => {
      await close();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) settle.reject(failed.reason);
      else settle.resolve();
    });
  };

  return {
    sources,
    identities,
    store,
    detection,
    sink,
    start,
    done,
    async stop() {
      ac.abort();
      if (!started) {
        await close();
        settle.resolve();
      }
      await done.catch(() => undefined);
    },
    health: () =>
      sources.map((s, i) => ({ name: s.name, kind: cfg.sources[i].kind, health: typeof s.health === 'function' ? s.health() : null })),
  };
}

/** Opens the store, builds and starts everything: createDaemon + start(). */
export function startDaemon(cfg: Config, log: Logger): Daemon {
  const d = createDaemon(cfg, log);
  d.start();
  return d;
}

/** Retention: prune at start and every hour until the signal aborts. */
function keepPruning(store: Store, retention: string, log: Logger, signal: AbortSignal): void {
  const keepMs = parseDuration(retention);
  const prune = () => {
    try {
      const n = store.prune(Date.now() - keepMs);
      if (n) log.info({ transactions: n, retention }, 'retention: removed old transactions');
    } catch (e) {
      log.warn({ err: e }, 'retention: prune failed; will retry');
    }
  };
  prune();
  const timer = setInterval(prune, 3_600_000);
  timer.unref();
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

/** A URL without its user and password (for logs). */
function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return '(not a URL)';
  }
}
