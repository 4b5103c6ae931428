/**
 * bench/detectors: 1M change events through every detector (TxBuilder summaries + the engine), on one core.
 * Prints events/s, transactions/s and peak RSS. Usage: npx tsx bench/detectors/run.ts [events] [keys] [days]
 *
 * `days` is the span of commit times the events cover: 21 (default) is the sparse case (each key sees a few
 * events an hour, so hourly baselines roll often); 1 is a busy day (hundreds of events per key and hour).
 *
 * The events are realistic in shape: 10-column rows, updates of 2 columns, inserts and deletes, 1–10 rows
 * per transaction, spread over `keys` (actor, table) pairs.
 */
import { DetectorEngine, TxBuilder } from '../../detectors/index.js';
import type { Actor, ChangeEvent, Op } from '../../src/model/index.js';
import { rng } from './simulate.js';

const total = Number(process.argv[2] ?? 1_000_000);
const keys = Number(process.argv[3] ?? 300);
const r = rng(42);
const actors: Actor[] = Array.from({ length: Math.ceil(keys / 10) }, (_, i) => ({ user: `svc${i}`, agent: i % 3 === 0 ? `agent${i}` : null, kind: i % 3 === 0 ? 'ai-agent' : 'service', confidence: 'exact' }));
const tables = Array.from({ length: 10 }, (_, i) => `t${i}`);
const row = (id: number, v: string) => Object.fromEntries([['id', String(id)], ...Array.from({ length: 9 }, (_, c) => [`c${c}`, c < 2 ? v : `x${c}`])]);
// Rows come from a pool built before timing starts, so the figure is the detectors' cost, not the bench's.
const POOL = 4096;
const befores = Array.from({ length: POOL }, (_, i) => row(i, 'a'));
const afters = Array.from({ length: POOL }, (_, i) => row(i, 'b'));
const keysPool = Array.from({ length: POOL }, (_, i) => ({ id: String(i) }));

let peak = 0;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const engine = new DetectorEngine({}, { tableRows: () => 100_000 });
const start0 = Date.UTC(2026, 2, 2);
const days = Number(process.argv[4] ?? 21);
const span = days * 24 * 3_600_000;
let events = 0;
let txs = 0;
let alerts = 0;
const t0 = performance.now();
while (events < total) {
  const n = 1 + Math.floor(r() * 10);
  const actor = actors[Math.floor(r() * actors.length)];
  const table = tables[Math.floor(r() * tables.length)];
  const op: Op = r() < 0.6 ? 'update' : r() < 0.8 ? 'insert' : 'delete';
  const at = new Date(start0 + Math.floor((events / total) * span)).toISOString();
  const txId = String(++txs);
  let b: TxBuilder | null = null;
  for (let i = 0; i < n; i++) {
    const id = Math.floor(r() * POOL);
    const ev: ChangeEvent = {
      id: `app:${txId}:${i}`,
      source: 'app',
      system: 'postgresql',
      database: 'app',
      schema: 'public',
      table,
      op,
      key: keysPool[id],
      before: op === 'insert' ? null : befores[id],
      after: op === 'delete' ? null : afters[id],
      changed: op === 'update' ? ['c0', 'c1'] : [],
      tx: { id: txId, position: txId, commitTime: at, index: i, size: n },
      actor,
    };
    if (!b) b = new TxBuilder(ev);
    b.add(ev);
  }
  events += n;
  alerts += engine.process(b!.finish(), txs).filter((c) => c.type === 'raised').length;
  if (txs % 5000 === 0) alerts += engine.tick(Date.parse(at)).filter((c) => c.type === 'raised').length;
}
const secs = (performance.now() - t0) / 1000;
clearInterval(sample);
peak = Math.max(peak, process.memoryUsage().rss);
const snap = JSON.stringify(engine.snapshot()).length;
console.log(`${events.toLocaleString('en-US')} events in ${txs.toLocaleString('en-US')} transactions over ${keys} keys and ${days} days: ${secs.toFixed(2)} s`);
console.log(`${Math.round(events / secs).toLocaleString('en-US')} events/s, ${Math.round(txs / secs).toLocaleString('en-US')} transactions/s; peak RSS ${(peak / 2 ** 20).toFixed(0)} MB; snapshot ${(snap / 2 ** 20).toFixed(1)} MB; ${alerts} alerts raised`);
