/**
 * bench/api: how fast the web UI's queries answer on a big store. Builds a store of N changes
 * (ROWTRAIL_BENCH_CHANGES, default 1,000,000) written through the store's own writer: transactions of 1–20
 * changes by a person, a service and an AI agent over 3 tables (one busy, one medium, one rare), committed
 * over 30 days. Then times each API query (the same store calls the HTTP handlers make) REPEAT times and
 * prints p50/p95 in ms. No ANALYZE is run (the daemon never runs one): the plans are the ones users get. Target: p95 < 100 ms for the feed, actor and
 * row-history queries.
 *
 *   npx tsx bench/api/api-bench.ts            # 1M changes (~1 min to build, kept in bench/out/api-store)
 *   ROWTRAIL_BENCH_CHANGES=100000 npx tsx bench/api/api-bench.ts
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { blameKey } from '../../src/history/index.js';

const TOTAL = Number(process.env.ROWTRAIL_BENCH_CHANGES ?? 1_000_000);
const REPEAT = Number(process.env.ROWTRAIL_BENCH_REPEAT ?? 40);
const DIR = join(import.meta.dirname, '..', 'out', `api-store-${TOTAL}`);
const TYPES = { id: 'bigint', owner: 'text', balance: 'numeric(12,2)' };
const ACTORS = [
  { user: 'alice', application: 'psql', kind: 'human', confidence: 'exact' },
  { user: 'svc_billing', application: 'billing', kind: 'service', confidence: 'exact' },
  { user: 'svc_app', agent: 'deploy-bot', kind: 'ai-agent', confidence: 'exact', context: { run: 'r-1' } },
];
const START = Date.UTC(2026, 9, 27);
const SPAN = 30 * 86_400_000;

function build(): void {
  if (existsSync(join(DIR, 'rowtrail.db'))) return;
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const t0 = Date.now();
  const store = Store.open(DIR, { synchronous: 'NORMAL' });
  const w = store.writer('app', 'postgresql', 'app');
  let n = 0;
  let tx = 0;
  while (n < TOTAL) {
    tx++;
    const actor = ACTORS[tx % 7 === 0 ? 2 : tx % 3 === 0 ? 0 : 1];
    // busy: 80%, medium: 19%, rare: 1% of transactions
    const table = tx % 100 === 0 ? 'audit_rare' : tx % 5 === 0 ? 'orders' : 'accounts';
    const size = 1 + (tx % 20);
    const h = w.begin(String(tx));
    for (let k = 0; k < size && n < TOTAL; k++, n++) {
      const id = String((n * 7919) % 50_000);
      const op = n % 10 === 0 ? 'delete' : n % 3 === 0 ? 'insert' : 'update';
      const img = (v: number) => ({ id, owner: `o${v}`, balance: `${v % 1000}.00` });
      w.add(h, {
        schema: 'public',
        table,
        op,
        key: { id },
        before: op === 'insert' ? null : img(n - 1),
        after: op === 'delete' ? null : img(n),
        changed: op === 'update' ? ['owner', 'balance'] : Object.keys(TYPES),
        types: TYPES,
      });
    }
    const position = `0/${tx.toString(16).toUpperCase()}`;
    const commitTime = new Date(START + Math.floor((tx / (TOTAL / 10)) * SPAN)).toISOString();
    w.commit(h, { position, commitTime, actor: actor as never, resumePosition: position });
    if (w.shouldFlush) w.flush();
  }
  w.flush();
  store.close();
  console.log(`built ${TOTAL} changes in ${tx} transactions in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function time(fn: () => unknown): { p50: number; p95: number; n: number } {
  const ms: number[] = [];
  let n = 0;
  for (let i = 0; i < REPEAT; i++) {
    const t = process.hrtime.bigint();
    const r = fn() as { changes?: unknown[] } | unknown[];
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    n = Array.isArray(r) ? r.length : (r.changes?.length ?? 0);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length * 0.5)], p95: ms[Math.min(ms.length - 1, Math.ceil(ms.length * 0.95) - 1)], n };
}

build();
const store = Store.open(DIR, { readonly: true });
const end = new Date(store.changesPage({}, 1).changes[0].tx.commitTime);
const deep = (() => {
  let p = store.changesPage({}, 50);
  for (let i = 0; i < 20 && p.next; i++) p = store.changesPage({}, 50, p.next);
  return p.next!;
})();
const cases: [string, () => unknown][] = [
  ['feed: newest 50', () => store.changesPage({}, 50)],
  ['feed: page 21 (cursor)', () => store.changesPage({}, 50, deep)],
  ['feed: actor deploy-bot', () => store.changesPage({ actor: 'deploy-bot' }, 50)],
  ['feed: busy table', () => store.changesPage({ table: 'public.accounts' }, 50)],
  ['feed: rare table', () => store.changesPage({ table: 'public.audit_rare' }, 50)],
  ['feed: op delete', () => store.changesPage({ op: 'delete' }, 50)],
  ['feed: since 1h', () => store.changesPage({ since: new Date(end.getTime() - 3_600_000) }, 50)],
  ['row history (one key)', () => store.changesPage({ table: 'public.accounts', key: { id: '4242' } }, 100)],
  [
    'row history, as the API asks',
    () => store.changesPage({ table: 'public.accounts', key: blameKey(store, { table: 'public.accounts', values: ['4242'] }) }, 100),
  ],
  ['actors: last 24h', () => store.actors({ since: new Date(end.getTime() - 86_400_000) })],
  ['actors: last 7d', () => store.actors({ since: new Date(end.getTime() - 7 * 86_400_000) })],
  ['alerts: newest 100', () => store.alerts({ limit: 100 })],
  ["alert detail: one tx's changes", () => store.changesPage({ txIds: ['500'], source: 'app' }, 100)],
  ['live feed tick (nothing new)', () => store.latestSeq()],
];
console.log(`store: ${TOTAL} changes; ${REPEAT} runs each`);
console.log('query'.padEnd(30), 'rows'.padStart(6), 'p50 ms'.padStart(9), 'p95 ms'.padStart(9));
for (const [name, fn] of cases) {
  const r = time(fn);
  console.log(name.padEnd(30), String(r.n).padStart(6), r.p50.toFixed(2).padStart(9), r.p95.toFixed(2).padStart(9));
}
store.close();
