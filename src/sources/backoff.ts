/** Reconnect delays shared by every source: 0.5 s doubling to 30 s, with ±20% jitter. */
export function backoff(attempt: number, baseMs = 500, maxMs = 30_000): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(d * (0.8 + Math.random() * 0.4));
}

/** Sleeps, returning early when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
