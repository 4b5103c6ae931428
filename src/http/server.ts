/**
 * The daemon's HTTP endpoint (I/O edge): `/healthz` (no token; JSON per source, 200 healthy / 503 not, see
 * health.ts) and Prometheus `/metrics` (bearer token).
 * Binds to 127.0.0.1 by default; the token comes from the config, ROWTRAIL_HTTP_TOKEN, or is generated
 * once into `<store>/http-token` (mode 0600) and never logged.
 */
import { createServer, type Server } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RowtrailError } from '../errors.js';
import { renderMetrics, type AlertChannelMetrics, type SourceMetrics } from './metrics.js';
import type { HealthReport } from './health.js';
import type { SinkStats } from '../sinks/elasticsearch/index.js';

export interface HttpOptions {
  host: string;
  port: number;
  token: string;
  metrics: () => SourceMetrics[];
  /** Alert delivery per channel (none without channels). */
  alerts?: () => AlertChannelMetrics[];
  /** The Elasticsearch sink's stats, null without one. */
  sink?: () => SinkStats | null;
  /** The current verdict (health.ts `assessHealth`). */
  health: () => HealthReport;
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

function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Stops listening and closes every connection, idle keep-alive ones included: a stopped daemon must exit,
 * and an open keep-alive socket (a Prometheus scraper, a browser) would otherwise keep the process alive.
 */
export function stopHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export function startHttp(opts: HttpOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/healthz') {
      const h = opts.health();
      const body = { status: h.healthy ? 'ok' : 'unhealthy', sources: h.sources };
      res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
      return;
    }
    if (path === '/metrics') {
      if (!authorized(req.headers.authorization, opts.token)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics(opts.metrics(), opts.alerts?.() ?? [], opts.sink?.() ?? null));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new RowtrailError(
          'CONFIG',
          e.code === 'EADDRINUSE'
            ? `http: ${opts.host}:${opts.port} is in use; set http.port (or ROWTRAIL_HTTP_PORT)`
            : `http: cannot listen on ${opts.host}:${opts.port}: ${e.message}`,
          e,
        ),
      ),
    );
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}
