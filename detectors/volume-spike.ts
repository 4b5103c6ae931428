/**
 * volume-spike: rows per (source, actor, table, op) in sliding windows (15 and 60 minutes by default) against
 * the key's seasonal hourly baseline (detectors/baseline.ts). A window alerts when its count is improbable
 * under the baseline's negative-binomial tail after a Bonferroni correction for every active key and window
 * (`alpha / (keys × windows)`), and is also at least `minRatio` times the expectation and `minRows` rows: a
 * rare but tiny excess is not worth a page. No statistical alert before `learningHours` of history per key
 * (the absolute detectors still fire). Keys idle for `idleDays` are evicted; at most `maxKeys` are kept
 * (least recently active evicted first), which bounds memory (about 20 kB per key, 100 MB at the default cap).
 */
import { ResidualTail, SeasonalBaseline, tailP, type BaselineState } from './baseline.js';
import { negBinUpper } from './stats.js';
import { describeActor, num } from './summary.js';
import type { BaselineRow, DetectorSpec, DetectorUnit, Finding, Resolution, RowOp, TxSummary } from './types.js';
import type { Actor, Severity } from '../src/model/index.js';

const HOUR = 3_600_000;
/** What a key counts: rows of one op, rows of every op (`*`), or the actor's transactions (`tx`). */
type Level = RowOp | '*' | 'tx';
const SUB = 5 * 60_000;
const QUARTER = 15 * 60_000;
/** Quarter-hour residuals kept per key: a week. */
const Q_MAX = 672;

export interface VolumeSpikeOptions {
  enabled: boolean;
  severity: Severity;
  /** Sliding windows, minutes (multiples of 5). Default [15, 60]. */
  windows: number[];
  /** Family-wise false-alarm rate per evaluation (Bonferroni over keys and windows). Default 0.01. */
  alpha: number;
  /** A window must hold at least this many rows. Default 20. */
  minRows: number;
  /** …and at least this multiple of its expectation. Default 2.5. */
  minRatio: number;
  /** Hours of history a key needs before it can alert. Default 168 (a week: the weekly cycle). */
  learningHours: number;
  /** Keys kept at most (least recently active evicted first; about 20 kB each). Default 5000. */
  maxKeys: number;
  /** Keys idle this long are forgotten. Default 35. */
  idleDays: number;
  /** Also count per (actor, table) over all ops and per actor over all tables. Default true. */
  levels: boolean;
  /** Also count each actor's transactions (not rows): a burst of small transactions shows there first. Default true. */
  transactions: boolean;
  /** Also report a key that usually writes a lot and went silent for an hour. Default true. */
  silence: boolean;
  /** …only where at least this many rows per hour are expected. Default 30. */
  silenceMinExpected: number;
}

interface KeyState {
  base: SeasonalBaseline;
  /** Start of the current (open) hour and its count. */
  hour: number;
  count: number;
  /** 5-minute buckets of the last hour: [start, rows]. */
  subs: [number, number][];
  /** The open quarter hour and its rows; log-ratio residuals of past quarters against their expectation. */
  q: number;
  qCount: number;
  qTail: ResidualTail;
  lastSeen: number;
  actor: Actor;
  actorText: string;
  txIds: string[];
  alerting: boolean;
  /** The open hour / quarter alerted: it is not learned as a residual (see SeasonalBaseline.push). */
  hourAlerted?: boolean;
  quarterAlerted?: boolean;
  silent?: boolean;
}

interface Snapshot {
  v: 1;
  keys: [
    string,
    { base: BaselineState; hour: number; count: number; subs: [number, number][]; lastSeen: number; q?: number; qCount?: number; lrq?: number[] },
  ][];
}

class VolumeSpike implements DetectorUnit {
  private keys = new Map<string, KeyState>();
  constructor(private readonly o: VolumeSpikeOptions) {}

  observe(tx: TxSummary): Finding[] {
    // Counts per key at three levels: (table, op), (table, all ops), (all tables): a burst spread over an
    // actor's tables and ops shows at the coarser levels, where the counts are larger and less noisy.
    const counts = new Map<string, { n: number; table: string; op: Level }>();
    const add = (table: string, op: Level, n: number) => {
      const key = `${tx.source}|${tx.actorName}|${table}|${op}`;
      const c = counts.get(key);
      if (c) c.n += n;
      else counts.set(key, { n, table, op });
    };
    for (const t of tx.tables) {
      for (const op of ['insert', 'update', 'delete'] as RowOp[]) {
        const n = t.ops[op];
        if (!n) continue;
        add(t.table, op, n);
        if (this.o.levels) {
          add(t.table, '*', n);
          add('*', '*', n);
        }
      }
    }
    // Transactions per actor: near-Poisson where rows per transaction vary a lot, so a rate spike shows sooner.
    if (this.o.transactions && counts.size) add('*', 'tx', 1);
    let best: Finding | null = null;
    for (const [key, c] of counts) {
      const st = this.state(key, tx);
      this.roll(st, tx.commitMs);
      st.count += c.n;
      st.qCount += c.n;
      const sub = Math.floor(Math.max(tx.commitMs, st.hour) / SUB) * SUB;
      const last = st.subs[st.subs.length - 1];
      if (last && last[0] === sub) last[1] += c.n;
      else st.subs.push([sub, c.n]);
      st.lastSeen = Math.max(st.lastSeen, tx.commitMs);
      st.actor = tx.actor;
      st.actorText = describeActor(tx);
      if (st.txIds.length < 100) st.txIds.push(tx.txId);
      const f = this.evaluate(key, st, tx.commitMs, this.keys.size, tx.source, c.table, c.op);
      // One finding per transaction: the most improbable level.
      if (f && (!best || Number(f.evidence.pValue) < Number(best.evidence.pValue))) best = f;
    }
    this.evict(tx.commitMs);
    return best ? [best] : [];
  }

  tick(now: number): { findings: Finding[]; resolutions: Resolution[] } {
    const resolutions: Resolution[] = [];
    const findings: Finding[] = [];
    for (const [key, st] of this.keys) {
      if (!st.alerting && !this.o.silence) continue;
      this.roll(st, now);
      if (st.alerting && !this.windows(st, now).some((w) => this.excessive(st, w.count, w.minutes, this.keys.size).alert)) {
        st.alerting = false;
        st.txIds = [];
        resolutions.push({ detector: 'volume-spike', key, at: now });
      }
      if (this.o.silence) {
        const f = this.silent(key, st, now);
        if (f) findings.push(f);
        else if (st.silent && this.windowCount(st, now, 60) > 0) {
          st.silent = false;
          resolutions.push({ detector: 'volume-spike', key: `${key}|silent`, at: now });
        }
      }
    }
    return { findings, resolutions };
  }

  /** A key that usually writes a lot and wrote nothing for an hour: a service gone silent. */
  private silent(key: string, st: KeyState, now: number): Finding | null {
    if (st.silent || st.base.history < this.o.learningHours) return null;
    // Silence is judged per actor over all its tables where the levels are on (one alert, not one per key).
    if (this.o.levels && !key.endsWith('|*|*')) return null;
    const count = this.windowCount(st, now, 60);
    if (count > 0) return null;
    const e = st.base.expect(Math.floor(now / HOUR) * HOUR);
    // the previous hour too: a slot that is busy on average but often idle is not a silence
    const prev = st.base.expect(Math.floor(now / HOUR) * HOUR - HOUR);
    if (e.mu < this.o.silenceMinExpected || prev.mu < this.o.silenceMinExpected) return null;
    const p = tailP(0, e, 1, true, st.base).lower;
    if (p >= this.o.alpha / Math.max(1, this.keys.size)) return null;
    st.silent = true;
    const [source, , table, op] = key.split('|');
    const what = op === '*' ? 'rows' : `${op.toUpperCase()} rows`;
    const where = table === '*' ? 'any table' : table;
    return {
      detector: 'volume-spike',
      key: `${key}|silent`,
      severity: this.o.severity,
      title: `${st.actorText || key} went silent: no ${what} to ${where} for an hour (expected ~${num(e.mu)})`,
      summary: `${st.actorText || key} wrote no ${what} to ${where} in the last hour; at this hour it usually writes ~${num(e.mu)}.`,
      source,
      table: table === '*' ? null : table,
      actor: st.actor,
      at: now,
      txIds: [],
      evidence: { observed: 0, expected: round(e.mu), score: 1 - p, pValue: p, windowMinutes: 60, op, silent: true },
    };
  }

  private windowCount(st: KeyState, t: number, minutes: number): number {
    return st.subs.reduce((a, [s, n]) => (s > t - minutes * 60_000 && s <= t ? a + n : a), 0);
  }

  describe(now: number): BaselineRow[] {
    return [...this.keys].map(([key, st]) => {
      const [source, actor, table, op] = key.split('|');
      const e = st.base.expect(Math.floor(now / HOUR) * HOUR);
      return {
        detector: 'volume-spike',
        source,
        actor,
        table: table === '*' ? null : table,
        op: op === '*' ? null : op,
        history: `${num(st.base.history)} h`,
        normal: `~${num(e.mu)} ${op === 'tx' ? 'transactions' : 'rows'}/h now, usually ≤ ${num(upperQuantile(e.mu, e.size, 0.99))}`,
        learned: st.base.history >= this.o.learningHours,
      };
    });
  }

  snapshot(): Snapshot {
    return {
      v: 1,
      keys: [...this.keys].map(([k, s]) => [
        k,
        { base: s.base.snapshot(), hour: s.hour, count: s.count, subs: s.subs, lastSeen: s.lastSeen, q: s.q, qCount: s.qCount, lrq: s.qTail.values },
      ]),
    };
  }

  restore(state: unknown): boolean {
    const s = state as Snapshot;
    if (s?.v !== 1 || !Array.isArray(s.keys)) return false;
    let ok = true;
    for (const entry of s.keys) {
      const [k, v] = Array.isArray(entry) ? entry : [];
      const base = v && SeasonalBaseline.restore(v.base);
      if (typeof k !== 'string' || !base || !Number.isFinite(v.hour) || !Number.isFinite(v.count) || !Array.isArray(v.subs)) {
        ok = false;
        continue;
      }
      const lrq = Array.isArray(v.lrq) && v.lrq.every(Number.isFinite) ? v.lrq : [];
      const q = Number.isFinite(v.q) ? (v.q as number) : v.hour;
      const qCount = Number.isFinite(v.qCount) ? (v.qCount as number) : 0;
      const actor = { kind: 'unknown' as const, confidence: 'unknown' as const };
      this.keys.set(k, {
        base,
        hour: v.hour,
        count: v.count,
        subs: v.subs,
        q,
        qCount,
        qTail: new ResidualTail(lrq, Q_MAX),
        lastSeen: v.lastSeen,
        actor,
        actorText: '',
        txIds: [],
        alerting: false,
      });
    }
    return ok;
  }

  private state(key: string, tx: TxSummary): KeyState {
    let st = this.keys.get(key);
    if (!st) {
      const hour = Math.floor(tx.commitMs / HOUR) * HOUR;
      const q = Math.floor(tx.commitMs / QUARTER) * QUARTER;
      st = {
        base: new SeasonalBaseline(HOUR),
        hour,
        count: 0,
        subs: [],
        q,
        qCount: 0,
        qTail: new ResidualTail([], Q_MAX),
        lastSeen: tx.commitMs,
        actor: tx.actor,
        actorText: '',
        txIds: [],
        alerting: false,
      };
      this.keys.set(key, st);
    } else {
      // Most recently active last: the eviction order.
      this.keys.delete(key);
      this.keys.set(key, st);
    }
    return st;
  }

  /** Closes finished hours (idle hours count as 0) up to the hour of `t`. Late commits count in the open hour. */
  private roll(st: KeyState, t: number): void {
    const q = Math.floor(t / QUARTER) * QUARTER;
    if (q > st.q) {
      // Residuals of the closed quarter and of the idle ones after it (at most a week of them).
      const quarters = Math.min((q - st.q) / QUARTER, Q_MAX);
      for (let i = 0; i < quarters; i++) {
        const start = q - (quarters - i) * QUARTER;
        const mu = st.base.expect(Math.floor(start / HOUR) * HOUR).mu / 4;
        if (i > 0 || !st.quarterAlerted) st.qTail.add(Math.log(((i === 0 ? st.qCount : 0) + 1) / (mu + 1)));
      }
      st.q = q;
      st.qCount = 0;
      st.quarterAlerted = st.alerting;
    }
    const hour = Math.floor(t / HOUR) * HOUR;
    if (hour <= st.hour) return;
    st.base.push(st.hour, st.count, st.hourAlerted);
    st.hourAlerted = st.alerting;
    // Idle hours in between are zeros (at most 4 weeks of them: older history would be forgotten anyway).
    const gap = Math.min((hour - st.hour) / HOUR - 1, 4 * 168);
    for (let i = gap; i >= 1; i--) st.base.push(hour - i * HOUR, 0);
    st.hour = hour;
    st.count = 0;
    st.subs = st.subs.filter(([s]) => s > t - HOUR);
  }

  private windows(st: KeyState, t: number): { minutes: number; count: number }[] {
    return this.o.windows.map((minutes) => ({
      minutes,
      count: this.windowCount(st, t, minutes),
    }));
  }

  private excessive(st: KeyState, count: number, minutes: number, active: number): { alert: boolean; p: number; mu: number; size: number } {
    // The cheap conditions first: most windows of most transactions are nowhere near an alert (mu and size
    // matter only where one alerts).
    if (st.base.history < this.o.learningHours || count < this.o.minRows) return { alert: false, p: 1, mu: Number.NaN, size: Number.NaN };
    const e = st.base.expect(st.hour);
    const fraction = minutes / 60;
    const mu = e.mu * fraction;
    if (count < this.o.minRatio * mu) return { alert: false, p: 1, mu, size: e.size };
    let p = tailP(count, e, fraction, true, st.base).upper;
    // Windows shorter than the hour: the empirical tail of this key's quarter-hour counts (bursty keys).
    if (minutes <= 15) p = Math.max(p, st.qTail.p(Math.log((count + 1) / ((e.mu * minutes) / 60 + 1)))?.upper ?? 0);
    const threshold = this.o.alpha / Math.max(1, active * this.o.windows.length);
    const alert = p < threshold;
    return { alert, p, mu, size: e.size };
  }

  private evaluate(key: string, st: KeyState, t: number, active: number, source: string, table: string, op: Level): Finding | null {
    let best: { minutes: number; count: number; p: number; mu: number; size: number } | null = null;
    for (const w of this.windows(st, t)) {
      const r = this.excessive(st, w.count, w.minutes, active);
      if (r.alert && (!best || r.p < best.p)) best = { ...w, p: r.p, mu: r.mu, size: r.size };
    }
    if (!best) return null;
    st.alerting = true;
    st.hourAlerted = true;
    st.quarterAlerted = true;
    const hourly = st.base.expect(st.hour);
    const usualHigh = upperQuantile(hourly.mu, hourly.size, 0.99);
    const verb = op === 'insert' ? 'inserted' : op === 'update' ? 'updated' : op === 'delete' ? 'deleted' : 'changed';
    const where = table === '*' ? 'its tables' : table;
    const opText = op === '*' || op === 'tx' ? 'write' : op.toUpperCase();
    const unit = op === 'tx' ? 'transactions' : 'rows';
    const did = op === 'tx' ? `committed ${num(best.count)} write transactions` : `${verb} ${num(best.count)} rows of ${where}`;
    return {
      detector: 'volume-spike',
      key,
      severity: this.o.severity,
      title: `${st.actorText} ${did} in ${best.minutes} min (expected ~${num(best.mu)})`,
      summary:
        `${st.actorText} ${did} in the last ${best.minutes} minutes; ` +
        `its usual ${opText} volume ${table === '*' ? 'over all tables' : 'on this table'} at this hour is 0–${num(usualHigh)} ${unit} per hour ` +
        `(expected ~${num(hourly.mu)}), learned over ${num(st.base.history)} hours.`,
      source,
      table: table === '*' ? null : table,
      actor: st.actor,
      at: t,
      txIds: [...st.txIds],
      evidence: {
        observed: best.count,
        expected: round(best.mu),
        score: 1 - best.p,
        pValue: best.p,
        windowMinutes: best.minutes,
        expectedPerHour: round(hourly.mu),
        usualMaxPerHour: usualHigh,
        historyHours: st.base.history,
        op,
      },
    };
  }

  private evict(now: number): void {
    const idle = now - this.o.idleDays * 24 * HOUR;
    for (const [k, s] of this.keys) {
      if (this.keys.size <= this.o.maxKeys && s.lastSeen >= idle) break;
      if (s.lastSeen < idle || this.keys.size > this.o.maxKeys) this.keys.delete(k);
    }
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The smallest k with P(X ≥ k) < 1 − q: a readable "usual maximum". */
function upperQuantile(mu: number, size: number, q: number): number {
  let k = Math.floor(mu);
  while (negBinUpper(k + 1, mu, size) >= 1 - q && k < mu * 100 + 100) k++;
  return k;
}

export const volumeSpike: DetectorSpec<Omit<VolumeSpikeOptions, 'enabled' | 'severity'>> = {
  name: 'volume-spike',
  description: 'rows per (actor, table, op) in 15/60-minute windows against an hour-of-week baseline',
  defaults: {
    enabled: true,
    severity: 'warning',
    windows: [15, 60],
    alpha: 0.05,
    minRows: 20,
    minRatio: 1.8,
    learningHours: 168,
    maxKeys: 5000,
    idleDays: 35,
    levels: true,
    transactions: true,
    silence: true,
    silenceMinExpected: 30,
  },
  create: (o) => new VolumeSpike(o),
};
