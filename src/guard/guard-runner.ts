/**
 * Guards on one PostgreSQL source, the glue between the stream and the rest: the source calls `change` for
 * every row of a transaction in flight and `end` when it ends (sources/source.ts, InFlightWatcher); the
 * evaluator (pure) says when a line is crossed; the action goes through a separate connection
 * (guard-action.ts), never awaited on the source's thread; the alert is stored at once and rewritten when the
 * action answers and when the transaction ends (one alert per transaction, upserted by id).
 *
 * Idempotent: one action per transaction. A replayed transaction (the replication session reconnected and the
 * server resends it) neither acts nor alerts twice: its firing is remembered (the last 10 000) and the replay only
 * settles the same alert's outcome; after a restart, an alert already stored with its outcome is left as it is.
 */
import { guardsFor, type Config, type GuardConfig, type SourceConfig } from '../config/index.js';
import { oneLine } from '../errors.js';
import type { IdentityResolver } from '../identity/index.js';
import type { Logger } from '../log/index.js';
import type { Actor, Alert } from '../model/index.js';
import type { InFlightTx, InFlightWatcher } from '../sources/source.js';
import { ACTION_TIMEOUT_MS, BackendSignaller } from './guard-action.js';
import { guardAlert, guardAlertId, type GuardEvent } from './guard-alert.js';
import { GuardEvaluator, decide, type GuardOp, type GuardTxState } from './guard-evaluator.js';

/** What the runner needs of the store (the daemon's Store fits). */
export interface GuardStore {
  saveDetection(alerts: Alert[], name: string, seq: number, state: unknown): void;
  alerts(f: { id?: string; limit?: number }): Alert[];
}

export interface GuardRunnerOptions {
  source: string;
  guards: readonly GuardConfig[];
  /** Connection URL for the privileged connection (password applied; never logged). */
  url: string;
  store: GuardStore;
  resolver: IdentityResolver;
  log: Logger;
  actionTimeoutMs?: number;
  /** Called after each stored alert change (tests, delivery). */
  onAlert?: (a: Alert) => void;
}

interface TxWatch {
  eval: GuardTxState;
  firstAt: number;
  /** The actor as last peeked, and how many session messages it was made from. */
  actor: Actor | null;
  messages: number;
  event: GuardEvent | null;
  acting: Promise<void> | null;
}

/** Name of the guards' row in the store's detector_state (counters only). */
export const GUARD_STATE = 'guards';
const SIZE_TTL_MS = 5 * 60_000;
const REMEMBER = 10_000;

export class GuardRunner implements InFlightWatcher {
  private readonly evaluator: GuardEvaluator;
  private readonly signaller: BackendSignaller;
  private readonly sizes = new Map<string, { rows: number | null; at: number }>();
  /** Firings by alert id, with their action (insertion order; the oldest forgotten past REMEMBER). */
  private readonly fired = new Map<string, { event: GuardEvent; acting: Promise<void> | null }>();
  private readonly pending = new Set<Promise<void>>();
  private counts = { fired: 0, acted: 0 };

  constructor(private readonly o: GuardRunnerOptions) {
    this.evaluator = new GuardEvaluator(o.guards, { tableRows: (t) => this.tableRows(t) });
    this.signaller = new BackendSignaller(o.url, o.actionTimeoutMs ?? ACTION_TIMEOUT_MS);
  }

  change(tx: InFlightTx, op: GuardOp, schema: string, table: string): void {
    let w = tx.watch as TxWatch | undefined;
    if (!w) tx.watch = w = { eval: this.evaluator.begin(), firstAt: Date.now(), actor: null, messages: -1, event: null, acting: null };
    const f = this.evaluator.change(w.eval, op, `${schema}.${table}`, () => this.actor(tx, w));
    if (f) this.fire(tx, w, f);
  }

  end(tx: InFlightTx, outcome: 'committed' | 'aborted' | 'dropped'): void {
    const w = tx.watch as TxWatch | undefined;
    const e = w?.event;
    if (!e) return;
    const ended = Date.now();
    const settle = async () => {
      await w.acting;
      e.outcome = outcome === 'committed' ? 'committed' : outcome === 'aborted' ? 'rolled-back' : 'unknown';
      e.endedAt = ended;
      this.save(e);
    };
    this.track(settle());
  }

  /** Waits for actions in flight, then closes the privileged connection. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.signaller.close();
  }

  stats(): { fired: number; acted: number } {
    return { ...this.counts };
  }

  /** The actor as far as the session messages so far tell (peeked again only when a message arrived). */
  private actor(tx: InFlightTx, w: TxWatch): Actor {
    if (!w.actor || w.messages !== tx.messages.length) {
      const facts = { source: tx.source, xid: tx.xid, commitTime: new Date().toISOString(), messages: [...tx.messages], statements: [] };
      w.actor = (this.o.resolver.peek ?? this.o.resolver.resolve)({ ...facts, preciseExpected: tx.preciseExpected });
      w.messages = tx.messages.length;
    }
    return w.actor;
  }

  private fire(tx: InFlightTx, w: TxWatch, f: NonNullable<GuardTxState['fired']>): void {
    const id = guardAlertId(tx.source, tx.xid, f.guard.name);
    const seen = this.fired.get(id);
    if (seen) {
      // A replay: the same firing; only its outcome is still to come.
      [w.event, w.acting] = [seen.event, seen.acting];
      return;
    }
    const stored = this.o.store.alerts({ id, limit: 1 })[0];
    // A replay after a restart of a transaction whose alert already says how it ended: that record stays as it is.
    if (stored?.id === id && (stored.evidence.outcome === 'rolled-back' || stored.evidence.outcome === 'committed')) return;
    this.counts.fired++;
    const decision = decide(f, tx.streamed);
    const e: GuardEvent = {
      ...{ source: tx.source, xid: tx.xid, firing: f, decision, firstAt: w.firstAt, firedAt: Date.now() },
      ...{ result: null, outcome: 'in-flight', endedAt: null },
    };
    w.event = e;
    this.o.log.warn(
      { source: tx.source, xid: tx.xid, guard: f.guard.name, action: f.guard.action, acting: decision.act, actor: f.actor.agent ?? f.actor.user ?? null },
      decision.act
        ? `guard ${f.guard.name}: line crossed before commit; ${f.guard.action} backend ${f.actor.sessionId}`
        : `guard ${f.guard.name}: line crossed before commit (${decision.reason})`,
    );
    this.save(e);
    const memo = { event: e, acting: null as Promise<void> | null };
    this.fired.set(id, memo);
    if (this.fired.size > REMEMBER) this.fired.delete(this.fired.keys().next().value!);
    if (!decision.act) return;
    this.counts.acted++;
    const action = f.guard.action as 'cancel' | 'terminate';
    w.acting = this.track(
      this.signaller.signal(action, f.actor.sessionId!, tx.xid).then((r) => {
        e.result = { ...r, ms: Date.now() - e.firedAt };
        if (!r.done) this.o.log.warn({ source: tx.source, xid: tx.xid, guard: f.guard.name }, `guard ${f.guard.name}: ${action} failed: ${r.detail}`);
        if (e.outcome === 'in-flight') this.save(e);
      }),
    );
    memo.acting = w.acting;
  }

  private save(e: GuardEvent): void {
    const a = guardAlert(e);
    try {
      this.o.store.saveDetection([a], GUARD_STATE, 0, this.counts);
      this.o.onAlert?.(a);
    } catch (err) {
      this.o.log.error({ source: e.source, xid: e.xid, err: oneLine(err) }, `guard ${e.firing.guard.name}: could not store the alert`);
    }
  }

  private track(p: Promise<void>): Promise<void> {
    const t = p.catch((err) => this.o.log.error({ err: oneLine(err) }, 'guard: action failed'));
    this.pending.add(t);
    void t.finally(() => this.pending.delete(t));
    return t;
  }

  /** Cached table size; a stale or missing one starts a catalog read (the fraction line waits until it is known). */
  private tableRows(table: string): number | null {
    const c = this.sizes.get(table);
    const now = Date.now();
    if (!c || now - c.at >= SIZE_TTL_MS) {
      this.sizes.set(table, { rows: c?.rows ?? null, at: now }); // one read at a time; the old value until it answers
      this.signaller.tableRows([table]).then(
        (m) => this.sizes.set(table, { rows: m.get(table) ?? null, at: Date.now() }),
        (err) => {
          this.sizes.set(table, { rows: c?.rows ?? null, at: Date.now() - SIZE_TTL_MS + 5_000 }); // again in 5 s
          this.o.log.warn({ source: this.o.source, table, err: oneLine(err) }, 'guard: cannot read the table size; its fraction line waits');
        },
      );
    }
    return c?.rows ?? null;
  }
}

/**
 * One runner per PostgreSQL source that guards watch (null elsewhere), in the order of `cfg.sources`. Guards
 * configured where no PostgreSQL source is are said once: MySQL/MariaDB write the binlog at commit.
 */
export function createGuards(
  cfg: Config,
  deps: { store: GuardStore; log: Logger; resolvers: IdentityResolver[]; url: (s: SourceConfig) => string },
): (GuardRunner | null)[] {
  if (cfg.guards.length && !cfg.sources.some((s) => s.kind === 'postgres')) {
    deps.log.warn(
      { guards: cfg.guards.map((g) => g.name) },
      'guards watch PostgreSQL sources only (MySQL/MariaDB write the binlog at commit: nothing in flight to stop); these guards do nothing',
    );
  }
  return cfg.sources.map((s, i) => {
    const guards = guardsFor(cfg, s);
    if (!guards.length) return null;
    return new GuardRunner({ source: s.name, guards, url: deps.url(s), store: deps.store, resolver: deps.resolvers[i]!, log: deps.log });
  });
}
