/**
 * The Elasticsearch sink against Elastic's mock given data-stream semantics (fake-cluster.ts): what a user
 * checks in Kibana is every change exactly once, with its values as the database wrote them, whatever the
 * cluster did meanwhile (refused, overloaded, down, rejected a document) and across a daemon restart.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeCluster } from './fake-cluster.js';
import { agent, captureLog, cleanup, esConfig, fill, openStore, tempDir } from './helpers.js';
import { ElasticsearchSink, SINK_NAME, installTemplates, streamNames } from '../../src/sinks/elasticsearch/index.js';
import { Store } from '../../src/store/index.js';
import { silentLogger } from '../../src/log/index.js';
import { createMetrics } from '../../src/http/index.js';
import type { SinkStats } from '../../src/sinks/elasticsearch/index.js';

/** The /metrics exposition of a daemon whose only part is this sink (prom-client, as `watch` serves it). */
async function sinkExposition(stats: SinkStats): Promise<string> {
  return createMetrics({ sources: () => [], sink: () => stats }).registry.metrics();
}
import type { Alert } from '../../src/model/index.js';

afterEach(cleanup);
// A real collection before each heap reading (the outage test): without it, garbage reads as growth.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const S = streamNames('default');
const fast = { backoff: () => 1, intervalMs: 5 };

async function drain(sink: ElasticsearchSink, maxPasses = 10_000): Promise<void> {
  for (let i = 0; i < maxPasses; i++) if ((await sink.runOnce()) === 0) return;
  throw new Error('the sink did not catch up');
}

async function ready(cfg = esConfig()): Promise<FakeCluster> {
  const es = new FakeCluster();
  await installTemplates(es.client(), cfg);
  return es;
}

describe('elasticsearch sink', () => {
  it('sends each change once, with create ops, its change id as _id, and its values as text; the cursor follows', async () => {
    const store = openStore();
    fill(store, 3, 2, { value: (i) => (i === 1 ? '12345678901234567890.000000000001' : `v${i}`) });
    const es = await ready();
    const sink = new ElasticsearchSink(store, es.client(), esConfig(), silentLogger, fast);
    await drain(sink);
    expect(es.ids(S.changes)).toEqual([...store.changes()].map((e) => e.id));
    const doc = es.docs(S.changes)[1] as any;
    expect(doc.rowtrail.after).toEqual({ id: '1', v: '12345678901234567890.000000000001' });
    expect(doc['@timestamp']).toBe('2026-11-26T10:00:00.123456Z');
    expect(doc.user).toEqual({ name: 'svc_app' });
    expect(doc.client).toEqual({ ip: '10.0.0.7', address: '10.0.0.7' });
    expect(doc.event).toMatchObject({ kind: 'event', category: ['database'], type: ['creation'], action: 'insert', id: 'app:0/1:1' });
    expect(doc.db).toEqual({ system: { name: 'postgresql' }, namespace: 'app', collection: { name: 'public.users' }, operation: { name: 'INSERT' } });
    expect(doc.rowtrail.actor).toMatchObject({ name: 'deploy-bot', kind: 'ai-agent', confidence: 'exact', context: { run: 'r-17' } });
    expect(store.sinkCursor(SINK_NAME)).toEqual({ seq: 3, idx: -1 });
    // Only create ops, with ids, into the data stream, and require_data_stream on every bulk request.
    const bulks = es.requests.filter((r) => r.path === '/_bulk');
    expect(bulks.length).toBeGreaterThan(0);
    for (const b of bulks) expect(b.querystring).toContain('require_data_stream=true');
  });

  it('sends the media types Elasticsearch 8.x and 9.x (REST compatibility) need, and the API key', async () => {
    const store = openStore();
    fill(store, 1, 1);
    const es = await ready();
    const sink = new ElasticsearchSink(store, es.client({ auth: { apiKey: 'a2V5OnNlY3JldA==' } }), esConfig(), silentLogger, fast);
    await drain(sink);
    const bulk = es.requests.find((r) => r.path === '/_bulk')!;
    const h = Object.fromEntries(Object.entries(bulk.headers).map(([k, v]) => [k.toLowerCase(), v]));
    expect(h['content-type']).toBe('application/vnd.elasticsearch+x-ndjson; compatible-with=8');
    expect(h.accept).toMatch(/^application\/vnd\.elasticsearch\+json; compatible-with=8/);
    expect(h.authorization).toBe('ApiKey a2V5OnNlY3JldA==');
    const put = es.requests.find((r) => r.path.startsWith('/_index_template/') && r.method === 'PUT')!;
    const ph = Object.fromEntries(Object.entries(put.headers).map(([k, v]) => [k.toLowerCase(), v]));
    expect(ph['content-type']).toBe('application/vnd.elasticsearch+json; compatible-with=8');
  });

  it('retries whole-request failures (503, 429, 401, connection refused, slow answers) and loses nothing', async () => {
    const store = openStore();
    fill(store, 20, 5);
    const es = await ready();
    es.failRequests.push({ status: 503, type: 'unavailable_shards_exception' }, 'connection', { status: 429, type: 'es_rejected_execution_exception' });
    es.failRequests.push({ status: 401, type: 'security_exception' });
    es.delayMs = 20;
    const { log, lines } = captureLog();
    const sink = new ElasticsearchSink(store, es.client(), esConfig({ batchSize: 30 }), log, fast);
    await drain(sink);
    expect(es.ids(S.changes)).toEqual([...store.changes()].map((e) => e.id));
    expect(sink.stats()).toMatchObject({ stored: 100, duplicates: 0, deadLettered: 0, retries: 4 });
    const msgs = lines().map((l) => l.msg);
    expect(msgs).toContain('elasticsearch sink: Elasticsearch failed the request (503): injected');
    expect(msgs).toContain('elasticsearch sink: cannot reach Elasticsearch: connect ECONNREFUSED 127.0.0.1:9200');
    expect(msgs).toContain('elasticsearch sink: Elasticsearch refused the credentials (401): check elasticsearch.apiKey or username/password');
  });

  it('retries only the items refused with 429 or 503 and dead-letters a 400, keeping it with its reason', async () => {
    const store = openStore();
    fill(store, 4, 5);
    const ids = [...store.changes()].map((e) => e.id);
    const es = await ready();
    es.failItems.set(ids[3], [{ status: 429, type: 'es_rejected_execution_exception' }, { status: 429, type: 'es_rejected_execution_exception' }]);
    es.failItems.set(ids[7], [{ status: 503, type: 'unavailable_shards_exception' }]);
    es.failItems.set(ids[11], [{ status: 400, type: 'document_parsing_exception' }]);
    const { log, lines } = captureLog();
    const sink = new ElasticsearchSink(store, es.client(), esConfig(), log, fast);
    await drain(sink);
    expect(es.ids(S.changes).sort()).toEqual(ids.filter((id) => id !== ids[11]).sort());
    expect(es.bulkSizes).toEqual([20, 2, 1]); // the batch, then only the refused items
    const dead = store.sinkDeadLetters(SINK_NAME);
    expect(dead.map((d) => [d.docId, d.status, d.reason])).toEqual([[ids[11], 400, 'document_parsing_exception: injected']]);
    expect(JSON.parse(dead[0].doc).rowtrail.change_id).toBe(ids[11]);
    expect(lines().find((l) => l.id === ids[11])?.msg).toContain('document rejected; kept in the store');
    expect(store.sinkCursor(SINK_NAME)).toEqual({ seq: 4, idx: -1 });
    const text = await sinkExposition(sink.stats());
    expect(text).toContain('rowtrail_es_sink_documents_total{result="stored"} 19\n');
    expect(text).toContain('rowtrail_es_sink_documents_total{result="dead_letter"} 1\n');
    expect(text).toContain('rowtrail_es_sink_failing 0\n');
  });

  it('dead-letters what a mapping from an older template rejects, and the rest goes on', async () => {
    const store = openStore();
    fill(store, 2, 2);
    const es = await ready();
    // An older template mapped the after image as a keyword: an object there is a document_parsing_exception.
    const old = es.components.get('rowtrail-changes-mappings')!;
    const props = structuredClone(old.template.mappings!.properties!) as any;
    props.rowtrail.properties.after = { type: 'keyword' };
    es.components.set('rowtrail-changes-mappings', { ...old, template: { mappings: { dynamic: false, properties: props } } });
    const sink = new ElasticsearchSink(store, es.client(), esConfig(), silentLogger, fast);
    await drain(sink);
    const dead = store.sinkDeadLetters(SINK_NAME);
    expect(dead).toHaveLength(4);
    expect(dead[0].reason).toMatch(/^document_parsing_exception: failed to parse field \[rowtrail\.after\] of type \[keyword\]/);
    expect(store.sinkCursor(SINK_NAME)).toEqual({ seq: 2, idx: -1 });
  });

  it('waits for the templates instead of writing into a guessed index, then sends', async () => {
    const store = openStore();
    fill(store, 2, 1);
    const es = new FakeCluster();
    const { log, lines } = captureLog();
    const sink = new ElasticsearchSink(store, es.client(), esConfig(), log, fast);
    const ac = new AbortController();
    const run = sink.run(ac.signal);
    await new Promise((r) => setTimeout(r, 100));
    expect(es.streams.size).toBe(0);
    expect(es.requests.some((r) => r.path === '/_bulk')).toBe(false);
    expect(lines().map((l) => l.msg)).toContain(
      'elasticsearch sink: Elasticsearch has no index template rowtrail-changes-default: run `rowtrail setup elastic` (capture continues; the sink waits)',
    );
    // The changes committed days ago (fill's commit times) and none is sent: the lag is flagged in the log and /metrics.
    const behind = lines().find((l) => l.msg.startsWith('elasticsearch sink is behind'));
    expect(behind?.maxLagSeconds).toBe(300);
    expect(behind?.lagSeconds).toBeGreaterThan(300);
    const text = await sinkExposition(sink.stats());
    expect(text).toMatch(/^rowtrail_es_sink_lag_seconds \d+/m);
    expect(Number(/^rowtrail_es_sink_lag_seconds (\S+)/m.exec(text)![1])).toBeGreaterThan(300);
    expect(text).toContain('rowtrail_es_sink_failing 1\n');
    await installTemplates(es.client(), esConfig());
    for (let i = 0; i < 200 && es.ids(S.changes).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await run;
    expect(es.ids(S.changes)).toEqual(['app:0/1:0', 'app:0/2:0']);
  });

  it('replays a bulk that Elasticsearch stored before the daemon died (cursor not moved): 409, no duplicate', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    fill(store, 10, 3);
    const es = await ready();
    const crashing = new ElasticsearchSink(store, es.client(), esConfig({ batchSize: 12 }), silentLogger, fast);
    await crashing.runOnce(); // first bulk stored and the cursor saved
    store.saveSinkProgress = () => {
      throw new Error('killed before the cursor moved');
    };
    await expect(crashing.runOnce()).rejects.toThrow('killed');
    store.close();
    expect(es.ids(S.changes)).toHaveLength(24);

    const again = Store.open(dir);
    const sink = new ElasticsearchSink(again, es.client(), esConfig({ batchSize: 12 }), silentLogger, fast);
    await drain(sink);
    const all = [...again.changes()].map((e) => e.id);
    expect(es.ids(S.changes)).toEqual(all);
    expect(new Set(es.ids(S.changes)).size).toBe(30);
    expect(sink.stats()).toMatchObject({ stored: 6, duplicates: 12 });
    again.close();
  });

  it('sends a transaction larger than a bulk request in parts and resumes inside it after a restart', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    fill(store, 1, 25);
    fill(store, 1, 3, { start: 1 });
    const es = await ready();
    const first = new ElasticsearchSink(store, es.client(), esConfig({ batchSize: 10 }), silentLogger, fast);
    await first.runOnce();
    expect(store.sinkCursor(SINK_NAME)).toEqual({ seq: 1, idx: 9 });
    store.close();
    const again = Store.open(dir);
    const sink = new ElasticsearchSink(again, es.client(), esConfig({ batchSize: 10 }), silentLogger, fast);
    await drain(sink);
    expect(es.bulkSizes).toEqual([10, 10, 8]);
    expect(es.ids(S.changes)).toEqual([...again.changes()].map((e) => e.id));
    expect(sink.stats().duplicates).toBe(0);
    expect(again.sinkCursor(SINK_NAME)).toEqual({ seq: 2, idx: -1 });
    again.close();
  });

  it('holds one batch through a long outage (memory flat) and catches up afterwards', async () => {
    const store = openStore();
    const big = 'y'.repeat(2000);
    fill(store, 300, 100, { value: () => big }); // 30k changes, ~60 MB of values waiting
    const es = await ready();
    for (let i = 0; i < 300; i++) es.failRequests.push({ status: 503, type: 'unavailable_shards_exception' });
    const sink = new ElasticsearchSink(store, es.client(), esConfig({ batchSize: 500 }), silentLogger, { ...fast, backoff: () => 0 });
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heap();
    const samples: number[] = [];
    es.onBulk = (n) => {
      if (n === 50 || n === 150 || n === 290) samples.push(heap() - before);
    };
    const ac = new AbortController();
    const run = sink.run(ac.signal);
    while (es.ids(S.changes).length < 30_000) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await run;
    expect(Math.max(...es.bulkSizes)).toBe(500);
    // The 30k waiting changes are ~60 MB; the sink holds one batch of 500 (~1 MB), and no more as the outage goes on.
    expect(samples).toHaveLength(3);
    for (const s of samples) expect(s).toBeLessThan(8 * 2 ** 20);
    expect(Math.abs(samples[2] - samples[0])).toBeLessThan(2 * 2 ** 20);
    expect(new Set(es.ids(S.changes)).size).toBe(30_000);
    expect(sink.stats()).toMatchObject({ stored: 30_000, duplicates: 0, lagSeconds: 0 });
  }, 120_000);

  it('sends one document per state an alert enters, open and resolved, once each', async () => {
    const store = openStore();
    const alert: Alert = {
      id: 'a1',
      detector: 'volume-spike',
      severity: 'warning',
      title: 'deploy-bot deleted 500 rows of public.users',
      summary: '500 deletes in 1 min, usually 2',
      source: 'app',
      table: 'public.users',
      actor: agent,
      window: { from: '2026-11-26T10:00:00.000Z', to: '2026-11-26T10:01:00.000Z' },
      evidence: { observed: 500, expected: 2, score: 9.1 },
      txIds: ['771'],
      state: 'open',
      undo: 'rowtrail undo --tx 771',
    };
    store.saveDetection([alert], 'engine', 0, {});
    const es = await ready();
    const sink = new ElasticsearchSink(store, es.client(), esConfig(), silentLogger, fast);
    await drain(sink);
    expect(es.ids(S.alerts)).toEqual(['a1:open']);
    const open = es.docs(S.alerts)[0] as any;
    expect(open).toMatchObject({
      '@timestamp': '2026-11-26T10:00:00.000Z',
      event: { kind: 'alert', action: 'alert-opened', severity: 2 },
      rule: { name: 'volume-spike' },
      rowtrail: { alert: { state: 'open', evidence: { observed: 500 }, undo: 'rowtrail undo --tx 771' } },
    });
    store.saveDetection([{ ...alert, state: 'resolved' }], 'engine', 0, {});
    const b = { ...alert, id: 'b2', state: 'resolved' as const };
    store.saveDetection([b], 'engine', 0, {}); // raised and resolved between two passes
    await drain(sink);
    expect(es.ids(S.alerts).sort()).toEqual(['a1:open', 'a1:resolved', 'b2:open', 'b2:resolved']);
    await drain(sink);
    expect(es.docs(S.alerts)).toHaveLength(4);
  });
});
