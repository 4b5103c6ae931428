/**
 * fast-check parameters for the differential tests: a seed that is printed and can be replayed.
 *
 * - ROWTRAIL_FC_SEED: replay a failing run (the seed is in the failure message and printed at the start).
 * - ROWTRAIL_FC_RUNS: more runs than the default when hunting (the default keeps each file under a minute).
 * - ROWTRAIL_FC_SHRINK=1: shrink a failure to a minimal workload. Off by default: every shrink step replays a
 *   workload against a real server, which can take minutes; the seed alone reproduces the failure.
 */
import type { Parameters, RunDetails } from 'fast-check';

/**
 * `ciSeed`: the seed under CI (CI set, no ROWTRAIL_FC_SEED), for a test whose random seeds are known to hit an
 * open bug: the gate stays deterministic while local runs keep exploring. Name the failing seeds beside it.
 */
export function fcParams<T>(name: string, defaultRuns: number, opts: { ciSeed?: number } = {}): Parameters<T> {
  const random = () => Date.now() ^ (Math.random() * 0x7fffffff);
  const seed = process.env.ROWTRAIL_FC_SEED
    ? Number(process.env.ROWTRAIL_FC_SEED)
    : process.env.CI && opts.ciSeed !== undefined
      ? opts.ciSeed
      : random();
  const numRuns = process.env.ROWTRAIL_FC_RUNS ? Number(process.env.ROWTRAIL_FC_RUNS) : defaultRuns;
  console.log(`[${name}] fast-check seed=${seed} numRuns=${numRuns} (replay: ROWTRAIL_FC_SEED=${seed})`);
  return { seed, numRuns, endOnFailure: process.env.ROWTRAIL_FC_SHRINK !== '1', verbose: 1 };
}

/** Throws the property's own error with the seed and path to replay it (not the whole generated value). */
export function failOn<T>(out: RunDetails<T>): void {
  if (!out.failed) return;
  const err = out.errorInstance as Error | undefined;
  throw new Error(
    `property failed after ${out.numRuns} run(s); replay: ROWTRAIL_FC_SEED=${out.seed} (path ${out.counterexamplePath})\n${err?.message ?? String(out.errorInstance)}`,
    { cause: err },
  );
}
