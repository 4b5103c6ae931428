/**
 * `rowtrail setup elastic`: installs the templates (es-templates.ts) in Elasticsearch and imports the Kibana
 * saved objects of dashboards/ (NDJSON) through Kibana's saved objects import API with `overwrite=true`.
 * Both are idempotent: running it again puts the same templates and overwrites the same objects (fixed ids).
 * When the templates' version changed, existing data streams are rolled over so new documents get the new
 * mappings at once (a backing index keeps the mapping it was created with).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { RowtrailError } from '../../errors.js';
import { sleep } from '../../sources/backoff.js';
import { streamNames } from './es-documents.js';
import { TEMPLATE_VERSION, templateSet } from './es-templates.js';
import { authHeader, describeEsError, type EsConfig } from './es-client.js';

export interface SetupResult {
  templates: string[];
  rolledOver: string[];
  dashboards: { file: string; objects: number }[];
  notes: string[];
}

/** The folder of the Kibana saved objects: `dashboards/` at the package root (from src/ or dist/src/). */
export function dashboardsDir(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 6; i++) {
    const d = join(dir, 'dashboards');
    if (existsSync(join(d, '10-rowtrail-overview.ndjson'))) return d;
    dir = dirname(dir);
  }
  throw new RowtrailError('INTERNAL', 'the dashboards/ folder of this rowtrail package is missing');
}

/** The NDJSON files of dashboards/ in import order (their names start with a number: data views first). */
export function dashboardFiles(dir = dashboardsDir()): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()
    .map((f) => join(dir, f));
}

/** Puts the ILM policy (lifecycle: ilm), the component templates and the index templates. */
export async function installTemplates(client: Client, cfg: EsConfig): Promise<{ templates: string[]; rolledOver: string[] }> {
  const set = templateSet({ namespace: cfg.namespace, retention: cfg.retention, lifecycle: cfg.lifecycle });
  const names = streamNames(cfg.namespace);
  const done: string[] = [];
  const step = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw new RowtrailError('ELASTICSEARCH', `${what}: ${describeEsError(e).message}`, e);
    }
  };
  const before = await step('reading the installed templates', async () => {
    const r = await client.indices.getIndexTemplate({ name: 'rowtrail-*' }).catch((e) => {
      if ((e as { statusCode?: number }).statusCode === 404) return { index_templates: [] };
      throw e;
    });
    return new Map(r.index_templates.map((t) => [t.name, t.index_template.version ?? null]));
  });
  if (set.ilmPolicy) {
    await step(`putting ILM policy ${set.ilmPolicy.name}`, () => client.ilm.putLifecycle(set.ilmPolicy!));
    done.push(`ilm policy ${set.ilmPolicy.name}`);
  }
  for (const c of set.components) {
    await step(`putting component template ${c.name}`, () => client.cluster.putComponentTemplate(c));
    done.push(`component template ${c.name}`);
  }
  for (const t of set.indexTemplates) {
    await step(`putting index template ${t.name}`, () => client.indices.putIndexTemplate(t));
    done.push(`index template ${t.name}`);
  }
  const rolledOver: string[] = [];
  for (const stream of [names.changes, names.alerts]) {
    const was = before.get(stream);
    if (was === undefined || was === TEMPLATE_VERSION) continue;
    const exists = await step(`checking data stream ${stream}`, () => client.indices.exists({ index: stream }));
    if (!exists) continue;
    await step(`rolling over ${stream} to the new mappings`, () => client.indices.rollover({ alias: stream }));
    rolledOver.push(stream);
  }
  return { templates: done, rolledOver };
}

/** Waits until Kibana answers its status API (it takes a minute to start beside a fresh cluster). */
async function waitForKibana(url: string, headers: Record<string, string>, waitMs: number): Promise<void> {
  const until = Date.now() + waitMs;
  let last = '';
  for (;;) {
    try {
      const r = await fetch(new URL('api/status', url), { headers, signal: AbortSignal.timeout(10_000) });
      if (r.status === 200) return;
      if (r.status === 401 || r.status === 403) {
        throw new RowtrailError(
          'ELASTICSEARCH',
          `Kibana at ${url} refused the credentials (${r.status}): it takes the same apiKey or username/password as Elasticsearch`,
        );
      }
      last = `HTTP ${r.status}`;
    } catch (e) {
      if (e instanceof RowtrailError) throw e;
      last = (e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    }
    if (Date.now() >= until) throw new RowtrailError('ELASTICSEARCH', `Kibana at ${url} is not ready (${last}); check elasticsearch.kibanaUrl`);
    await sleep(1_000);
  }
}

/** Imports one NDJSON file through the saved objects import API (overwrite); returns how many objects it took. */
export async function importSavedObjects(url: string, file: string, headers: Record<string, string>): Promise<number> {
  const form = new FormData();
  form.append('file', new Blob([readFileSync(file)], { type: 'application/ndjson' }), file.split('/').pop()!);
  let r: Response;
  try {
    r = await fetch(new URL('api/saved_objects/_import?overwrite=true', url), {
      method: 'POST',
      headers: { ...headers, 'kbn-xsrf': 'rowtrail' },
      body: form,
      signal: AbortSignal.timeout(60_000),
    });
  } catch (e) {
    const why = (e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new RowtrailError('ELASTICSEARCH', `cannot reach Kibana at ${url}: ${why}`, e);
  }
  const text = await r.text();
  let body: { success?: boolean; successCount?: number; errors?: { id: string; type: string; error: { type: string; message?: string } }[]; message?: string };
  try {
    body = JSON.parse(text);
  } catch {
    body = { message: text.slice(0, 200) };
  }
  if (r.status !== 200 || body.success !== true) {
    const errs = (body.errors ?? []).map((e) => `${e.type} ${e.id}: ${e.error.type}${e.error.message ? ` (${e.error.message})` : ''}`);
    throw new RowtrailError('ELASTICSEARCH', `Kibana did not import ${file} (HTTP ${r.status}): ${errs.join('; ') || body.message || 'no reason given'}`);
  }
  return body.successCount ?? 0;
}

/** Templates, then dashboards (when elasticsearch.kibanaUrl is set). */
export async function setupElastic(client: Client, cfg: EsConfig, opts: { kibanaWaitMs?: number; files?: string[] } = {}): Promise<SetupResult> {
  const { templates, rolledOver } = await installTemplates(client, cfg);
  const notes: string[] = [];
  const dashboards: { file: string; objects: number }[] = [];
  if (!cfg.kibanaUrl) {
    notes.push('dashboards not imported: set elasticsearch.kibanaUrl (or ROWTRAIL_KIBANA_URL) to import them');
  } else {
    const auth = authHeader(cfg);
    const headers: Record<string, string> = auth ? { authorization: auth } : {};
    const url = cfg.kibanaUrl.endsWith('/') ? cfg.kibanaUrl : `${cfg.kibanaUrl}/`;
    await waitForKibana(url, headers, opts.kibanaWaitMs ?? 180_000);
    for (const f of opts.files ?? dashboardFiles()) dashboards.push({ file: f.split('/').pop()!, objects: await importSavedObjects(url, f, headers) });
  }
  return { templates, rolledOver, dashboards, notes };
}
