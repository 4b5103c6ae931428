/**
 * A seeded generator of realistic, labelled write activity for the detectors' evaluation: weeks of traffic
 * for ~100 active (actor, table, op) keys — people on business hours with holidays, services with daily cycles
 * and a legitimate nightly batch, AI agents in bursty sessions — with injected incidents of named kinds and
 * magnitudes, and hard negatives (a month-end batch, a DST shift, a new legitimate deploy).
 */
import type { Actor } from '../../src/model/index.js';
import type { TableActivity, TxSummary } from '../../detectors/types.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function poisson(r: () => number, mu: number): number {
  if (mu > 50) return Math.max(0, Math.round(mu + Math.sqrt(mu) * gauss(r)));
  const L = Math.exp(-mu);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= r();
  } while (p > L);
  return k - 1;
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}

export type IncidentKind =
  | 'mass-delete'
  | 'off-hours-write'
  | 'new-identity-sensitive'
  | 'spike'
  | 'insert-only-deletes'
  | 'slow-drift'
  | 'service-silent';

export interface Incident {
  kind: IncidentKind;
  /** e.g. `10x`, `3x-30min` */
  magnitude: string;
  actor: string;
  table: string;
  start: number;
  end: number;
  /** Gross incidents must be caught (recall ≥ 0.95, detect ≤ 2 min). */
  gross: boolean;
}

interface Writer {
  name: string;
  actor: Actor;
  kind: 'human' | 'service' | 'ai-agent';
  tables: { table: string; ops: { op: 'insert' | 'update' | 'delete'; perTx: number }[] }[];
  /** Transactions per hour at time t (before incidents). */
  rate: (t: number) => number;
}

export interface Simulation {
  txs: TxSummary[];
  incidents: Incident[];
  /** Start of the evaluated period (after the learning weeks). */
  evalStart: number;
  end: number;
  tableRows: Map<string, number>;
}

const TABLES = ['public.orders', 'public.order_items', 'public.customers', 'public.products', 'public.events', 'public.invoices', 'public.sessions', 'public.inventory', 'public.audit_log', 'public.users'];

/**
 * Simulates `weeks` weeks starting on a Monday; the last `evalWeeks` carry the incidents and are evaluated.
 * Humans work 9–18 local time (UTC+1, shifting to UTC+2 on a DST day), Monday to Friday, except holidays.
 */
export function simulate(seed: number, weeks = 4, evalWeeks = 1): Simulation {
  const r = rng(seed);
  const start = Date.UTC(2026, 2, 2); // Monday 2 March 2026: the eval weeks include month-end and DST
  const end = start + weeks * 7 * DAY;
  const evalStart = end - evalWeeks * 7 * DAY;
  const dstDay = start + 27 * DAY; // a Sunday: from then on, local business hours start an hour earlier in UTC
  const holidays = new Set([Math.floor((start + 10 * DAY) / DAY), Math.floor((start + 22 * DAY) / DAY)]);
  const writers: Writer[] = [];
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const tablesFor = (n: number, ops: ('insert' | 'update' | 'delete')[], rows = 4) =>
    [...TABLES].sort(() => r() - 0.5).slice(0, n).map((table) => ({ table, ops: ops.map((op) => ({ op, perTx: 1 + Math.floor(r() * rows) })) }));
  for (let i = 0; i < 12; i++) {
    const name = `person${i}`;
    const peak = 4 + r() * 8;
    writers.push({
      name,
      kind: 'human',
      actor: { user: name, kind: 'human', confidence: 'exact', clientAddr: `10.1.0.${i}` },
      tables: tablesFor(2, ['update', 'insert']),
      rate: (t) => {
        const day = Math.floor(t / DAY);
        const dow = (day + 3) % 7; // 0 = Monday
        const shift = t >= dstDay ? 2 : 1;
        const local = ((t / HOUR + shift) % 24 + 24) % 24;
        if (dow >= 5 || holidays.has(day) || local < 9 || local >= 18) return 0;
        return peak * (local >= 12 && local < 13 ? 0.3 : 1);
      },
    });
  }
  for (let i = 0; i < 8; i++) {
    const name = `svc${i}`;
    const base = 60 + r() * 240;
    const phase = r() * 24;
    writers.push({
      name,
      kind: 'service',
      actor: { user: name, kind: 'service', confidence: 'exact', clientAddr: `10.2.0.${i}` },
      tables: tablesFor(3, i % 3 === 0 ? ['insert', 'update', 'delete'] : ['insert', 'update'], 10),
      rate: (t) => base * (1 + 0.6 * Math.sin((2 * Math.PI * (t / HOUR + phase)) / 24)),
    });
  }
  for (let i = 0; i < 6; i++) {
    const name = `agent${i}`;
    // Bursty sessions: ~3 a day of 10–40 minutes at 60–240 transactions an hour, decided per 10-minute slot.
    const sessions = new Map<number, number>();
    let t = start;
    while (t < end) {
      t += (-Math.log(r() || 1e-9) * DAY) / 3;
      const len = 10 + Math.floor(r() * 30);
      const rate = 60 + r() * 180;
      for (let m = 0; m < len; m += 10) sessions.set(Math.floor((t + m * MIN) / (10 * MIN)), rate);
    }
    writers.push({
      name,
      kind: 'ai-agent',
      actor: { user: 'svc_agents', agent: name, kind: 'ai-agent', confidence: 'exact', clientAddr: `10.3.0.${i}` },
      tables: tablesFor(2, ['insert', 'update']),
      rate: (tt) => sessions.get(Math.floor(tt / (10 * MIN))) ?? 0,
    });
  }

  const incidents: Incident[] = [];
  const evalDays = evalWeeks * 7;
  const at = (dayOffset: number, hour: number) => evalStart + dayOffset * DAY + hour * HOUR + Math.floor(r() * 50) * MIN;
  const services = writers.filter((w) => w.kind === 'service');
  const humans = writers.filter((w) => w.kind === 'human');
  const agents = writers.filter((w) => w.kind === 'ai-agent');
  // Injected incidents, spread over the evaluated days.
  const plan: (() => void)[] = [];
  for (const mag of [3, 10, 100]) {
    plan.push(() => {
      const w = pick([...services, ...agents]);
      const t = at(Math.floor(r() * evalDays), Math.floor(r() * 24));
      incidents.push({ kind: 'mass-delete', magnitude: `${mag}x`, actor: w.name, table: w.tables[0].table, start: t, end: t, gross: mag >= 10 });
    });
  }
  plan.push(() => {
    const w = pick(humans);
    const t = at(5 + Math.floor(r() * 2), 2 + Math.floor(r() * 3)); // a weekend night
    incidents.push({ kind: 'off-hours-write', magnitude: '1x', actor: w.name, table: w.tables[0].table, start: t, end: t + 10 * MIN, gross: true });
  });
  plan.push(() => {
    const t = at(Math.floor(r() * evalDays), Math.floor(r() * 24));
    incidents.push({ kind: 'new-identity-sensitive', magnitude: '1x', actor: `intruder-${seed}`, table: 'public.users', start: t, end: t + 5 * MIN, gross: true });
  });
  for (const mag of [3, 5, 10, 20]) {
    for (const mins of [10, 30, 60]) {
      plan.push(() => {
        const w = pick(services);
        const t = at(Math.floor(r() * evalDays), Math.floor(r() * 24));
        incidents.push({ kind: 'spike', magnitude: `${mag}x-${mins}min`, actor: w.name, table: w.tables[0].table, start: t, end: t + mins * MIN, gross: false });
      });
    }
  }
  plan.push(() => {
    const w = pick(agents);
    const t = at(Math.floor(r() * evalDays), Math.floor(r() * 24));
    incidents.push({ kind: 'insert-only-deletes', magnitude: '1x', actor: w.name, table: w.tables[0].table, start: t, end: t + 15 * MIN, gross: false });
  });
  plan.push(() => {
    const w = pick(services);
    incidents.push({ kind: 'slow-drift', magnitude: '2x-week', actor: w.name, table: w.tables[0].table, start: evalStart, end, gross: false });
  });
  plan.push(() => {
    const w = pick(services);
    const t = at(Math.floor(r() * evalDays), 10 + Math.floor(r() * 8));
    incidents.push({ kind: 'service-silent', magnitude: '2h', actor: w.name, table: w.tables[0].table, start: t, end: t + 2 * HOUR, gross: false });
  });
  for (const p of plan) p();
  // Spikes of one key must not overlap (each is judged alone).
  incidents.sort((a, b) => a.start - b.start);

  const tableRows = new Map<string, number>(TABLES.map((t) => [t, 5000 + Math.floor(r() * 50000)]));
  const txs: TxSummary[] = [];
  let txn = 0;
  const emit = (t: number, w: Writer | { name: string; actor: Actor }, acts: { table: string; op: 'insert' | 'update' | 'delete'; n: number; columns?: string[] }[]) => {
    const tables = new Map<string, TableActivity>();
    let rows = 0;
    for (const a of acts) {
      let ta = tables.get(a.table);
      if (!ta) tables.set(a.table, (ta = { table: a.table, ops: { insert: 0, update: 0, delete: 0, truncate: 0, ddl: 0 }, columns: {}, nulled: {}, sameValue: {} }));
      ta.ops[a.op] += a.n;
      rows += a.n;
      if (a.op !== 'delete') for (const c of a.columns ?? ['status', 'updated_at']) ta.columns[c] = (ta.columns[c] ?? 0) + a.n;
    }
    const id = String(++txn);
    txs.push({ source: 'sim', txId: id, position: id, commitMs: t, commitTime: new Date(t).toISOString(), actor: w.actor, actorName: w.actor.agent ?? w.actor.user ?? 'unknown', tables: [...tables.values()], rows, ddl: [] });
  };
  const inc = (w: Writer, kind: IncidentKind, t: number) => incidents.find((i) => i.kind === kind && i.actor === w.name && t >= i.start && t < i.end);

  // Baseline traffic, minute by minute.
  for (let m = start; m < end; m += MIN) {
    for (const w of writers) {
      let rate = w.rate(m) / 60;
      const sp = inc(w, 'spike', m);
      if (sp) rate *= Number(sp.magnitude.split('x')[0]);
      const drift = inc(w, 'slow-drift', m);
      if (drift) rate *= 1 + (m - drift.start) / (drift.end - drift.start);
      if (inc(w, 'service-silent', m)) rate = 0;
      const n = poisson(r, rate);
      for (let k = 0; k < n; k++) {
        const t = m + Math.floor(r() * MIN);
        const tb = w.tables[Math.floor(r() * w.tables.length)];
        const o = tb.ops[Math.floor(r() * tb.ops.length)];
        emit(t, w, [{ table: tb.table, op: o.op, n: 1 + Math.floor(r() * o.perTx) }]);
      }
    }
    // Legitimate nightly batch of svc0 at 02:00 UTC: 40 transactions of 100 updates; month-end: 5x.
    const d = new Date(m);
    if (d.getUTCHours() === 2 && d.getUTCMinutes() < 10) {
      const monthEnd = new Date(m + DAY).getUTCDate() === 1;
      for (let k = 0; k < (monthEnd ? 20 : 4); k++) emit(m + k * 1000, services[0], [{ table: services[0].tables[0].table, op: 'update', n: 100 }]);
    }
    // A new legitimate deploy: a service that appears on day 3 of the evaluation and writes to public.events.
    if (m >= evalStart + 3 * DAY && r() < 0.2) {
      emit(m + 1000, { name: 'svc-new', actor: { user: 'svc_new', kind: 'service', confidence: 'exact', clientAddr: '10.2.9.9' } }, [{ table: 'public.events', op: 'insert', n: 1 }]);
    }
  }
  // Point incidents.
  for (const i of incidents) {
    const w = writers.find((x) => x.name === i.actor);
    if (i.kind === 'mass-delete' && w) {
      // k times the writer's usual rows per hour on the table (at least 50 rows an hour)
      const t = w.tables.find((x) => x.table === i.table)!;
      const perTx = t.ops.reduce((a, o) => a + (1 + o.perTx) / 2, 0) / t.ops.length;
      const hourly = Math.max(50, (w.rate(i.start) / w.tables.length) * perTx);
      emit(i.start, w, [{ table: i.table, op: 'delete', n: Math.round(hourly * Number(i.magnitude.replace('x', ''))) }]);
    } else if (i.kind === 'off-hours-write' && w) {
      for (let k = 0; k < 5; k++) emit(i.start + k * MIN, w, [{ table: i.table, op: 'update', n: 2 }]);
    } else if (i.kind === 'new-identity-sensitive') {
      const actor: Actor = { user: 'svc_agents', agent: i.actor, kind: 'ai-agent', confidence: 'exact', clientAddr: '10.9.9.9' };
      for (let k = 0; k < 3; k++) emit(i.start + k * MIN, { name: i.actor, actor }, [{ table: 'public.users', op: 'update', n: 5, columns: ['role'] }]);
    } else if (i.kind === 'insert-only-deletes' && w) {
      for (let k = 0; k < 3; k++) emit(i.start + k * 5 * MIN, w, [{ table: i.table, op: 'delete', n: 15 }]);
    }
  }
  txs.sort((a, b) => a.commitMs - b.commitMs);
  return { txs, incidents, evalStart, end, tableRows };
}
