/**
 * The Elasticsearch client from the `elasticsearch:` config, and the one-line reasons of its failures.
 *
 * `@elastic/elasticsearch` 8.19 sends `compatible-with=8` media types (Accept and Content-Type:
 * `application/vnd.elasticsearch+json; compatible-with=8`), which Elasticsearch 8.x serves natively and 9.x
 * serves through REST API compatibility; it checks that the server is Elasticsearch (`x-elastic-product`).
 * Supported: Elasticsearch 8.14+ and 9.x (data stream lifecycle is GA from 8.14; `lifecycle: ilm` works on
 * any 8.x that the client accepts).
 */
import { readFileSync } from 'node:fs';
import { Client, errors, type ClientOptions } from '@elastic/elasticsearch';
import type { Config } from '../../config/index.js';
import { RowtrailError } from '../../errors.js';

export type EsConfig = NonNullable<Config['elasticsearch']>;

/** The configured node URLs (`node` first, then `nodes`). */
export function esNodes(cfg: EsConfig): string[] {
  return [...new Set([...(cfg.node ? [cfg.node] : []), ...(cfg.nodes ?? [])])];
}

/** The Authorization header for Kibana (the same credentials as Elasticsearch), or undefined. */
export function authHeader(cfg: EsConfig): string | undefined {
  if (cfg.apiKey) return `ApiKey ${cfg.apiKey}`;
  if (cfg.username) return `Basic ${Buffer.from(`${cfg.username}:${cfg.password ?? ''}`).toString('base64')}`;
  return undefined;
}

/**
 * A client; `extra` lets tests pass the mock's Connection class. Retries are the sink's (with its backoff and
 * its log lines), so the transport's own are off.
 */
export function createEsClient(cfg: EsConfig, extra: Partial<ClientOptions> = {}): Client {
  let ca: string | undefined;
  if (cfg.caFile) {
    try {
      ca = readFileSync(cfg.caFile, 'utf8');
    } catch (e: any) {
      throw new RowtrailError('CONFIG', `elasticsearch.caFile: cannot read ${cfg.caFile}: ${e?.code ?? e?.message}`, e);
    }
  }
  return new Client({
    nodes: esNodes(cfg),
    auth: cfg.apiKey ? { apiKey: cfg.apiKey } : cfg.username ? { username: cfg.username, password: cfg.password ?? '' } : undefined,
    tls: ca ? { ca } : undefined,
    maxRetries: 0,
    requestTimeout: 60_000,
    compression: false,
    name: 'rowtrail',
    ...extra,
  });
}

/** One line that says what went wrong with a request and what fixes it (never the credentials). */
export function describeEsError(e: unknown): { retry: boolean; status: number; message: string } {
  if (e instanceof errors.ResponseError) {
    const status = e.statusCode ?? 0;
    const body = e.body as { error?: { type?: string; reason?: string } } | undefined;
    const why = body?.error?.reason ?? body?.error?.type ?? e.message;
    if (status === 401) return { retry: true, status, message: `Elasticsearch refused the credentials (401): check elasticsearch.apiKey or username/password` };
    if (status === 403) return { retry: true, status, message: `Elasticsearch denied the request (403): the credentials lack a privilege: ${why}` };
    if (status === 429) return { retry: true, status, message: `Elasticsearch is overloaded (429): ${why}` };
    if (status >= 500) return { retry: true, status, message: `Elasticsearch failed the request (${status}): ${why}` };
    return { retry: true, status, message: `Elasticsearch rejected the request (${status}): ${why}` };
  }
  if (e instanceof errors.ProductNotSupportedError) {
    return { retry: true, status: 0, message: 'the server at elasticsearch.node is not Elasticsearch (8.x or 9.x)' };
  }
  if (e instanceof errors.ConnectionError || e instanceof errors.TimeoutError || e instanceof errors.NoLivingConnectionsError) {
    return { retry: true, status: 0, message: `cannot reach Elasticsearch: ${e.message}` };
  }
  return { retry: true, status: 0, message: `Elasticsearch request failed: ${(e as Error)?.message ?? String(e)}` };
}
