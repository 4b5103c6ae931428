/**
 * The loop both samplers share: connect, sample every `intervalMs` (a sample never overlaps the next),
 * reconnect after a failure, stop on stop() or abort. Subclasses say how to connect, sample and close.
 */
import type { Logger } from '../log/index.js';
import { SampledSessions } from './session-index.js';

export abstract class SamplerLoop {
  readonly index: SampledSessions;
  protected connected = false;
  protected errors = 0;
  protected samples = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

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
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    await this.tick();
    this.schedule();
  }

  /** One sample now (connecting first when needed); failures are counted, logged and retried later. */
  async tick(): Promise<void> {
    try {
      if (!this.connected) {
        await this.connect();
        this.connected = true;
      }
      await this.sample();
      this.samples++;
    } catch (e) {
      this.errors++;
      if (this.errors === 1 || this.errors % 1000 === 0) this.log?.warn({ err: e }, `identity sampler: cannot read ${this.what}; retrying`);
      this.connected = false;
      await this.close().catch(() => undefined);
    }
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connected = false;
    await this.close().catch(() => undefined);
  }
}
