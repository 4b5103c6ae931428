/**
 * The live change feed: one poller per HTTP server reads the transactions committed since the last tick
 * (by commit_seq, on an index) and hands them to every Server-Sent Events client, and to the metrics.
 *
 * Why polling the store rather than a hook in the writer: the feed then shows exactly what a reader of the
 * store sees (committed, masked), costs one index lookup per tick when nothing changed, and needs nothing
 * from the capture path. The price is up to one tick (250 ms) of delay.
 *
 * Bounded memory: at most `maxTxPerTick` transactions are read per tick (a burst is read over several
 * ticks) and streamed, not collected; a client gets at most `maxEventsPerTick` events per tick (the rest are counted in a `skipped`
 * event, so the page says it shows a sample), and a client that does not read (its socket buffer grows
 * past `maxBufferedBytes`) is disconnected. At most `maxClients` streams are open at once.
 */
import type { ServerResponse } from 'node:http';
import type { ChangeEvent } from '../model/index.js';
import type { Store } from '../store/index.js';

export interface FeedOptions {
  intervalMs?: number;
  maxTxPerTick?: number;
  maxEventsPerTick?: number;
  maxBufferedBytes?: number;
  maxClients?: number;
  /** Called with every committed change read, in commit order (metrics). */
  onEvent?: (event: ChangeEvent, readAtMs: number) => void;
  onError?: (e: unknown) => void;
}

interface Client {
  res: ServerResponse;
}

export class LiveFeed {
  private last: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly clients = new Set<Client>();
  private readonly o: Required<Omit<FeedOptions, 'onEvent' | 'onError'>> & Pick<FeedOptions, 'onEvent' | 'onError'>;
  /** Clients dropped for not reading (for tests and logs). */
  dropped = 0;

  constructor(
    private readonly store: Store,
    opts: FeedOptions = {},
  ) {
    this.o = { intervalMs: 250, maxTxPerTick: 2000, maxEventsPerTick: 200, maxBufferedBytes: 1 << 20, maxClients: 32, ...opts };
    this.last = store.latestSeq();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Adds an SSE client (headers are written here); false when the feed is full. */
  subscribe(res: ServerResponse): boolean {
    if (this.clients.size >= this.o.maxClients) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // retry: how long the browser waits before reconnecting after a drop.
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ seq: this.last })}\n\n`);
    const c: Client = { res };
    this.clients.add(c);
    res.on('close', () => this.clients.delete(c));
    return true;
  }

  /**
   * One poll: reads what was committed since the last tick and sends it. Streams the rows: however large a
   * transaction, only the last `maxEventsPerTick` events are held (a ring), the rest are counted.
   */
  tick(): void {
    const keep = this.o.maxEventsPerTick;
    const ring: ChangeEvent[] = [];
    let read = 0;
    let seq = this.last;
    const at = Date.now();
    try {
      if (this.store.latestSeq() <= this.last) return this.heartbeat();
      for (const e of this.store.eventsAfter(this.last, this.o.maxTxPerTick)) {
        this.o.onEvent?.(e.event, at);
        ring[read % keep] = e.event;
        read++;
        seq = e.seq;
      }
    } catch (e) {
      this.o.onError?.(e);
      return;
    }
    this.last = seq;
    // The ring in commit order: oldest kept first.
    const events = read <= keep ? ring : [...ring.slice(read % keep), ...ring.slice(0, read % keep)];
    const skipped = read - events.length;
    let payload = events.map((ev) => `event: change\ndata: ${JSON.stringify(ev)}\n\n`).join('');
    if (skipped) payload += `event: skipped\ndata: ${JSON.stringify({ count: skipped })}\n\n`;
    this.send(payload);
  }

  private heartbeat(): void {
    // A comment line every ~15 s keeps proxies from closing an idle stream.
    if (Date.now() % 15_000 < this.o.intervalMs) this.send(': keep-alive\n\n');
  }

  private send(payload: string): void {
    for (const c of this.clients) {
      if (c.res.writableLength > this.o.maxBufferedBytes) {
        // A client that does not read: drop it rather than buffer without bound.
        this.dropped++;
        this.clients.delete(c);
        c.res.destroy();
        continue;
      }
      c.res.write(payload);
    }
  }
}
