/** Each detector on crafted streams; each assertion fails when its detector is switched off. */
import { describe, expect, it } from 'vitest';
import { DetectorEngine, type AlertChange } from '../../detectors/index.js';
import { SeasonalBaseline, tailP } from '../../detectors/baseline.js';
import { agent, human, tx, HOUR, MONDAY, noSize } from './fixtures.js';

function raised(changes: AlertChange[], detector: string) {
  return changes.filter((c) => c.type === 'raised' && c.alert.detector === detector).map((c) => c.alert);
}

describe('bulk-transaction', () => {
  const sized = { tableRows: (_s: string, t: string) => (t === 'public.customers' ? 5000 : null) };
  it('alerts on an agent deleting most of a table in one transaction, with the undo command', () => {
    const e = new DetectorEngine({}, sized);
    const [a] = raised(e.process(tx(MONDAY + 3 * HOUR, agent, [{ table: 'public.customers', op: 'delete', n: 3920 }]), 1), 'bulk-transaction');
    expect(a.severity).toBe('critical');
    expect(a.title).toContain('AI agent deploy-bot (on svc_app, exact) deleted 3,920 rows of public.customers (78% of the table)');
    expect(a.evidence).toMatchObject({ observed: 3920, deleted: 3920, tableRows: 5000, fraction: 0.784 });
    expect(a.undo).toBe(`rowtrail undo --tx ${a.txIds[0]} --source app --table public.customers`);
    const off = new DetectorEngine({ 'bulk-transaction': { enabled: false } }, sized);
    expect(raised(off.process(tx(MONDAY, agent, [{ table: 'public.customers', op: 'delete', n: 3920 }]), 1), 'bulk-transaction')).toEqual([]);
  });
  it('stays quiet on a small change to a big table, and alerts on absolute size without a table size', () => {
    const e = new DetectorEngine({}, { tableRows: () => 1_000_000 });
    expect(raised(e.process(tx(MONDAY, human, [{ op: 'update', n: 500 }]), 1), 'bulk-transaction')).toEqual([]);
    const e2 = new DetectorEngine({ 'bulk-transaction': { rows: 1000 } }, noSize);
    expect(raised(e2.process(tx(MONDAY, human, [{ op: 'insert', n: 1200 }]), 1), 'bulk-transaction')).toHaveLength(1);
  });
});

describe('destructive-operation', () => {
  it('TRUNCATE and DROP are critical and have no undo; CREATE is not reported', () => {
    const e = new DetectorEngine({}, noSize);
    const t = raised(e.process(tx(MONDAY, agent, [{ table: 'public.orders', op: 'truncate', n: 1 }]), 1), 'destructive-operation');
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ severity: 'critical', table: 'public.orders', undo: null });
    const d = raised(e.process(tx(MONDAY, agent, [{ op: 'ddl', n: 1, ddl: '/* x */ drop table public.orders' }]), 2), 'destructive-operation');
    expect(d[0].severity).toBe('critical');
    expect(d[0].evidence.operation).toBe('drop');
    expect(raised(e.process(tx(MONDAY, agent, [{ op: 'ddl', n: 1, ddl: 'CREATE TABLE t (a int)' }]), 3), 'destructive-operation')).toEqual([]);
  });
  it('a mass DELETE is reported without history', () => {
    const e = new DetectorEngine({}, noSize);
    expect(raised(e.process(tx(MONDAY, human, [{ op: 'delete', n: 1500 }]), 1), 'destructive-operation')).toHaveLength(1);
  });
});

describe('first-seen', () => {
  it('learns for a day, then reports a new identity on a sensitive table and a first write to a table', () => {
    const e = new DetectorEngine({}, noSize);
    let seq = 0;
    for (let h = 0; h < 30; h++) e.process(tx(MONDAY + h * HOUR, human, [{ table: 'public.items', op: 'update', n: 2 }]), ++seq);
    // during learning nothing was raised; now a new agent on public.users
    const a = raised(e.process(tx(MONDAY + 31 * HOUR, agent, [{ table: 'public.users', op: 'update', n: 1 }]), ++seq), 'first-seen');
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ severity: 'warning', table: 'public.users' });
    expect(a[0].evidence.kind).toBe('new-actor');
    const b = raised(e.process(tx(MONDAY + 32 * HOUR, human, [{ table: 'public.orders', op: 'insert', n: 1 }]), ++seq), 'first-seen');
    expect(b.map((x) => x.evidence.kind)).toEqual(['first-table-write']);
    expect(raised(e.process(tx(MONDAY + 33 * HOUR, human, [{ table: 'public.orders', op: 'insert', n: 1 }]), ++seq), 'first-seen')).toEqual([]);
  });
  it('raises nothing while learning', () => {
    const e = new DetectorEngine({}, noSize);
    e.process(tx(MONDAY, human, [{ op: 'update', n: 1 }]), 1);
    expect(raised(e.process(tx(MONDAY + HOUR, agent, [{ table: 'public.users', op: 'update', n: 1 }]), 2), 'first-seen')).toEqual([]);
  });
});

describe('off-hours', () => {
  function officeWeeks(e: DetectorEngine, weeks: number): number {
    let seq = 0;
    for (let d = 0; d < weeks * 7; d++) {
      if (d % 7 >= 5) continue; // weekend
      for (let h = 9; h < 17; h++) e.process(tx(MONDAY + d * 24 * HOUR + h * HOUR + 600_000, human, [{ op: 'update', n: 3 }]), ++seq);
    }
    return seq;
  }
  it('alerts on a person writing on Sunday at 3 am after two weeks of office hours, once, then resolves', () => {
    const e = new DetectorEngine({}, noSize);
    let seq = officeWeeks(e, 2);
    const sunday3 = MONDAY + 20 * 24 * HOUR + 3 * HOUR;
    const a = raised(e.process(tx(sunday3, human, [{ op: 'delete', n: 40 }]), ++seq), 'off-hours');
    expect(a).toHaveLength(1);
    expect(a[0].title).toContain('person alice');
    const again = e.process(tx(sunday3 + 60_000, human, [{ op: 'delete', n: 5 }]), ++seq).filter((c) => c.alert.detector === 'off-hours');
    expect(again.map((c) => c.type)).toEqual(['updated']);
    expect(again[0].alert.evidence.observed).toBe(45);
    const res = e.tick(sunday3 + 2 * HOUR).filter((c) => c.alert.detector === 'off-hours');
    expect(res.map((c) => c.type)).toEqual(['resolved']);
  });
  it('does not alert within office hours, nor an hour beside them (DST)', () => {
    const e = new DetectorEngine({}, noSize);
    let seq = officeWeeks(e, 2);
    const monday = MONDAY + 21 * 24 * HOUR;
    expect(raised(e.process(tx(monday + 10 * HOUR, human, [{ op: 'update', n: 1 }]), ++seq), 'off-hours')).toEqual([]);
    expect(raised(e.process(tx(monday + 8 * HOUR + 60_000, human, [{ op: 'update', n: 1 }]), ++seq), 'off-hours')).toEqual([]);
  });
});

describe('sensitive-column', () => {
  it('reports an actor writing role for the first time, not the second time', () => {
    const e = new DetectorEngine({}, noSize);
    let seq = 0;
    for (let h = 0; h < 30; h++) e.process(tx(MONDAY + h * HOUR, agent, [{ table: 'public.users', op: 'update', n: 1, after: (i) => ({ id: String(i), v: 'z' }) }]), ++seq);
    const role = { table: 'public.users', op: 'update' as const, n: 3, before: (i: number) => ({ id: String(i), role: 'user' }), after: (i: number) => ({ id: String(i), role: 'admin' }) };
    const a = raised(e.process(tx(MONDAY + 31 * HOUR, agent, [role]), ++seq), 'sensitive-column');
    expect(a).toHaveLength(1);
    expect(a[0].evidence.columns).toEqual(['role']);
    expect(raised(e.process(tx(MONDAY + 32 * HOUR, agent, [role]), ++seq), 'sensitive-column')).toEqual([]);
  });
});

describe('value-pattern', () => {
  it('reports mass NULLing of a column', () => {
    const e = new DetectorEngine({}, noSize);
    const a = raised(
      e.process(tx(MONDAY, agent, [{ op: 'update', n: 150, before: (i) => ({ id: String(i), email: `u${i}@x.io` }), after: (i) => ({ id: String(i), email: null }) }]), 1),
      'value-pattern',
    );
    expect(a.map((x) => x.evidence.pattern)).toEqual(['mass-null']);
    expect(a[0].evidence.column).toBe('email');
  });
  it('reports an insert-only actor starting to delete', () => {
    const e = new DetectorEngine({}, noSize);
    let seq = 0;
    for (let i = 0; i < 30; i++) e.process(tx(MONDAY + i * 60_000, agent, [{ table: 'public.events', op: 'insert', n: 5 }]), ++seq);
    const a = raised(e.process(tx(MONDAY + HOUR, agent, [{ table: 'public.events', op: 'delete', n: 12 }]), ++seq), 'value-pattern');
    expect(a.map((x) => x.evidence.pattern)).toEqual(['delete-insert-flip']);
  });
});

describe('volume-spike', () => {
  /** ~10 updates an hour during the day and ~2 at night, for `days`, deterministic pseudo-random. */
  function steady(e: DetectorEngine, days: number, seq0 = 0): { seq: number; alerts: number } {
    let seq = seq0;
    let alerts = 0;
    let r = 12345;
    const rnd = () => ((r = (r * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let h = 0; h < days * 24; h++) {
      const rate = h % 24 >= 8 && h % 24 < 20 ? 10 : 2;
      const n = Math.max(0, Math.round(rate + (rnd() - 0.5) * 2 * Math.sqrt(rate) * 1.5));
      const times = Array.from({ length: n }, () => MONDAY + h * HOUR + Math.floor(rnd() * HOUR)).sort((a, b) => a - b);
      for (const at of times) {
        const c = e.process(tx(at, human, [{ op: 'update', n: 1 }]), ++seq);
        alerts += raised(c, 'volume-spike').length;
      }
    }
    return { seq, alerts };
  }
  it('is quiet on steady traffic, then alerts on a 10x burst within minutes and resolves after', () => {
    const e = new DetectorEngine({}, noSize);
    const s = steady(e, 14);
    expect(s.alerts).toBe(0);
    const t0 = MONDAY + 14 * 24 * HOUR + 10 * HOUR;
    let seq = s.seq;
    let first: number | null = null;
    for (let i = 0; i < 100; i++) {
      const at = t0 + i * 6_000;
      const a = raised(e.process(tx(at, human, [{ op: 'update', n: 1 }]), ++seq), 'volume-spike');
      if (a.length && first === null) first = at - t0;
    }
    expect(first).not.toBeNull();
    expect(first!).toBeLessThan(5 * 60_000);
    const res = e.tick(t0 + 3 * HOUR).filter((c) => c.type === 'resolved' && c.alert.detector === 'volume-spike');
    expect(res).toHaveLength(1);
  });
  it('does not learn an alerting hour as normal variation: the next incident of its size still looks improbable', () => {
    const learn = (anomalous: boolean) => {
      const b = new SeasonalBaseline(HOUR);
      let r = 7;
      const rnd = () => ((r = (r * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      for (let h = 0; h < 3 * 168; h++) b.push(MONDAY + h * HOUR, 8 + Math.floor(rnd() * 5));
      // five incidents of 200 rows in an hour that alerted
      for (let h = 3 * 168, k = 0; k < 5; k++, h += 24) {
        for (let i = h; i < h + 23; i++) b.push(MONDAY + i * HOUR, 8 + Math.floor(rnd() * 5));
        b.push(MONDAY + (h + 23) * HOUR, 200, anomalous);
      }
      const t = MONDAY + (3 * 168 + 5 * 24) * HOUR;
      return tailP(200, b.expect(t), 1, true, b).upper;
    };
    expect(learn(false)).toBeGreaterThan(0.001); // learned: the sixth looks like the key's usual bursts
    expect(learn(true)).toBeLessThan(1e-6);
  });
  it('raises nothing statistical before its learning period', () => {
    const e = new DetectorEngine({}, noSize);
    const s = steady(e, 2);
    let seq = s.seq;
    const t0 = MONDAY + 2 * 24 * HOUR + 10 * HOUR;
    let n = 0;
    for (let i = 0; i < 200; i++) n += raised(e.process(tx(t0 + i * 1000, human, [{ op: 'update', n: 1 }]), ++seq), 'volume-spike').length;
    expect(n).toBe(0);
  });
});

describe('engine', () => {
  it('skips a replayed transaction, and continues from a snapshot as if never stopped', () => {
    const a = new DetectorEngine({}, noSize);
    const t1 = tx(MONDAY, agent, [{ op: 'delete', n: 1500 }]);
    expect(a.process(t1, 1).length).toBeGreaterThan(0);
    expect(a.process(t1, 1)).toEqual([]);
    const b = new DetectorEngine({}, noSize);
    b.restore(JSON.parse(JSON.stringify(a.snapshot())));
    expect(b.lastSeq).toBe(1);
    expect(b.process(t1, 1)).toEqual([]);
    expect(b.relearning).toEqual([]);
  });
  it('drops a corrupt detector state, relearns and says which', () => {
    const e = new DetectorEngine({}, noSize);
    e.restore({ v: 1, seq: 3, detectors: { 'volume-spike': { v: 1, keys: [['k', { base: { v: 9 } }]] }, 'off-hours': 'garbage' }, open: [] });
    expect(e.relearning.sort()).toEqual(['off-hours', 'volume-spike']);
    expect(() => e.process(tx(MONDAY, human, [{ op: 'update', n: 1 }]), 4)).not.toThrow();
  });
  it('rejects unknown detectors, unknown options and wrong types with the key', () => {
    expect(() => new DetectorEngine({ 'volume-spik': {} }, noSize)).toThrow(/detectors\.volume-spik: unknown detector/);
    expect(() => new DetectorEngine({ 'volume-spike': { alfa: 1 } }, noSize)).toThrow(/detectors\.volume-spike\.alfa: unknown option/);
    expect(() => new DetectorEngine({ 'bulk-transaction': { rows: 'many' } }, noSize)).toThrow(/rows: must be a number/);
    expect(() => new DetectorEngine({ 'off-hours': { severity: 'loud' } }, noSize)).toThrow(/one of info, warning, critical/);
  });
  it('honours exclusions by actor and table', () => {
    const e = new DetectorEngine({ 'destructive-operation': { excludeActors: ['deploy-bot'] } }, noSize);
    expect(raised(e.process(tx(MONDAY, agent, [{ op: 'delete', n: 1500 }]), 1), 'destructive-operation')).toEqual([]);
    const f = new DetectorEngine({ 'destructive-operation': { excludeTables: ['public.items'] } }, noSize);
    expect(raised(f.process(tx(MONDAY, agent, [{ op: 'delete', n: 1500 }]), 1), 'destructive-operation')).toEqual([]);
  });
});
