/**
 * The sink writes its documents from the store's rows (es-rowdoc.ts) and its bulk bodies as bytes (es-bulk.ts)
 * for speed (issue 17): what Elasticsearch receives must stay what the event path gives, byte for byte —
 * JSON.stringify(changeDocument(event, seq)) for the events the store's readers get, and the client's own NDJSON
 * of those lines — for any row (odd column names, escapes, lone surrogates, NULLs, partial images, any actor),
 * and masked values must never reach Elasticsearch in clear.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Serializer } from '@elastic/transport';
import { FakeCluster } from './fake-cluster.js';
import { cleanup, esConfig, openStore } from './helpers.js';
import { maskLikeWatch } from '../harness/masking.js';
import { BulkBody, ChangeDocWriter, ElasticsearchSink, bulkDoc, bulkLines, changeDocument, installTemplates, streamNames } from '../../src/sinks/elasticsearch/index.js';
import { silentLogger } from '../../src/log/index.js';
import type { Actor, Row, RowChange } from '../../src/model/index.js';

afterEach(cleanup);

const S = streamNames('default');
// Column names and values: plain, array-index-like ("9", "10": JSON.parse moves those first, where a sorted key has
// them after "!" or "10" before "9"), escapes, non-ASCII, lone surrogates.
const name = fc.oneof(fc.constantFrom('id', 'note', '!', '9', '10', '4294967296', '__proto__', 'a"b', 'c\\d', 'é', '\ud800'), fc.string({ maxLength: 6 }));
const value = fc.oneof(fc.constant(null), fc.string({ maxLength: 12 }), fc.constantFrom('x'.repeat(300), 'a\nb\t"\\', '\udc00z', '😀'));
const row = fc.dictionary(name, value, { maxKeys: 5 });
const actor: fc.Arbitrary<Actor> = fc.record(
  {
    user: fc.option(fc.constantFrom('svc_app', 'ann', ''), { nil: undefined }),
    currentUser: fc.option(fc.constantFrom('svc_app', 'admin'), { nil: undefined }),
    agent: fc.option(fc.constantFrom('deploy-bot', 'a"gent'), { nil: undefined }),
    clientAddr: fc.option(fc.constantFrom('10.0.0.7', '[::1]', '2001:db8::1/128', '[local]', '/tmp/.s.PGSQL'), { nil: undefined }),
    application: fc.option(fc.string({ maxLength: 5 }), { nil: undefined }),
    sessionId: fc.option(fc.constantFrom('4242'), { nil: undefined }),
    kind: fc.constantFrom('human', 'service', 'ai-agent', 'unknown'),
    confidence: fc.constantFrom('exact', 'inferred', 'unknown'),
    method: fc.option(fc.constantFrom('precise-message', 'none'), { nil: undefined }),
    context: fc.option(fc.constantFrom({ run: 'r-1' }, { on_behalf_of: 'ann', verified: true }), { nil: undefined }),
  },
  { requiredKeys: ['kind', 'confidence'] },
) as fc.Arbitrary<Actor>;
const change: fc.Arbitrary<RowChange> = fc
  .record({ op: fc.constantFrom('insert', 'update', 'delete'), table: fc.constantFrom('users', 'we"ird', '0'), before: row, after: row, key: row, partial: fc.nat(9).map((n) => n === 0) })
  .map(({ op, table, before, after, key, partial }) => {
    const c: RowChange = {
      schema: 'public',
      table,
      op: op as RowChange['op'],
      key: Object.keys(key).length ? key : null,
      before: op === 'insert' ? null : before,
      after: op === 'delete' ? null : after,
      changed: Object.keys(op === 'delete' ? before : after),
    };
    if (op === 'update') c.changed = Object.keys(after).slice(0, 2);
    if (partial && op !== 'insert') {
      c.incomplete = ['before'];
      c.missing = { before: ['blob'] };
    }
    return c;
  });

/** Stores the transactions; returns the documents of the event path (what the sink sent before) and of the rows. */
function documents(txs: { actor: Actor; changes: RowChange[] }[]): { events: string[]; rows: string[]; slow: number } {
  const store = openStore();
  try {
    const w = store.writer('app', 'postgresql', 'app');
    txs.forEach((t, i) => {
      const tx = w.begin(String(100 + i));
      for (const c of t.changes) w.add(tx, c);
      w.commit(tx, { position: `0/${(i + 1).toString(16)}`, commitTime: '2026-11-26T10:00:00.123456Z', actor: t.actor, resumePosition: `0/${i + 1}` });
    });
    w.flush();
    const events = [...store.eventsAfter(0, 1e9)].map(({ seq, event }) => JSON.stringify(changeDocument(event, seq)));
    const writer = new ChangeDocWriter(S.changes);
    const rows = store.sinkRows({ seq: 0, idx: -1 }, 1e9).map((r) => writer.json(r, r.commit_seq));
    return { events, rows, slow: writer.slow };
  } finally {
    store.close();
  }
}

describe('elasticsearch documents from the store rows', () => {
  it('are byte for byte the event path documents, for any row and actor', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ actor, changes: fc.array(change, { minLength: 1, maxLength: 4 }) }), { minLength: 1, maxLength: 4 }), (txs) => {
        const { events, rows } = documents(txs);
        expect(rows).toEqual(events);
      }),
      { numRuns: 60 },
    );
  });

  it('take the fast path for ordinary rows, and the event path only where they must', () => {
    const agent: Actor = { user: 'svc_app', agent: 'deploy-bot', clientAddr: '10.0.0.7', kind: 'ai-agent', confidence: 'exact', context: { run: 'r-17' } };
    const after: Row = { id: '1', total: '12345678901234567890.000000000001', note: 'é "q" \\ \ud800' };
    const { events, rows, slow } = documents([
      {
        actor: agent,
        changes: [
          { schema: 'public', table: 'orders', op: 'insert', key: { id: '1' }, before: null, after, changed: Object.keys(after) },
          { schema: 'public', table: 'orders', op: 'update', key: { id: '1' }, before: after, after: { ...after, total: '1' }, changed: ['total'] },
          { schema: 'public', table: 'orders', op: 'delete', key: { id: '1' }, before: after, after: null, changed: Object.keys(after) },
          { schema: 'public', table: 'orders', op: 'insert', key: { 10: 'a', 9: 'b' }, before: null, after: { 9: 'b', 10: 'a' }, changed: ['9', '10'] },
        ],
      },
    ]);
    expect(rows).toEqual(events);
    expect(slow).toBe(1); // only the row with array-index column names (a guard: the store writes them first anyway)
    expect(JSON.parse(rows[0]).rowtrail.after).toEqual(after);
  });

  it('bulk bodies are the bytes the client makes of the lines; a retried subset and a dead letter keep them', () => {
    const docs = ['a', 'é', '\ud800x', '😀'].map((v, i) => bulkDoc(`app:0/1:${i}`, S.changes, { v, n: i }));
    const body = new BulkBody(8); // grows as documents come
    for (const d of docs) body.add(d);
    const ndjson = (ds: typeof docs) => Buffer.from(new Serializer().ndserialize(bulkLines(ds)) as string);
    expect(body.bytes().equals(ndjson(docs))).toBe(true);
    expect(body.subset([1, 3]).bytes().equals(ndjson([docs[1], docs[3]]))).toBe(true);
    expect(body.subset([1, 3]).json(1)).toBe(docs[3].json);
    expect(docs.map((_, i) => [body.id(i), body.target(i), body.json(i)])).toEqual(docs.map((d) => [d.id, d.target, d.json]));
  });

  it('masked values never reach Elasticsearch in clear', async () => {
    const store = openStore();
    maskLikeWatch(store);
    const EMAIL = 'dora.sink-5521@example.com';
    const TOKEN = 'ghp_R8x2Lq9ZtV4mN7bC1kW5yP3sD6fH0jG2aE9u';
    const w = store.writer('app', 'postgresql', 'app');
    for (let i = 1; i <= 3; i++) {
      const tx = w.begin(String(i));
      const after = { id: String(i), email: EMAIL, api_token: TOKEN, note: `row ${i}` };
      w.add(tx, { schema: 'public', table: 'users', op: 'insert', key: { id: String(i) }, before: null, after, changed: Object.keys(after) });
      w.add(tx, { schema: 'public', table: 'users', op: 'update', key: { id: String(i) }, before: after, after: { ...after, email: `x${EMAIL}` }, changed: ['email'] });
      w.commit(tx, { position: `0/${i}`, commitTime: '2026-11-26T10:00:00Z', actor: { kind: 'human', confidence: 'exact', user: 'ann' }, resumePosition: `0/${i}` });
    }
    w.flush();
    const es = new FakeCluster();
    await installTemplates(es.client(), esConfig());
    const sink = new ElasticsearchSink(store, es.client(), esConfig(), silentLogger, { backoff: () => 1 });
    while ((await sink.runOnce()) > 0);
    const sent = JSON.stringify(es.docs(S.changes));
    expect(es.docs(S.changes)).toHaveLength(6);
    expect(sent).not.toContain(EMAIL);
    expect(sent).not.toContain(TOKEN);
    expect(sent).toContain('row 1');
    expect(es.docs(S.changes)).toEqual([...store.eventsAfter(0, 10)].map(({ seq, event }) => JSON.parse(JSON.stringify(changeDocument(event, seq)))));
    store.close();
  });
});
