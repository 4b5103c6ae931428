/**
 * `rowtrail setup elastic` as a user runs it, against real local HTTP servers standing in for Elasticsearch
 * and Kibana: templates put, dashboards imported with overwrite (in an order where every reference exists),
 * the same again on a second run, and one-line errors when something is missing or refused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { EsHttp, KibanaHttp } from './http-servers.js';
import { cleanup, tempDir } from './helpers.js';

const servers: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  cleanup();
});

function config(es: string, extra = ''): string {
  const dir = tempDir();
  const file = join(dir, 'rowtrail.yaml');
  writeFileSync(file, `sources: [{ name: app, kind: postgres, url: "postgres://u@127.0.0.1:1/db" }]\nstore: { path: ./data }\nelasticsearch:\n  node: ${es}\n${extra}`);
  return file;
}

describe('rowtrail setup elastic', () => {
  it('installs the templates and imports the dashboards with overwrite, idempotently', async () => {
    const es = new EsHttp();
    const kb = new KibanaHttp();
    servers.push(es, kb);
    const esUrl = await es.start();
    const kbUrl = await kb.start();
    kb.notReadyFor = 2;
    const file = config(esUrl, `  kibanaUrl: ${kbUrl}\n  apiKey: a2V5OnNlY3JldA==\n  retention: 30d\n`);
    const first = await runCli(['setup', 'elastic', '--config', file]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('installed index template rowtrail-changes-default');
    expect(first.stdout).toContain('imported 13 saved objects from 10-rowtrail-overview.ndjson (overwrite)');
    expect([...es.templates.keys()]).toEqual(['rowtrail-changes-default', 'rowtrail-alerts-default']);
    expect([...es.components.keys()]).toEqual(['rowtrail-changes-mappings', 'rowtrail-alerts-mappings', 'rowtrail-default-settings']);
    expect(es.components.get('rowtrail-default-settings')).toEqual({
      version: 1,
      _meta: { managed_by: 'rowtrail', template_version: 1 },
      template: { lifecycle: { enabled: true, data_retention: '30d' } },
    });
    expect(kb.imports.map((i) => [i.file, i.overwrite, i.auth])).toEqual([
      ['00-data-views.ndjson', 'true', 'ApiKey a2V5OnNlY3JldA=='],
      ['10-rowtrail-overview.ndjson', 'true', 'ApiKey a2V5OnNlY3JldA=='],
      ['20-rowtrail-actor.ndjson', 'true', 'ApiKey a2V5OnNlY3JldA=='],
    ]);
    const count = kb.objects.size;
    const again = await runCli(['setup', 'elastic', '--config', file, '--json']);
    expect(again.code).toBe(0);
    const res = JSON.parse(again.stdout);
    expect(res.dashboards.map((d: { objects: number }) => d.objects)).toEqual([2, 13, 5]);
    expect(kb.objects.size).toBe(count);
  }, 60_000);

  it('says how to import dashboards when no Kibana URL is set, and fails in one line when Elasticsearch is unreachable', async () => {
    const es = new EsHttp();
    servers.push(es);
    const url = await es.start();
    const ok = await runCli(['setup', 'elastic', '--config', config(url)]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('dashboards not imported: set elasticsearch.kibanaUrl (or ROWTRAIL_KIBANA_URL) to import them');
    const down = await runCli(['setup', 'elastic', '--config', config('http://127.0.0.1:1')]);
    expect(down.code).not.toBe(0);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/^rowtrail: reading the installed templates: cannot reach Elasticsearch: .*ECONNREFUSED/);
    es.failWith = 401;
    const refused = await runCli(['setup', 'elastic', '--config', config(url)]);
    expect(refused.stderr.trim()).toBe(
      'rowtrail: reading the installed templates: Elasticsearch refused the credentials (401): check elasticsearch.apiKey or username/password',
    );
  }, 60_000);
});
