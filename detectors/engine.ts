/**
 * The detection engine: runs every enabled detector on each committed transaction, turns findings into
 * deduplicated Alerts (one open alert per detector and key, updated while the activity lasts, resolved when it
 * returns to normal), and keeps all state serializable. Pure: the daemon feeds it transactions in store order
 * with their store sequence number, persists `snapshot()` together with the alerts, and a replay after a
 * crash (a sequence number not newer than the snapshot's) is skipped, so nothing counts twice.
 */
import { createHash } from 'node:crypto';
import type { Alert, Severity } from '../src/model/index.js';
import { DETECTORS, detectorOptions, type CommonOptions } from './registry.js';
import type { BaselineRow, DetectorContext, DetectorUnit, Finding, HealthSample, Resolution, TxSummary } from './types.js';

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };
/** An event alert keeps merging findings with its key for this long. */
const EVENT_MERGE_MS = 60 * 60_000;
/** Transactions listed on one alert at most (the evidence says how many there were). */
const MAX_TX_IDS = 50;

export interface AlertChange {
  type: 'raised' | 'updated' | 'resolved';
  alert: Alert;
}

interface Running {
  name: string;
  unit: DetectorUnit;
  opts: CommonOptions;
  resolves: 'condition' | 'event';
}

export interface EngineState {
  v: 1;
  /** Store sequence of the last transaction processed. */
  seq: number;
  detectors: Record<string, unknown>;
  open: Alert[];
}

export class DetectorEngine {
  private readonly running: Running[] = [];
  private readonly open = new Map<string, { alert: Alert; last: number; resolves: 'condition' | 'event' }>();
  private seq = 0;
  /** Detectors whose stored state was corrupt at restore (they relearn). */
  readonly relearning: string[] = [];

  constructor(config: Record<string, unknown>, private readonly ctx: DetectorContext) {
    const all = detectorOptions(config);
    for (const { spec, resolves } of DETECTORS) {
      const opts = all.get(spec.name)!;
      if (!opts.enabled) continue;
      this.running.push({ name: spec.name, unit: spec.create(opts as never), opts, resolves });
    }
  }

  get enabled(): string[] {
    return this.running.map((r) => r.name);
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Runs the detectors on one committed transaction; `seq` orders transactions (the store's sequence). */
  process(tx: TxSummary, seq: number): AlertChange[] {
    if (seq <= this.seq) return [];
    this.seq = seq;
    const out: AlertChange[] = [];
    for (const r of this.running) {
      if (r.opts.excludeActors.includes(tx.actorName) || (tx.actor.user && r.opts.excludeActors.includes(tx.actor.user))) continue;
      const view = r.opts.excludeTables.length ? { ...tx, tables: tx.tables.filter((t) => !r.opts.excludeTables.includes(t.table)) } : tx;
      if (view.tables.length === 0 && view.ddl.length === 0) continue;
      let findings: Finding[];
      try {
        findings = r.unit.observe(view, this.ctx);
      } catch {
        // A detector bug must never stop capture or the other detectors; the daemon logs the count.
        continue;
      }
      for (const f of findings) out.push(this.merge(f, r.resolves, tx));
    }
    return out;
  }

  /** Lets time pass (newest commit time or wall clock): resolves quiet condition alerts. */
  tick(now: number): AlertChange[] {
    const out: AlertChange[] = [];
    for (const r of this.running) {
      const t = r.unit.tick?.(now);
      if (t) this.apply(r, t, out);
    }
    for (const [k, o] of this.open) if (o.resolves === 'event' && now - o.last > EVENT_MERGE_MS) this.open.delete(k);
    return out;
  }

  /** Feeds periodic capture measurements (one per source) to the detectors that take them (capture-health). */
  health(samples: HealthSample[]): AlertChange[] {
    const out: AlertChange[] = [];
    for (const r of this.running) {
      if (!r.unit.sample) continue;
      for (const s of samples) {
        const ex = r.opts.excludeTables;
        const view = s.irreversible && ex.length ? { ...s, irreversible: s.irreversible.filter((t) => !ex.includes(t.table)) } : s;
        try {
          this.apply(r, r.unit.sample(view), out);
        } catch {
          // As in process(): a detector bug never stops the others.
        }
      }
    }
    return out;
  }

  /** Findings and resolutions that are not about one transaction (tick, health samples). */
  private apply(r: Running, res: { findings?: Finding[]; resolutions?: Resolution[] }, out: AlertChange[]): void {
    for (const f of res.findings ?? []) out.push(this.merge(f, r.resolves, null));
    for (const x of res.resolutions ?? []) {
      const c = this.resolve(x);
      if (c) out.push(c);
    }
  }

  /** What every detector has learned (rowtrail baseline show). */
  describe(now: number): BaselineRow[] {
    return this.running.flatMap((r) => r.unit.describe?.(now) ?? []);
  }

  snapshot(): EngineState {
    const detectors: Record<string, unknown> = {};
    for (const r of this.running) if (r.unit.snapshot) detectors[r.name] = r.unit.snapshot();
    return { v: 1, seq: this.seq, detectors, open: [...this.open.values()].filter((o) => o.resolves === 'condition').map((o) => o.alert) };
  }

  /** Restores a snapshot. A corrupt detector state is dropped (that detector relearns, listed in `relearning`). */
  restore(state: unknown): void {
    const s = state as EngineState;
    if (s?.v !== 1 || typeof s.detectors !== 'object' || s.detectors === null) {
      this.relearning.push(...this.running.filter((r) => r.unit.restore).map((r) => r.name));
      return;
    }
    this.seq = Number.isFinite(s.seq) ? s.seq : 0;
    for (const r of this.running) {
      if (!r.unit.restore || !(r.name in s.detectors)) continue;
      if (!r.unit.restore(s.detectors[r.name])) this.relearning.push(r.name);
    }
    for (const a of Array.isArray(s.open) ? s.open : []) {
      if (a && typeof a.id === 'string' && a.state === 'open') {
        this.open.set(`${a.detector}|${keyOf(a)}`, { alert: a, last: Date.parse(a.window.to), resolves: 'condition' });
      }
    }
  }

  private merge(f: Finding, resolves: 'condition' | 'event', tx: TxSummary | null): AlertChange {
    const actorName = tx?.actorName ?? String(f.evidence.actorName ?? f.actor?.agent ?? f.actor?.user ?? 'unknown');
    const k = `${f.detector}|${f.key}`;
    const prev = this.open.get(k);
    if (prev) {
      const a = prev.alert;
      const txIds = [...new Set([...a.txIds, ...f.txIds])];
      const updated: Alert = {
        ...a,
        severity: RANK[f.severity] > RANK[a.severity] ? f.severity : a.severity,
        title: f.title,
        summary: f.summary,
        actor: f.actor ?? a.actor,
        window: { from: a.window.from, to: iso(Math.max(f.at, Date.parse(a.window.to))) },
        evidence: { ...f.evidence, transactions: Math.max(Number(a.evidence.transactions ?? 0), txIds.length) },
        txIds: txIds.slice(-MAX_TX_IDS),
      };
      updated.undo = undoCommand(updated, actorName);
      prev.alert = updated;
      prev.last = f.at;
      return { type: 'updated', alert: updated };
    }
    const from = iso(f.at);
    const alert: Alert = {
      id: `${f.detector}-${hash(`${f.key}|${f.at}|${f.txIds[0] ?? ''}`)}`,
      detector: f.detector,
      severity: f.severity,
      title: f.title,
      summary: f.summary,
      source: f.source,
      table: f.table,
      actor: f.actor,
      window: { from, to: from },
      evidence: { ...f.evidence, transactions: f.txIds.length, key: f.key },
      txIds: f.txIds.slice(-MAX_TX_IDS),
      state: 'open',
      undo: null,
    };
    alert.undo = undoCommand(alert, actorName);
    this.open.set(k, { alert, last: f.at, resolves });
    return { type: 'raised', alert };
  }

  private resolve(r: Resolution): AlertChange | null {
    const k = `${r.detector}|${r.key}`;
    const o = this.open.get(k);
    if (!o) return null;
    this.open.delete(k);
    const to = iso(Math.max(r.at, Date.parse(o.alert.window.to)));
    return { type: 'resolved', alert: { ...o.alert, state: 'resolved', window: { ...o.alert.window, to } } };
  }
}

function keyOf(a: Alert): string {
  return String(a.evidence.key ?? '');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

/** Shell-quotes an argument when it needs it. */
function arg(s: string): string {
  return /^[A-Za-z0-9_.:/@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The exact `rowtrail undo` command that reverts the alert's activity: by transaction where the alert names
 * them all, else by actor, table and window. None for what undo cannot revert (TRUNCATE, DDL, first-seen
 * address changes).
 */
export function undoCommand(a: Alert, actorName: string): string | null {
  const op = a.evidence.operation;
  if (a.detector === 'capture-health') return null;
  if (op === 'truncate' || op === 'drop' || op === 'alter-drop' || op === 'rename' || op === 'other' || a.evidence.kind === 'new-address') return null;
  const src = `--source ${arg(a.source)}`;
  const table = a.table ? ` --table ${arg(a.table)}` : '';
  const total = Number(a.evidence.transactions ?? a.txIds.length);
  if (a.txIds.length > 0 && a.txIds.length <= 10 && total <= a.txIds.length) {
    return `rowtrail undo ${a.txIds.map((t) => `--tx ${arg(t)}`).join(' ')} ${src}${table}`;
  }
  const until = new Date(Date.parse(a.window.to) + 1).toISOString();
  return `rowtrail undo --actor ${arg(actorName)} --since ${a.window.from} --until ${until} ${src}${table}`;
}
