/**
 * A seasonal baseline of a count series (rows per bucket), updated online, serializable.
 *
 * Model: expected(t) = seasonal(t) × level. `seasonal` blends the median of the same hour-of-week over the
 * last weeks with the median of the same hour-of-day over the last days, shrunk toward the series' overall
 * mean when a slot has little history (so a Monday after a weekend of learning is not judged by Sunday alone).
 * `level` is the median ratio of the recent buckets to their seasonal expectation: a lasting level shift is
 * absorbed within about half a day instead of alerting for a week. Dispersion is a negative-binomial size
 * fitted by moments on recent residuals (counts are overdispersed: bursts), floored so that a few quiet weeks
 * do not make every burst look impossible.
 *
 * Real count series are heavy-tailed (bursts of every size), so a parametric tail alone calls too much
 * improbable. The baseline also keeps the log-ratios of recent buckets to their expectation and models each
 * tail empirically, with an exponential tail beyond the largest residual seen whose scale is the mean excess
 * over the 95th percentile (peaks over threshold, as extreme-value methods for streams such as SPOT do). The
 * p-value used is the larger (more conservative) of the two models once there are enough residuals: a bursty
 * key's burst is judged against its own past bursts, a smooth key's against its count distribution.
 */
import { negBinLower, negBinUpper, nbSize, clamp01, normalUpper } from './stats.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** Weeks kept per hour-of-week slot, days per hour-of-day slot, recent residuals for the level and dispersion. */
const WEEKS = 4;
const DAYS = 7;
const RECENT = 24;
/** Prior weight (in buckets) of the overall mean against a slot's own history. */
const SHRINK = 2;
/** Log-ratio residuals kept for the tail model, and how many it needs before it is used. */
const LR_MAX = 672;
const LR_MIN = 100;
/** Share of residuals beyond the tail threshold. */
const TAIL_Q = 0.05;

export interface BaselineState {
  v: 1;
  bucketMs: number;
  /** Buckets observed (zeros included). */
  n: number;
  /** Start (ms) of the newest bucket pushed. */
  last: number | null;
  weekly: number[][];
  daily: number[][];
  /** Recent (value, expected) pairs, for dispersion and the level factor. */
  /** [value, seasonal expectation] of recent buckets; a third element 1 marks a bucket that alerted. */
  resid: ([number, number] | [number, number, 1])[];
  sum: number;
  /** log((value + 1) / (expected + 1)) of recent buckets. */
  lr?: number[];
}

/** Peaks-over-threshold tail of one side: sorted residuals, threshold and mean excess. */
interface Tail {
  sorted: Float64Array;
  u: number;
  beta: number;
}

export interface Expectation {
  /** Expected value of the bucket. */
  mu: number;
  /** Negative-binomial size (Infinity: Poisson). */
  size: number;
  /** Robust scale of residuals (for non-count series). */
  scale: number;
  /** Buckets of history behind the estimate. */
  history: number;
}

export class SeasonalBaseline {
  private s: BaselineState;
  private res: ResidualTail | null = null;
  private memo: { bucket: number; n: number; e: Expectation } | null = null;
  private stats: { n: number; level: number; size: number; scale: number } | null = null;
  /** Slots per week/day at this bucket width (hourly for ≤ 1 h buckets, daily for wider ones). */
  private readonly slotMs: number;

  constructor(bucketMs: number, state?: BaselineState) {
    this.slotMs = bucketMs <= HOUR ? HOUR : DAY;
    const weekSlots = WEEK / this.slotMs;
    const daySlots = Math.max(1, DAY / this.slotMs);
    this.s = state ?? {
      v: 1,
      bucketMs,
      n: 0,
      last: null,
      weekly: Array.from({ length: weekSlots }, () => []),
      daily: Array.from({ length: daySlots }, () => []),
      resid: [],
      sum: 0,
    };
  }

  /** Validates a stored state; null when it is corrupt (the caller relearns). */
  static restore(state: unknown): SeasonalBaseline | null {
    const s = state as BaselineState;
    if (s?.v !== 1 || !(s.bucketMs > 0) || !Array.isArray(s.weekly) || !Array.isArray(s.daily)) return null;
    const b = new SeasonalBaseline(s.bucketMs);
    if (b.s.weekly.length !== s.weekly.length || b.s.daily.length !== s.daily.length) return null;
    const finite = (a: unknown) => Array.isArray(a) && a.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (!s.weekly.every(finite) || !s.daily.every(finite) || !Number.isFinite(s.n) || !Array.isArray(s.resid)) return null;
    b.s = s;
    return b;
  }

  snapshot(): BaselineState {
    return this.s;
  }

  get history(): number {
    return this.s.n;
  }

  get lastBucket(): number | null {
    return this.s.last;
  }

  private weekSlot(t: number): number {
    return Math.floor((((t % WEEK) + WEEK) % WEEK) / this.slotMs);
  }

  private daySlot(t: number): number {
    return Math.floor((((t % DAY) + DAY) % DAY) / this.slotMs) % this.s.daily.length;
  }

  /** Seasonal expectation before the level factor. */
  private seasonal(t: number): number {
    const mean = this.s.n ? this.s.sum / this.s.n : 0;
    const w = this.s.weekly[this.weekSlot(t)];
    const d = this.s.daily[this.daySlot(t)];
    let num = SHRINK * mean;
    let den = SHRINK;
    if (w.length) {
      num += 2 * w.length * smallMedian(Float64Array.from(w));
      den += 2 * w.length;
    }
    if (d.length && this.slotMs < DAY) {
      num += 0.5 * d.length * smallMedian(Float64Array.from(d));
      den += 0.5 * d.length;
    }
    return num / den;
  }

  /** What the bucket starting at `t` is expected to hold (memoized per bucket until the next push). */
  expect(t: number): Expectation {
    const bucket = Math.floor(t / this.slotMs);
    if (this.memo && this.memo.bucket === bucket && this.memo.n === this.s.n) return this.memo.e;
    const e = this.compute(t);
    this.memo = { bucket, n: this.s.n, e };
    return e;
  }

  private compute(t: number): Expectation {
    const seasonal = this.seasonal(t);
    const { level, size, scale } = this.recentStats();
    const mu = Math.max(0, (seasonal + 1) * level - 1);
    return { mu, size, scale, history: this.s.n };
  }

  /** Level factor and dispersion from the recent residuals: they change only with a push, so once per push. */
  private recentStats(): { level: number; size: number; scale: number } {
    if (this.stats && this.stats.n === this.s.n) return this.stats;
    const r = this.s.resid;
    let level = 1;
    let size = 50;
    let scale = 0;
    if (r.length >= 6) {
      const ratios = new Float64Array(r.length);
      for (let i = 0; i < r.length; i++) ratios[i] = (r[i][0] + 1) / (r[i][1] + 1);
      level = Math.min(5, Math.max(0.2, smallMedian(ratios)));
      // Dispersion from recent residuals against their expectations.
      // Buckets that alerted are left out: a spike must not widen the dispersion that judges the next one.
      let sumE = 0;
      let sumSq = 0;
      let k = 0;
      const res = new Float64Array(r.length);
      for (let i = 0; i < r.length; i++) {
        res[i] = r[i][0] - r[i][1] * level;
        if (r[i][2] === 1) continue;
        sumE += r[i][1];
        sumSq += res[i] * res[i];
        k++;
      }
      if (k >= 6) size = nbSize(Math.max((sumE / k) * level, 1e-9), sumSq / k);
      const m = smallMedian(res.slice());
      for (let i = 0; i < res.length; i++) res[i] = Math.abs(res[i] - m);
      scale = smallMedian(res) * 1.4826;
    }
    this.stats = { n: this.s.n, level, size, scale };
    return this.stats;
  }

  /** Tail probabilities of `x` from the residual model (null while there are too few residuals). */
  residualTail(x: number, mu: number): { upper: number; lower: number } | null {
    return this.residuals().p(Math.log((x + 1) / (mu + 1)));
  }

  private residuals(): ResidualTail {
    return (this.res ??= new ResidualTail((this.s.lr ??= [])));
  }

  /**
   * Records a finished bucket (start time and value). Buckets must be pushed in time order. An `anomalous`
   * bucket (one that alerted) counts in the medians and the level (a lasting shift is still learned) but not in
   * the dispersion nor the residual tail, so one incident does not hide the next one of its size.
   */
  push(t: number, value: number, anomalous = false): void {
    if (!Number.isFinite(value) || value < 0) value = 0;
    const s = this.s;
    s.weekly[this.weekSlot(t)] = keep(s.weekly[this.weekSlot(t)], value, WEEKS);
    s.daily[this.daySlot(t)] = keep(s.daily[this.daySlot(t)], value, DAYS);
    if (s.n >= 1) s.resid = keep(s.resid, anomalous ? [value, this.seasonal(t), 1] : [value, this.seasonal(t)], RECENT) as BaselineState['resid'];
    // Residuals only once the slot has history: learning-period misfits would stay in the tail for weeks.
    if (!anomalous && s.weekly[this.weekSlot(t)].length > 0) this.residuals().add(Math.log((value + 1) / (this.expect(t).mu + 1)));
    s.n++;
    s.sum += value;
    s.last = t;
  }
}

/**
 * The residual model: a ring of log-ratio residuals (the array is the caller's serializable state) and a
 * peaks-over-threshold fit of each tail, refitted at most every 1% of the ring, so an update is O(1) amortized.
 */
export class ResidualTail {
  private fit: { up: Tail; lo: Tail } | null = null;
  private since = 0;
  constructor(
    readonly values: number[],
    private readonly cap = LR_MAX,
  ) {}

  add(r: number): void {
    keep(this.values, Number.isFinite(r) ? r : 0, this.cap);
    this.since++;
  }

  /** P(R ≥ r) and P(R ≤ r), or null with fewer than 100 residuals. */
  p(r: number): { upper: number; lower: number } | null {
    if (this.values.length < LR_MIN) return null;
    // Refit after 10% of the ring changed: one sort per refit serves both tails.
    if (!this.fit || this.since > Math.max(8, this.values.length / 10)) {
      const sorted = Float64Array.from(this.values).sort();
      const neg = sorted.map((v) => -v).reverse();
      this.fit = { up: fitSorted(sorted), lo: fitSorted(neg) };
      this.since = 0;
    }
    return { upper: tailProb(this.fit.up, r), lower: tailProb(this.fit.lo, -r) };
  }
}

/** Tail model of ascending residuals: threshold at the 95th percentile and the mean excess beyond it. */
function fitSorted(sorted: Float64Array): Tail {
  const n = sorted.length;
  const from = Math.floor(n * (1 - TAIL_Q));
  const u = sorted[from];
  let sum = 0;
  let k = 0;
  for (let i = from + 1; i < n; i++) {
    if (sorted[i] > u) {
      sum += sorted[i] - u;
      k++;
    }
  }
  return { sorted, u, beta: Math.max(k ? sum / k : 0, 0.05) };
}

/**
 * P(R ≥ r): empirical within the residuals seen, and beyond the largest of them an exponential tail anchored
 * there (the mean excess over the 95th percentile as its scale): a value past everything in the key's history
 * is as rare as one in the history's length, and rarer the further past it.
 */
function tailProb(t: Tail, r: number): number {
  const n = t.sorted.length;
  const max = t.sorted[n - 1];
  if (r > max) return Math.exp(-(r - max) / t.beta) / (n + 1);
  // count of residuals ≥ r, by binary search
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t.sorted[mid] < r) lo = mid + 1;
    else hi = mid;
  }
  return (n - lo + 1) / (n + 1);
}

/** Median of a short array (sorted in place: the caller passes a copy). */
function smallMedian(a: Float64Array): number {
  a.sort();
  const h = a.length >> 1;
  return a.length % 2 ? a[h] : (a[h - 1] + a[h]) / 2;
}

function keep<T>(a: T[], v: T, max: number): T[] {
  a.push(v);
  if (a.length > max) a.splice(0, a.length - max);
  return a;
}

/**
 * Tail probability of observing `x` in a bucket expected to hold `e` (scaled by `fraction` of the bucket):
 * the upper tail for spikes, the lower one for drops. Count series use the negative binomial; others (real
 * values, or large counts) a normal tail on the robust residual scale.
 */
export function tailP(x: number, e: Expectation, fraction = 1, counts = true, base?: SeasonalBaseline): { upper: number; lower: number } {
  const p = parametric(x, e, fraction, counts);
  const r = fraction === 1 ? base?.residualTail(x, e.mu) : null;
  return r ? { upper: Math.max(p.upper, r.upper), lower: Math.max(p.lower, r.lower) } : p;
}

function parametric(x: number, e: Expectation, fraction: number, counts: boolean): { upper: number; lower: number } {
  const mu = e.mu * fraction;
  if (counts && mu < 5000) {
    const size = Number.isFinite(e.size) ? e.size * fraction : e.size;
    return { upper: negBinUpper(Math.ceil(x), mu, size), lower: negBinLower(Math.floor(x), mu, size) };
  }
  const floor = Math.max(Math.sqrt(Math.max(mu, 0)) * (counts ? 1 : 0), Math.abs(mu) * 0.01, 1e-9);
  const scale = Math.max(e.scale * Math.sqrt(fraction), floor);
  const z = (x - mu) / scale;
  return { upper: clamp01(normalUpper(z)), lower: clamp01(normalUpper(-z)) };
}
