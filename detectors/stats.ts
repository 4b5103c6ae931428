/**
 * Statistics the detectors need. `simple-statistics` gives ln Γ; what it
 * lacks (count tails: Poisson and negative binomial upper/lower tails through the regularized incomplete
 * gamma and beta functions) is written here, after the standard series/continued-fraction evaluations.
 */
import { gammaln } from 'simple-statistics';

const EPS = 1e-14;
const MAX_ITER = 500;

/** Regularized lower incomplete gamma P(a, x). */
export function gammaP(a: number, x: number): number {
  if (!(x > 0)) return 0;
  if (!(a > 0)) return 1;
  if (x < a + 1) {
    // series
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < MAX_ITER; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * EPS) break;
    }
    return clamp01(sum * Math.exp(-x + a * Math.log(x) - gammaln(a)));
  }
  return clamp01(1 - gammaQcf(a, x));
}

/** Regularized upper incomplete gamma Q(a, x) by Lentz's continued fraction (x ≥ a + 1). */
function gammaQcf(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - gammaln(a)) * h;
}

/** Regularized incomplete beta I_x(a, b). */
export function betaI(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lbeta = gammaln(a + b) - gammaln(a) - gammaln(b);
  const front = Math.exp(lbeta + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return clamp01((front * betaCf(x, a, b)) / a);
  return clamp01(1 - (front * betaCf(1 - x, b, a)) / b);
}

function betaCf(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < 1e-300) d = 1e-300;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < MAX_ITER; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = 1 + aa / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = 1 + aa / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

/** P(X ≥ k) for X ~ Poisson(mu). */
export function poissonUpper(k: number, mu: number): number {
  if (k <= 0) return 1;
  if (!(mu > 0)) return 0;
  return gammaP(Math.floor(k), mu);
}

/** P(X ≤ k) for X ~ Poisson(mu). */
export function poissonLower(k: number, mu: number): number {
  if (k < 0) return 0;
  if (!(mu > 0)) return 1;
  return clamp01(1 - gammaP(Math.floor(k) + 1, mu));
}

/**
 * P(X ≥ k) for a negative binomial with mean `mu` and size `r` (variance mu + mu²/r): overdispersed counts.
 * r = Infinity is Poisson.
 */
export function negBinUpper(k: number, mu: number, r: number): number {
  if (k <= 0) return 1;
  if (!(mu > 0)) return 0;
  if (!Number.isFinite(r) || r > 1e6) return poissonUpper(k, mu);
  const p = r / (r + mu);
  // P(X ≥ k) = 1 - I_p(r, k) = I_{1-p}(k, r)
  return betaI(1 - p, Math.floor(k), r);
}

/** P(X ≤ k) for the negative binomial above. */
export function negBinLower(k: number, mu: number, r: number): number {
  if (k < 0) return 0;
  if (!(mu > 0)) return 1;
  if (!Number.isFinite(r) || r > 1e6) return poissonLower(k, mu);
  const p = r / (r + mu);
  return betaI(p, r, Math.floor(k) + 1);
}

/**
 * Negative-binomial size from a sample's mean and variance (method of moments), kept within [0.02, 50]: never
 * quite Poisson (a few quiet weeks must not make every burst look impossible), and as overdispersed as a
 * bursty key really is.
 */
export function nbSize(mean: number, variance: number): number {
  if (!(mean > 0) || !(variance > mean)) return 50;
  return Math.min(50, Math.max(0.02, (mean * mean) / (variance - mean)));
}

export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : Number.isNaN(x) ? 1 : x;
}

/** P(Z ≥ z) for a standard normal. */
export function normalUpper(z: number): number {
  if (!Number.isFinite(z)) return z > 0 ? 0 : 1;
  // erfc-based for accuracy in the far tail.
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
