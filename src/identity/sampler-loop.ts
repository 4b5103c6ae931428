/**
 * The loop both samplers share: connect, sample every `intervalMs` (a sample never overlaps the next),
 * reconnect after a failure, stop on stop() or abort. Subclasses say how to connect, sample and close.
 *
 * After a failure the next attempt waits with the sources' backoff (sources/backoff.ts: 0.5 s doubling to
 * 30 s, jittered) instead of the sampling interval: a wrong password or a server that is down must not mean
 * a login every 20 ms against the user's database. Each failure class (driver code: SQLSTATE, errno) is
 * logged once until sampling works again.
 */
import type { Logger } from '../log/index.js';
import { backoff } from '../sources/backoff.js';
import { oneLine } from '../errors.js';
import { redactUrls } from '../log/index.js';
import { SampledSessions } from './session-index.js';

/** Longest wait between two attempts after failures (ms). */
const MAX_RETRY_MS = 30_000;

export abstract class SamplerLoop {
  readonly index: SampledSessions;
  protected connected = false;
  protected errors = 0;
  protected samples = 0;
  /** Consecutive failures (0 while sampling works). */
  private failures = 0;
  /** The failure class last logged, so a repeated failure is logged once. */
  private failureClass: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;

  constructor(
    protected readonly intervalMs: number,
    protected readonly log: Logger | undefined,
    private readonly what: string,
  ) {
    this.index = new SampledSessions();
  }

  protected abstract connect(): Promise<void>;
  protected abstract sample(): Promise<void>;
  protected abstract close(): Promise<void>;

  /** Connects and takes a first sample, then keeps sampling until stop() or abort. Never rejects. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    await this.tick();
    this.schedule();
  }

  /** One sample now (connecting first when needed); failures are counted, logged and retried later. */
  async tick(): Promise<void> {
    try {
      if (!this.connected) {
        await this.connect();
        // stop() ran while connecting: it could not close a connection that did not exist yet.
        if (this.stopped) return void (await this.close().catch(() => undefined));
        this.connected = true;
      }
      await this.sample();
      this.samples++;
      if (this.failures > 0) this.log?.info(`identity sampler: reading ${this.what} again after ${this.failures} failed attempt(s)`);
      this.failures = 0;
      this.failureClass = null;
    } catch (e) {
      this.errors++;
      this.failures++;
      const cls = failureClass(e);
      if (cls !== this.failureClass && !this.stopped) {
        this.failureClass = cls;
        this.log?.warn(`identity sampler: cannot read ${this.what} (${redactUrls(oneLine(e))}); retrying with backoff up to ${MAX_RETRY_MS / 1000} s`);
      }
      this.connected = false;
      await this.close().catch(() => undefined);
    }
  }

  /** The wait before the next tick: the interval while sampling works, backoff after failures. */
  private nextDelay(): number {
    if (this.failures === 0) return this.intervalMs;
    return Math.max(this.intervalMs, backoff(this.failures - 1, 500, MAX_RETRY_MS));
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.nextDelay());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connected = false;
    await this.close().catch(() => undefined);
  }
}

/** What kind of failure (the driver's code: SQLSTATE, errno, or the error's name). */
function failureClass(e: unknown): string {
  const x = e as { code?: unknown; errno?: unknown; name?: unknown } | null;
  return String(x?.code ?? x?.errno ?? x?.name ?? 'unknown');
}
