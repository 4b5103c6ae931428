/**
 * A TCP proxy for fault tests, between rowtrail and a database, switchable at run time:
 *
 * - `pass`: forwards both ways.
 * - `delay`: forwards both ways after `ms` (order kept per direction).
 * - `blackhole`: stops forwarding and keeps every socket open, like a network partition or a dropped NAT
 *   entry: not even a close crosses it (the server ending its side is not seen by the client). The
 *   connections that saw the blackhole stay dead after switching back (their packets are gone; only a
 *   watchdog on the client can notice); connections made after the switch pass again.
 * - `reset`: destroys every open connection once (both sides see the connection end), then passes.
 * - `refuse`: closes the listener (new connections get ECONNREFUSED) and destroys open connections; the
 *   next other mode listens again on the same port.
 *
 * Events (`connect`, mode changes) are counted and timestamped so tests can tell when a client reconnected.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

export type ProxyMode = { kind: 'pass' } | { kind: 'delay'; ms: number } | { kind: 'blackhole' } | { kind: 'reset' } | { kind: 'refuse' };

export interface ProxyEvent {
  at: number;
  what: 'connect' | 'close' | 'mode';
  detail: string;
}

export interface TcpProxy {
  /** The port clients connect to (stays the same across `refuse`). */
  readonly port: number;
  readonly mode: ProxyMode['kind'];
  /** Open client connections. */
  readonly open: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  readonly events: ProxyEvent[];
  set(mode: ProxyMode): Promise<void>;
  /** `postgres://…@127.0.0.1:<target>/…` → the same URL through the proxy. */
  rewrite(url: string): string;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  server: Socket;
  /** Saw a blackhole: never forwards again. */
  dead: boolean;
}

/** Starts a proxy on a free port of 127.0.0.1 forwarding to `127.0.0.1:targetPort`, in `pass` mode. */
export async function startProxy(targetPort: number, opts: { host?: string } = {}): Promise<TcpProxy> {
  const host = opts.host ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  const events: ProxyEvent[] = [];
  let mode: ProxyMode = { kind: 'pass' };
  let accepted = 0;
  let server: Server | null = null;

  const note = (what: ProxyEvent['what'], detail: string) => events.push({ at: Date.now(), what, detail });

  function forward(pair: Pair, from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (pair.dead) return;
      if (mode.kind === 'blackhole') {
        pair.dead = true;
        return;
      }
      if (mode.kind === 'delay') {
        // Pause reading while a delayed chunk is pending: keeps order and applies backpressure.
        from.pause();
        setTimeout(() => {
          if (!pair.dead && !to.destroyed) to.write(chunk);
          from.resume();
        }, mode.ms);
        return;
      }
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
  }

  function onConnection(client: Socket): void {
    accepted++;
    note('connect', `#${accepted}`);
    const upstream = connect(targetPort, host);
    const pair: Pair = { client, server: upstream, dead: mode.kind === 'blackhole' };
    pairs.add(pair);
    const end = (side: Socket) => {
      // In a partition one side's close never reaches the other: a dead pair only loses the side that closed.
      if (pair.dead && !(client.destroyed && upstream.destroyed)) {
        side.destroy();
        if (!(client.destroyed && upstream.destroyed)) return;
      }
      if (!pairs.delete(pair)) return;
      note('close', `${pairs.size} open`);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      s.on('error', () => end(s));
      s.on('close', () => end(s));
    }
    forward(pair, client, upstream);
    forward(pair, upstream, client);
  }

  async function listen(port: number): Promise<void> {
    const srv = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        srv.off('error', reject);
        resolve();
      });
    });
    server = srv;
  }

  function destroyAll(): void {
    for (const p of [...pairs]) {
      p.client.destroy();
      p.server.destroy();
      pairs.delete(p);
    }
  }

  // A collision between freePort() and listen() (another process took the port): try another one.
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await listen(port);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 9) throw e;
    }
  }

  const proxy: TcpProxy = {
    port,
    get mode() {
      return mode.kind;
    },
    get open() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    events,
    async set(next) {
      note('mode', next.kind === 'delay' ? `delay ${next.ms}` : next.kind);
      if (next.kind === 'blackhole') for (const p of pairs) p.dead = true;
      if (next.kind === 'reset') {
        destroyAll();
        mode = { kind: 'pass' };
      } else if (next.kind === 'refuse') {
        mode = next;
        const srv = server;
        server = null;
        destroyAll();
        if (srv) await new Promise<void>((r) => srv.close(() => r()));
        return;
      } else {
        mode = next;
      }
      if (!server) await listen(port);
    },
    rewrite(url) {
      const u = new URL(url);
      u.host = `127.0.0.1:${port}`;
      return u.toString();
    },
    async close() {
      const srv = server;
      server = null;
      destroyAll();
      if (srv) await new Promise<void>((r) => srv.close(() => r()));
    },
  };
  return proxy;
}
