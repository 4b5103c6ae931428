/**
 * Documents/s through the Elasticsearch sink's bulk path: store → documents → NDJSON → client → HTTP, against
 * a local HTTP server in another process that accepts bulk requests (server.ts), so what is measured is
 * rowtrail's own cost. Also its parts: the store read (sinkRows), the same plus the documents and bulk bodies
 * (the mapping core), and the event path's document of one event (changeDocument + JSON.stringify).
 *
 *   npx tsx bench/es-sink/run.ts [changes=200000] [batchSize=2000]
 *
 * The store is filled first with inserts of a 6-column row (ids, a numeric, a timestamp, a short text, a
 * 60-character text), 10 per transaction, attributed to an agent. The sink's CPU time is read from the process
 * (user + system) over the run, so "per core" is documents / CPU seconds.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Store } from '../../src/store/index.js';
import { silentLogger } from '../../src/log/index.js';
import { parseConfig } from '../../src/config/index.js';
import { BulkBody, ChangeDocWriter, ElasticsearchSink, changeDocument, createEsClient } from '../../src/sinks/elasticsearch/index.js';
import type { Actor } from '../../src/model/index.js';

const N = Number(process.argv[2] ?? 200_000);
const BATCH = Number(process.argv[3] ?? 2000);
const PER_TX = 10;
const actor: Actor = { user: 'svc_app', application: 'worker', clientAddr: '10.0.0.7', sessionId: '4242', agent: 'deploy-bot', kind: 'ai-agent', confidence: 'exact', method: 'precise-message', context: { run: 'r-17' } };

const dir = mkdtempSync(join(tmpdir(), 'rowtrail-bench-es-'));
const store = Store.open(dir, { synchronous: 'NORMAL' });
const w = store.writer('app', 'postgresql', 'app');
for (let t = 0; t < N / PER_TX; t++) {
  const tx = w.begin(String(t));
  for (let i = 0; i < PER_TX; i++) {
    const id = String(t * PER_TX + i);
    w.add(tx, {
      schema: 'public',
      table: 'orders',
      op: 'insert',
      key: { id },
      before: null,
      after: { id, customer_id: String(t % 997), total: `${t % 1000}.${String(i).padStart(2, '0')}`, created_at: '2026-11-26 10:00:00.123456+00', status: 'paid', note: 'x'.repeat(60) },
      changed: ['id', 'customer_id', 'total', 'created_at', 'status', 'note'],
    });
  }
  w.commit(tx, { position: `0/${(t + 1).toString(16)}`, commitTime: '2026-11-26T10:00:00.123456Z', actor, resumePosition: `0/${t + 1}` });
  if (t % 500 === 0) w.flush();
}
w.flush();

// The sink's read of the store alone (rows of BATCH changes after a cursor), then the same plus the mapping
// core (documents written from the rows into bulk bodies): the difference is the mapping core's own cost.
// Times are CPU seconds of this process (user + system): on a shared machine, wall time measures the neighbours.
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
function pass(map: boolean): { n: number; s: number; bytes: number } {
  const c0 = cpuSeconds();
  let bytes = 0;
  let n = 0;
  let cursor = { seq: 0, idx: -1 };
  for (;;) {
    const rows = store.sinkRows(cursor, BATCH);
    if (!rows.length) break;
    n += rows.length;
    const last = rows[rows.length - 1];
    cursor = { seq: last.commit_seq, idx: last.idx };
    if (!map) continue;
    const writer = new ChangeDocWriter('rowtrail-changes-default');
    const body = new BulkBody();
    for (const r of rows) body.add(writer.doc(r, r.commit_seq));
    bytes += body.bytes().length;
  }
  return { n, s: cpuSeconds() - c0, bytes };
}
// The pure mapping core on one representative event, repeated (no store, no I/O): document + JSON.
{
  // for…of closes the statement when it breaks (a bare next() would leave the connection busy).
  let first!: { seq: number; event: Parameters<typeof changeDocument>[0] };
  for (const e of store.eventsAfter(0, 1)) {
    first = e;
    break;
  }
  const reps = 200_000;
  let x = 0;
  for (let i = 0; i < 20_000; i++) x += JSON.stringify(changeDocument(first.event, i)).length; // warm-up
  const c0 = cpuSeconds();
  for (let i = 0; i < reps; i++) x += JSON.stringify(changeDocument(first.event, i)).length;
  const s = cpuSeconds() - c0;
  console.log(`event path, one event (changeDocument + JSON.stringify): ${Math.round(reps / s)} docs per CPU-second (${(x / (reps + 20_000)) | 0} bytes/doc)`);
}
pass(true); // warm-up
const read = pass(false);
const both = pass(true);
const mapS = both.s - read.s;
console.log(`store read (sinkRows): ${read.n} rows in ${read.s.toFixed(2)} CPU-s = ${Math.round(read.n / read.s)} rows per CPU-second`);
console.log(
  `mapping core (documents from rows + bulk bodies), own cost: ${mapS.toFixed(2)} CPU-s = ${Math.round(both.n / mapS)} docs per CPU-second; ` +
    `with the store read: ${Math.round(both.n / both.s)} docs per CPU-second; ${(both.bytes / both.n).toFixed(0)} bytes/doc`,
);

const server = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
const [chunk] = (await once(server.stdout!, 'data')) as [Buffer];
const port = Number(String(chunk).trim());
const cfg = parseConfig({ sources: [{ name: 'app', kind: 'postgres', url: 'postgres://u@h/db' }], elasticsearch: { node: `http://127.0.0.1:${port}`, batchSize: BATCH } }, {}).elasticsearch!;
const client = createEsClient(cfg);
const sink = new ElasticsearchSink(store, client, cfg, silentLogger, { intervalMs: 1 });
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
while ((await sink.runOnce()) > 0);
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
const cpuS = (cpu.user + cpu.system) / 1e6;
const st = sink.stats();
console.log(
  `bulk path (store → documents → client → HTTP): ${st.stored} docs in ${wall.toFixed(2)} s wall = ${Math.round(st.stored / wall)} docs/s; ` +
    `sink CPU ${cpuS.toFixed(2)} s = ${Math.round(st.stored / cpuS)} docs per CPU-second; ${st.requests} requests of ${BATCH}; peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`,
);
server.kill('SIGTERM');
await once(server, 'exit');
await client.close();
store.close();
rmSync(dir, { recursive: true, force: true });
