/**
 * The detectors' I/O edge: reads committed transactions from the store in commit order (after they are
 * durable, so detection never slows capture), runs the detection engine (detectors/, pure), and stores the
 * alerts it raises, updates and resolves. The engine's state (baselines) is saved with the commit sequence it
 * covers at most once a minute and on stop; alerts are saved at once and are idempotent by id, so a crash
 * replays the transactions after the saved state and raises nothing twice.
 */
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { Alert } from '../model/index.js';
import type { AlertRoute, Store } from '../store/index.js';
import { sleep } from '../sources/backoff.js';
import { DetectorEngine, TxBuilder, type AlertChange, type HealthSample, type TxSummary } from '../../detectors/index.js';
import { TableSizes } from './table-sizes.js';

const STATE_NAME = 'engine';
/** Transactions read per pass. */
const BATCH_TX = 500;
/** Events between two turns of the event loop within a pass. */
const YIELD_EVENTS = 2000;

export interface DetectionOptions {
  /** How often the store is polled for new transactions (ms). Default 500. */
  intervalMs?: number;
  /** How often quiet alerts are checked for resolution (ms). Default 30000. */
  tickMs?: number;
  /** Capture measurements per source for capture-health (src/detection/capture-status.ts); none: that detector
   * judges attribution only. */
  health?: { sample(now: number): HealthSample[] };
  /** How often `health` is sampled (ms). Default 60000. */
  healthMs?: number;
  /** How often the baselines are saved (ms). Default 60000. */
  saveMs?: number;
  /** Largest share of the thread detection takes while it is behind (a pass is followed by a pause of
   * busy × (1 / maxShare − 1)). Default 0.1. */
  maxShare?: number;
  /** Called for every alert change. */
  onChange?: (c: AlertChange) => void;
  /** Channels per alert: its notifications are enqueued in the store's outbox with the alert (src/alerts). */
  route?: AlertRoute;
  /** Called after alerts were saved (and their notifications enqueued): wakes the delivery worker. */
  onSaved?: () => void;
  /** Clock (tests). */
  now?: () => number;
}

export interface DetectionStats {
  transactions: number;
  raised: number;
  resolved: number;
  lastSeq: number;
}

export class DetectionRunner {
  readonly engine: DetectorEngine;
  private readonly sizes: TableSizes;
  private lastSave = 0;
  private lastTick = 0;
  /** First sample one `healthMs` after start (a short-lived daemon never opens the extra connections). */
  private lastHealth: number | null = null;
  private dirty = false;
  private readonly counts: DetectionStats = { transactions: 0, raised: 0, resolved: 0, lastSeq: 0 };

  constructor(
    private readonly store: Store,
    cfg: Config,
    private readonly log: Logger,
    private readonly opts: DetectionOptions = {},
  ) {
    this.sizes = new TableSizes(cfg, log);
    this.engine = new DetectorEngine(cfg.detectors, { tableRows: (s, t) => this.sizes.get(s, t) });
    const saved = store.detectorState(STATE_NAME);
    if (saved) {
      this.engine.restore(saved.state);
      if (this.engine.relearning.length) {
        log.warn({ detectors: this.engine.relearning }, 'detectors: stored baselines were unreadable; these detectors relearn');
      }
    }
    this.counts.lastSeq = this.engine.lastSeq;
  }

  stats(): DetectionStats {
    return { ...this.counts, lastSeq: this.engine.lastSeq };
  }

  /** Runs until the signal aborts; never rejects (a failing pass is logged and retried). */
  async run(signal: AbortSignal): Promise<void> {
    const interval = this.opts.intervalMs ?? 500;
    // Capture comes first: while the sources are storing transactions, a pass that took `busy` ms is followed
    // by a pause of busy × (1/maxShare − 1) that keeps detection to `maxShare` of this thread (which the sources' decoding shares); the
    // store is the buffer. Once they are quiet, detection catches up at full speed.
    const share = Math.min(1, Math.max(0.01, this.opts.maxShare ?? 0.1));
    let head = this.headSeq();
    while (!signal.aborted) {
      const t0 = performance.now();
      let full = false;
      try {
        full = (await this.runOnce()) >= BATCH_TX;
      } catch (e) {
        this.log.warn({ err: (e as Error)?.message }, 'detectors: pass failed; retrying');
      }
      let pause = (performance.now() - t0) * (1 / share - 1);
      if (!full) await sleep(interval, signal);
      // The pause, in steps of at most a second, ends as soon as the sources stop storing.
      for (let h = this.headSeq(); h > head && pause > 0 && !signal.aborted; h = this.headSeq()) {
        head = h;
        const step = Math.min(pause, 1000);
        await sleep(step, signal);
        pause -= step;
      }
      head = this.headSeq();
    }
    this.save(true);
  }

  /** The newest commit sequence in the store (what the sources have stored so far). */
  private headSeq(): number {
    try {
      return this.store.latestSeq();
    } catch {
      return 0;
    }
  }

  /** One pass: every committed transaction not yet seen (up to a batch), then the periodic tick and save. */
  async runOnce(): Promise<number> {
    const now = this.opts.now?.() ?? Date.now();
    const txs: { seq: number; tx: TxSummary }[] = [];
    let builder: TxBuilder | null = null;
    let seq = -1;
    let read = 0;
    for (const { seq: s, event } of this.store.detectionEventsAfter(this.engine.lastSeq, BATCH_TX)) {
      // Let the sources' decoding run between pages of a big pass (the store reads pages whole).
      if (++read % YIELD_EVENTS === 0) await new Promise((r) => setImmediate(r));
      if (s !== seq) {
        if (builder) txs.push({ seq, tx: builder.finish() });
        builder = new TxBuilder(event);
        seq = s;
      }
      builder!.add(event);
    }
    if (builder) txs.push({ seq, tx: builder.finish() });
    const changed = new Map<string, Alert>();
    for (const { seq: s, tx } of txs) {
      await this.sizes.prefetch(tx.source, tx.tables.map((t) => t.table));
      for (const c of this.engine.process(tx, s)) this.note(c, changed);
      this.counts.transactions++;
    }
    if (txs.length) this.dirty = true;
    if (now - this.lastTick >= (this.opts.tickMs ?? 30_000)) {
      this.lastTick = now;
      for (const c of this.engine.tick(now)) this.note(c, changed);
    }
    this.lastHealth ??= now;
    if (this.opts.health && now - this.lastHealth >= (this.opts.healthMs ?? 60_000)) {
      this.lastHealth = now;
      for (const c of this.engine.health(this.opts.health.sample(now))) this.note(c, changed);
    }
    if (changed.size) {
      this.store.saveDetection([...changed.values()], STATE_NAME, this.engine.lastSeq, this.engine.snapshot(), this.opts.route);
      this.opts.onSaved?.();
    } else this.save(false);
    return txs.length;
  }

  private note(c: AlertChange, changed: Map<string, Alert>): void {
    changed.set(c.alert.id, c.alert);
    if (c.type === 'raised') {
      this.counts.raised++;
      const a = c.alert;
      this.log.warn({ alert: a.id, detector: a.detector, severity: a.severity, source: a.source, table: a.table, undo: a.undo }, a.title);
    } else if (c.type === 'resolved') {
      this.counts.resolved++;
      this.log.info({ alert: c.alert.id, detector: c.alert.detector }, `resolved: ${c.alert.title}`);
    }
    this.opts.onChange?.(c);
  }

  /** Saves the baselines when due (or forced) and something changed since the last save. */
  private save(force: boolean): void {
    const now = Date.now();
    if (!this.dirty || (!force && now - this.lastSave < (this.opts.saveMs ?? 60_000))) return;
    try {
      this.store.saveDetection([], STATE_NAME, this.engine.lastSeq, this.engine.snapshot());
      this.lastSave = now;
      this.dirty = false;
    } catch (e) {
      this.log.warn({ err: (e as Error)?.message }, 'detectors: could not save baselines; will retry');
    }
  }
}
