/**
 * A minimal TCP proxy for the PostgreSQL source's fault tests: `pass` forwards, `blackhole` stops forwarding
 * in both directions without closing anything (a network partition as the endpoints see it: silence). New
 * connections made during a blackhole are accepted and held, never forwarded. Connections that saw a
 * blackhole stay dead after `pass` (their bytes were dropped); new ones forward again.
 */
import net from 'node:net';

export interface BlackholeProxy {
  port: number;
  /** `postgres://…` URL through the proxy for a URL of the real server. */
  via(url: string): string;
  pass(): void;
  blackhole(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<BlackholeProxy> {
  let holing = false;
  const sockets = new Set<net.Socket>();
  const live = new Set<{ dead: boolean }>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    track(client);
    if (holing) return; // accepted, never answered
    const upstream = net.connect(targetPort, '127.0.0.1');
    track(upstream);
    const pair = { dead: false };
    live.add(pair);
    client.on('data', (d) => pair.dead || upstream.write(d));
    upstream.on('data', (d) => pair.dead || client.write(d));
    client.on('close', () => pair.dead || upstream.destroy());
    upstream.on('close', () => pair.dead || client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    via(url) {
      const u = new URL(url);
      u.port = String(port);
      return u.toString();
    },
    pass() {
      holing = false;
    },
    blackhole() {
      holing = true;
      for (const p of live) p.dead = true;
      live.clear();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
