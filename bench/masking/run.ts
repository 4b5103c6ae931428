/**
 * bench/masking: throughput of Masker.maskEvent on realistic changes, and where the time goes.
 *
 * Changes: 10-column rows (id bigint, email, card_number, status, plan, amount numeric, country, notes,
 * created_at, updated_at), two of them sensitive (email → hash, card_number → partial); half inserts, a
 * quarter updates (status and updated_at change), a quarter deletes, like bench/pg-capture. Emails come from
 * a pool of 100k users, so pseudonyms repeat as they do in a real table. A second set adds a small jsonb column
 * with an email inside. Events are built inside each timed loop (transient, as a source hands them over);
 * the `build` arm measures that alone and the last column subtracts it. Times are the process's CPU time
 * (a shared machine's wall clock mostly measures waiting). Arms, alternated over rounds:
 *
 *   build       building the events only
 *   copy        + a shallow copy of each event (what any stage that returns a new event pays)
 *   classify    + maskEvent where nothing is sensitive (config `none` on email and card_number): name rules
 *               and value detectors on the other 8 columns, nothing masked or sealed
 *   mask        + maskEvent: classify, mask (HMAC for email, partial for card_number), seal (the real thing)
 *   mask+json   + maskEvent on rows with a small jsonb column holding an email (parse, walk, splice)
 *   seal only   + JSON.stringify and seal() of what `mask` seals (AES-256-GCM, one blob per event)
 *   hmac only   + one pseudonym() per event (HMAC-SHA256, uncached)
 *
 *   npx tsx bench/masking/run.ts [events=200000] [rounds=5]        (ARMS=mask,copy to run only some)
 *
 * Measured 2026-11-29, 2 vCPU AMD EPYC, Node 20.20.2, shared with seven other helpers' test runs (load
 * average 17–31 on 2 cores, so CPU times are inflated too, by ~3x judging by a bare createHmac):
 * 200k events x 5 rounds, CPU µs per event net of building it: copy 0.20, classify 1.80, mask 15.1,
 * mask+json 25 (after memoising name rules), seal only 8.0, hmac only (native) 3.75.
 * CPU profile of the mask arm, maskEvent's own time: AES-GCM sealing ~39 % (createCipheriv alone is ~40 % of
 * a seal), pseudonyms ~18 % (HMAC in JS, 2.8x cheaper than createHmac), GC ~14 %, JSON.stringify of the
 * sealed cells and the image copies ~23 %, classification ~6 %.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Keys, Masker, pseudonym, seal } from '../../src/masking/index.js';
import type { ChangeEvent, Row } from '../../src/model/index.js';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);

const TYPES = {
  id: 'bigint', email: 'text', card_number: 'text', status: 'text', plan: 'text', amount: 'numeric(12,2)',
  country: 'text', notes: 'text', created_at: 'timestamp with time zone', updated_at: 'timestamp with time zone',
};

function card(i: number): string {
  // A Visa-shaped number with a valid Luhn digit.
  const body = `4${String(100000000000000 + (i % 899999999999999)).slice(0, 14)}`;
  let sum = 0;
  for (let k = 0; k < 15; k++) {
    let d = Number(body[14 - k]);
    if (k % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return body + ((10 - (sum % 10)) % 10);
}

function row(i: number, v: number, sensitive: boolean, json: boolean): Row {
  const u = i % 100_000;
  const r: Row = {
    id: String(i),
    email: sensitive ? `user${u}@example.com` : `user${u}`,
    card_number: sensitive ? card(u) : String(u),
    status: ['active', 'past_due', 'canceled'][v % 3],
    plan: ['free', 'pro', 'team'][i % 3],
    amount: `${(i * 7 + v) % 100000}.${String(v % 100).padStart(2, '0')}`,
    country: ['DE', 'FR', 'US', 'BR'][i % 4],
    notes: i % 5 === 0 ? `renewal reminder sent, ticket ${i}` : null,
    created_at: `2026-11-26 10:00:${String(i % 60).padStart(2, '0')}.${String(i % 1_000_000).padStart(6, '0')}+00`,
    updated_at: `2026-11-26 11:00:${String(v % 60).padStart(2, '0')}.${String(v % 1_000_000).padStart(6, '0')}+00`,
  };
  if (json) r.prefs = `{"theme": "dark", "contact": {"email": "user${u}@example.com", "lang": "de"}, "n": ${v}}`;
  return r;
}

function event(n: number, sensitive: boolean, json: boolean): ChangeEvent {
  const k = n % 4;
  const op = k < 2 ? 'insert' : k === 2 ? 'update' : 'delete';
  const before = op === 'insert' ? null : row(n, n, sensitive, json);
  const after = op === 'delete' ? null : row(n, n + 1, sensitive, json);
  return {
    id: `bench:0/${n.toString(16)}:${n % 100}`, source: 'bench', system: 'postgresql', database: 'app', schema: 'public',
    table: 'accounts', op, key: { id: String(n) }, before, after, changed: op === 'update' ? ['status', 'updated_at'] : [],
    tx: { id: String(n / 100), position: `0/${n.toString(16)}`, commitTime: '2026-11-26T10:00:00.123456Z', index: n % 100, size: 100 },
    actor: { kind: 'unknown', confidence: 'unknown' }, types: json ? JSON_TYPES : TYPES,
  };
}
const JSON_TYPES = { ...TYPES, prefs: 'jsonb' };

const { keys } = Keys.open(randomBytes(32), null);
const raw = (ev: ChangeEvent) => {
  const r: Record<string, Row> = {};
  if (ev.before) r.b = { email: ev.before.email, card_number: ev.before.card_number };
  if (ev.after) r.a = { email: ev.after.email, card_number: ev.after.card_number };
  return JSON.stringify(r);
};

let sink = 0;
// Events are built inside each arm (as a source hands them over, transient), so every arm pays the same
// building cost; the `build` arm measures it alone and the table subtracts it.
const arms: Record<string, () => void> = {
  build: () => {
    for (let n = 0; n < N; n++) sink += event(n, true, false).id.length;
  },
  copy: () => {
    for (let n = 0; n < N; n++) {
      const ev = event(n, true, false);
      sink += { ...ev, before: ev.before && { ...ev.before }, after: ev.after && { ...ev.after } }.id.length;
    }
  },
  classify: () => {
    const m = new Masker({ keys, columns: { 'public.accounts.email': 'none', 'public.accounts.card_number': 'none' } });
    for (let n = 0; n < N; n++) sink += m.maskEvent(event(n, false, false)).sealed ? 1 : 0;
  },
  mask: () => {
    const m = new Masker({ keys });
    for (let n = 0; n < N; n++) sink += m.maskEvent(event(n, true, false)).sealed!.length;
  },
  'mask+json': () => {
    const m = new Masker({ keys });
    for (let n = 0; n < N; n++) sink += m.maskEvent(event(n, true, true)).sealed!.length;
  },
  'seal only': () => {
    for (let n = 0; n < N; n++) {
      const ev = event(n, true, false);
      sink += seal(Buffer.from(raw(ev), 'utf8'), ev.id, keys.currentId, keys.current).length;
    }
  },
  'hmac only': () => {
    for (let n = 0; n < N; n++) sink += pseudonym(keys.pseudonymKey, event(n, true, false).after?.email ?? `x${n}@example.com`).length;
  },
};

// ARMS=mask,copy runs only those (e.g. under --cpu-prof).
for (const a of Object.keys(arms)) if (process.env.ARMS && !process.env.ARMS.split(',').includes(a)) delete arms[a];
const times: Record<string, number[]> = Object.fromEntries(Object.keys(arms).map((a) => [a, []]));
for (const f of Object.values(arms)) f(); // warm up (JIT)
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.keys(arms);
  if (r % 2) order.reverse();
  for (const a of order) {
    // CPU time of this process (user + system), not wall time: on a shared machine the wall clock mostly
    // measures waiting for a core. It includes V8's GC helper threads, which is part of the cost.
    const t = process.cpuUsage();
    arms[a]();
    const d = process.cpuUsage(t);
    times[a].push((d.user + d.system) / 1000);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`masking bench: ${N} events x ${ROUNDS} rounds, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}`);
console.log(`load average at end ${loadavg().map((x) => x.toFixed(2)).join(' ')} (shared machine: medians of alternated rounds)`);
console.log('| arm | median CPU ms | events per CPU-second | CPU µs/event, building the events subtracted |');
console.log('|---|---|---|---|');
const base = median(times.build ?? [0]);
for (const a of Object.keys(arms)) {
  const ms = median(times[a]);
  const net = a === 'build' ? ms : ms - base;
  console.log(`| ${a} | ${ms.toFixed(0)} | ${Math.round(N / (ms / 1000)).toLocaleString('en')} | ${((net * 1000) / N).toFixed(2)} |`);
}
if (sink === 42) console.log('');
