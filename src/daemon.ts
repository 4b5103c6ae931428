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
import { CaptureStatus, DetectionRunner } from './detection/index.js';
import { openMasking } from './store/index.js';
import { createDelivery, type Delivery } from './alerts/index.js';
import { dirname } from 'node:path';
import { ElasticsearchSink, createEsClient, esNodes } from './sinks/elasticsearch/index.js';
import { createGuards, type GuardRunner } from './guard/index.js';

export interface Daemon {
  sources: Source[];
  identities: Identity[];
  store: Store;
  /** The detectors, fed from the store after each transaction is durable. */
  detection: DetectionRunner;
  /** Alert delivery (the outbox worker), null when no channel is configured. */
  delivery: Delivery | null;
  /** The Elasticsearch sink, fed from the store (null without `elasticsearch:` in the config). */
  sink: ElasticsearchSink | null;
  /** Runs the sources and samplers; once. */
  start(): void;
  /** Resolves when every source stopped and the store closed (after stop()); rejects with the first fatal error. */
  done: Promise<void>;
  /** Stops everything and waits for `done` (never rejects). Before start(), just closes the store. */
  stop(): Promise<void>;
  /** Alert delivery per channel: counters since start, and the outbox's queued notifications. */
  alertMetrics(): { channel: string; kind: string; sent: number; failed: number; retried: number; queued: number }[];
  /** Each source's health, null where the source cannot say. */
  health(): { name: string; kind: string; health: SourceHealth | null }[];
}

/** Opens the store and builds sources and identities; nothing connects until start(). */
export function createDaemon(cfg: Config, log: Logger): Daemon {
  const store = Store.open(cfg.store.path, { owner: 'rowtrail watch' });
  const ac = new AbortController();
  let identities: Identity[];
  let sources: Source[];
  let detection: DetectionRunner;
  let guards: (GuardRunner | null)[];
  let detecting: Promise<void> = Promise.resolve();
  let delivery: Delivery | null;
  let delivering: Promise<void> = Promise.resolve();
  let sink: ElasticsearchSink | null = null;
  let sinking: Promise<void> = Promise.resolve();
  const es = cfg.elasticsearch;
  let esClient: ReturnType<typeof createEsClient> | null = null;
  try {
    // Channels are resolved first: a malformed URL or a missing secret stops the daemon with one line (before
    // masking may generate a key file for a new store).
    const file = (cfg as { file?: string }).file;
    delivery = createDelivery(cfg, store, log, { baseDir: file ? dirname(file) : undefined });
    // Builds the Elasticsearch client only (reads caFile): nothing connects until start().
    if (es) sink = new ElasticsearchSink(store, (esClient = createEsClient(es)), es, log);
    startMasking(store, cfg, log);
    // capture-health samples each source's lag (live) and retention / replica identity (read every few minutes).
    const status = new CaptureStatus(cfg, log, () => sourceHealth());
    detection = new DetectionRunner(store, cfg, log, { route: delivery?.route, onSaved: () => delivery?.worker.wake(), health: status });
    identities = cfg.sources.map((s) => createIdentity(cfg, s, { url: sourceUrl(s), log, kind: s.kind }));
    guards = createGuards(cfg, { store, log, resolvers: identities.map((id) => id.resolver), url: (s) => sourceUrl(s) });
    sources = cfg.sources.map((s, i) =>
      sourceKind(s).create({ config: s, root: cfg, store, log, identity: identities[i].resolver, url: sourceUrl(s), inflight: guards[i] ?? undefined }),
    );
  } catch (e) {
    store.close();
    void esClient?.close().catch(() => undefined);
    throw e;
  }
  function sourceHealth() {
    return sources.map((s, i) => ({ name: s.name, kind: cfg.sources[i].kind, health: typeof s.health === 'function' ? s.health() : null }));
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
    await delivering;
    await sinking;
    await esClient?.close().catch(() => undefined);
    await Promise.all(guards.map((g) => g?.stop()));
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
    // Delivery sends the outbox with async HTTP on this event loop and never stops capture (run() does not reject).
    if (delivery) {
      delivering = delivery.worker.run(ac.signal);
      log.info({ channels: delivery.settings.channels.map((c) => `${c.name} (${c.kind})`) }, 'alerts: delivering');
    }
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
    delivery,
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
    alertMetrics: () => {
      if (!delivery || closed) return [];
      const queued = new Map(store.outbox.counts().map((c) => [c.channel, c.queued]));
      return delivery.worker.stats().map((s) => ({ ...s, queued: queued.get(s.channel) ?? 0 }));
    },
    health: sourceHealth,
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

/**
 * Masking on (the default): every change is masked and sealed before the store writes it; what an older
 * rowtrail (or a run with masking off) stored in the clear is masked in place first, with progress.
 */
function startMasking(store: Store, cfg: Config, log: Logger): void {
  const m = openMasking(store, cfg.masking, { write: true });
  if (!m) {
    log.warn('masking is disabled (masking.enabled: false): captured values are stored and shown in the clear');
    return;
  }
  if (m.warning) log.warn(m.warning);
  const clear = store.clearCount();
  if (clear.transactions > 0) {
    log.info({ transactions: clear.transactions, changes: clear.changes }, 'masking the transactions stored in the clear (before masking was on)');
    let last = Date.now();
    const n = store.maskStored(m.masker, (done) => {
      if (Date.now() - last < 2000) return;
      last = Date.now();
      log.info({ done, of: clear.transactions }, 'masking stored transactions');
    });
    log.info({ transactions: n }, 'stored transactions masked and sealed');
  }
  store.useMasker(m.masker);
  log.info({ key: m.fingerprint, columns: m.masker.classifier.list().length }, 'masking on: outputs show masked values; raw values are sealed for undo');
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
