/**
 * The daemon's HTTP endpoint (I/O edge), on Fastify: `/healthz` (no token; JSON per source, 200 healthy /
 * 503 not, see health.ts), Prometheus `/metrics` (metrics.ts), the JSON API `/api/v1/…` (api.ts) with its
 * live feed (feed.ts), and the web UI (ui.ts). Everything but `/healthz`, the UI's static files and the
 * login itself needs the token (auth.ts).
 *
 * Binds to 127.0.0.1 by default; the token comes from the config, ROWTRAIL_HTTP_TOKEN, or is generated
 * once into `<store>/http-token` (mode 0600). It is never logged: Fastify's request logging is off, and
 * the one-time link carries it in the URL fragment, which browsers never send to a server.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/index.js';
import { oneLine, RowtrailError } from '../errors.js';
import { redactUrls, type Logger } from '../log/index.js';
import { Store } from '../store/index.js';
import { createMetrics, type AlertChannelMetrics, type SourceMetrics } from './metrics.js';
import type { SinkStats } from '../sinks/elasticsearch/index.js';
import type { HealthReport } from './health.js';
import { authorized, sessionCookie, tokenMatches } from './auth.js';
import { LiveFeed } from './feed.js';
import { registerApi } from './api.js';
import { loadAssets, UI_HEADERS } from './ui.js';

export interface HttpOptions {
  host: string;
  port: number;
  token: string;
  metrics: () => SourceMetrics[];
  /** The current verdict (health.ts `assessHealth`). */
  health: () => HealthReport;
  /** The config (sources for the undo preview); with `storeDir`, the API and UI are served. */
  config?: Config;
  /** The store's directory: the API reads it on a read-only connection of its own. */
  storeDir?: string;
  /** Alert delivery per channel, for /metrics (none without channels). */
  alerts?: () => AlertChannelMetrics[];
  /** The Elasticsearch sink's stats, null without one. */
  sink?: () => SinkStats | null;
  log?: Logger;
  /** The feed's poll interval (default 250 ms). */
  feedIntervalMs?: number;
}

export interface HttpServer {
  app: FastifyInstance;
  /** `http://host:port` as bound (port 0 resolved). */
  url: string;
  port: number;
  feed: LiveFeed | null;
  close(): Promise<void>;
}

/** The configured token, or one generated into the store directory and reused. */
export function httpToken(configured: string | undefined, storeDir: string): string {
  if (configured) return configured;
  const file = join(storeDir, 'http-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const t = randomBytes(24).toString('base64url');
  writeFileSync(file, t + '\n', { mode: 0o600 });
  return t;
}

/**
 * Stops listening and closes every connection, idle keep-alive ones and live feeds included: a stopped
 * daemon must exit, and an open socket (a Prometheus scraper, a browser) would otherwise keep it alive.
 */
export function stopHttp(server: HttpServer): Promise<void> {
  return server.close();
}

function storeBytes(dir: string): number {
  let n = 0;
  for (const f of ['rowtrail.db', 'rowtrail.db-wal']) {
    try {
      n += statSync(join(dir, f)).size;
    } catch {
      /* absent */
    }
  }
  return n;
}

function statusOf(e: FastifyError | RowtrailError): number {
  if (e instanceof RowtrailError) return e.code === 'USAGE' ? 400 : e.code === 'NOT_FOUND' ? 404 : e.code === 'CONFIG' ? 400 : 500;
  if ((e as FastifyError).validation) return 400;
  const s = (e as FastifyError).statusCode;
  return typeof s === 'number' && s >= 400 && s < 600 ? s : 500;
}

export async function startHttp(opts: HttpOptions): Promise<HttpServer> {
  const log = opts.log;
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    // Unknown query parameters are an error (400 naming them), not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    // Closing lets in-flight requests finish but never waits on an idle keep-alive socket.
    forceCloseConnections: true,
  });
  const store = opts.storeDir ? Store.open(opts.storeDir, { readonly: true }) : null;
  const metrics = createMetrics({
    sources: opts.metrics,
    alertChannels: opts.alerts,
    sink: opts.sink,
    storeBytes: opts.storeDir ? () => storeBytes(opts.storeDir!) : undefined,
    alerts: store
      ? () => {
          const counts = new Map<string, { severity: string; state: string; n: number }>();
          for (const a of store.alerts({})) {
            const k = `${a.severity}/${a.state}`;
            const c = counts.get(k) ?? { severity: a.severity, state: a.state, n: 0 };
            c.n++;
            counts.set(k, c);
          }
          return [...counts.values()];
        }
      : undefined,
  });
  const feed = store
    ? new LiveFeed(store, {
        intervalMs: opts.feedIntervalMs,
        onEvent: (ev, at) => metrics.observe(ev, at),
        onError: (e) => log?.warn({ err: oneLine(e) }, 'live feed: reading the store failed; will retry'),
      })
    : null;

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0];
    const open = path === '/healthz' || path === '/' || path.startsWith('/ui/') || path === '/api/v1/session';
    if (open) return;
    if (!authorized(req.headers, opts.token)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong token: send Authorization: Bearer <token>, or log in' });
    }
  });

  app.setErrorHandler((e: FastifyError, _req, reply) => {
    const status = statusOf(e);
    if (status >= 500) log?.warn({ err: redactUrls(oneLine(e)) }, 'http: request failed');
    reply.code(status).send({ error: redactUrls(oneLine(e)) });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: `no such path: ${req.method} ${req.url.split('?')[0].slice(0, 200)}` });
  });

  app.get('/healthz', async (_req, reply) => {
    const h = opts.health();
    reply.code(h.healthy ? 200 : 503);
    return { status: h.healthy ? 'ok' : 'unhealthy', sources: h.sources };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  if (store && opts.config && feed) {
    const assets = loadAssets();
    const page = (name: string) => async (_req: unknown, reply: import('fastify').FastifyReply) => {
      const a = assets.get(name)!;
      reply.headers(UI_HEADERS).type(a.type);
      return a.body;
    };
    app.get('/', page('index.html'));
    for (const name of assets.keys()) if (name !== 'index.html') app.get(`/ui/${name}`, page(name));

    app.post<{ Body: { token: string } }>(
      '/api/v1/session',
      {
        schema: {
          body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', maxLength: 512 } } },
        },
      },
      async (req, reply) => {
        if (!tokenMatches(req.body.token, opts.token)) {
          reply.code(401);
          return { error: 'wrong token' };
        }
        reply.header('set-cookie', sessionCookie(opts.token)).code(204);
        return null;
      },
    );
    app.delete('/api/v1/session', async (_req, reply) => {
      reply.header('set-cookie', sessionCookie(null)).code(204);
      return null;
    });

    const cfg = opts.config;
    registerApi(app, {
      store,
      config: cfg,
      feed,
      sources: () => {
        const h = opts.health();
        return opts.metrics().map((m) => ({
          name: m.name,
          kind: m.kind,
          ...h.sources[m.name],
          changes: m.stats.changes,
          transactions: m.stats.transactions,
          position: m.stats.position,
          attribution: m.identity,
        }));
      },
    });
    feed.start();
  }

  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (e) {
    feed?.stop();
    store?.close();
    const err = e as NodeJS.ErrnoException;
    throw new RowtrailError(
      'CONFIG',
      err.code === 'EADDRINUSE'
        ? `http: ${opts.host}:${opts.port} is in use; set http.port (or ROWTRAIL_HTTP_PORT)`
        : `http: cannot listen on ${opts.host}:${opts.port}: ${err.message}`,
      e,
    );
  }
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed = false;
  return {
    app,
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    feed,
    async close() {
      if (closed) return;
      closed = true;
      feed?.stop();
      await app.close();
      store?.close();
    },
  };
}
