/**
 * capture-health on crafted samples and transactions: lag, log retention at risk (PostgreSQL slot, MySQL
 * binlog expiry), tables undo cannot revert, and the attribution rate dropping. Each alert opens while the
 * condition lasts (once, not on every sample) and resolves when it is healthy again.
 */
import { describe, expect, it } from 'vitest';
import { DetectorEngine, type AlertChange } from '../../detectors/engine.js';
import type { HealthSample } from '../../detectors/types.js';
import type { Actor } from '../../src/model/index.js';
import { MONDAY, agent, noSize, tx } from './fixtures.js';

const GiB = 1024 ** 3;

function pgSample(at: number, over: Partial<HealthSample> = {}): HealthSample {
  return {
    source: 'app',
    kind: 'postgres',
    at,
    lagSeconds: 0,
    lagBytes: 0,
    retainedBytes: 1024,
    safeBytes: null,
    walStatus: 'reserved',
    retentionSeconds: null,
    irreversible: [],
    ...over,
  };
}

const engine = (cfg: Record<string, unknown> = {}) => new DetectorEngine(cfg, noSize);
const kinds = (cs: AlertChange[]) => cs.map((c) => `${c.type}:${c.alert.evidence.condition}:${c.alert.severity}`);

describe('capture-health', () => {
  it('opens a lag alert once while capture is behind, raises it to critical, resolves when caught up', () => {
    const e = engine();
    let t = MONDAY;
    const step = (over: Partial<HealthSample>) => e.health([pgSample((t += 60_000), over)]);
    expect(step({ lagSeconds: 12 })).toEqual([]);
    const raised = step({ lagSeconds: 420, lagBytes: 5_000_000 });
    expect(kinds(raised)).toEqual(['raised:lag:warning']);
    expect(raised[0].alert.title).toBe('Capture of app is 7 min behind the server');
    expect(raised[0].alert.undo).toBeNull();
    expect(raised[0].alert.actor).toBeNull();
    expect(step({ lagSeconds: 480 })).toEqual([]); // still behind: no new change for every sample
    expect(step({ lagSeconds: null })).toEqual([]); // unknown decides nothing
    expect(kinds(step({ lagSeconds: 4000 }))).toEqual(['updated:lag:critical']);
    const resolved = step({ lagSeconds: 3 });
    expect(kinds(resolved)).toEqual(['resolved:lag:critical']);
    expect(resolved[0].alert.id).toBe(raised[0].alert.id);
    expect(step({ lagSeconds: 0 })).toEqual([]);
  });

  it('PostgreSQL: alerts when the slot retains too much WAL, nears max_slot_wal_keep_size or lost WAL', () => {
    const e = engine();
    expect(e.health([pgSample(MONDAY, { retainedBytes: 2 * GiB })])).toEqual([]);
    expect(kinds(e.health([pgSample(MONDAY + 1, { retainedBytes: 6 * GiB })]))).toEqual(['raised:retention:warning']);
    expect(kinds(e.health([pgSample(MONDAY + 2, { retainedBytes: 100 })]))).toEqual(['resolved:retention:warning']);
    // With a limit: 900 MB retained, 100 MB left before the server drops what the slot needs (90% used).
    const near = e.health([pgSample(MONDAY + 3, { retainedBytes: 900e6, safeBytes: 100e6, walStatus: 'extended' })]);
    expect(kinds(near)).toEqual(['raised:retention:critical']);
    expect(near[0].alert.summary).toMatch(/90% of what max_slot_wal_keep_size/);
    const lost = e.health([pgSample(MONDAY + 4, { retainedBytes: 0, safeBytes: 0, walStatus: 'lost' })]);
    expect(lost.map((c) => c.type)).toEqual(['updated']);
    expect(lost[0].alert.title).toMatch(/lost WAL/);
  });

  it('MySQL: alerts when the lag nears the binlog retention; none when binlogs are kept until purged', () => {
    const e = engine();
    const my = (at: number, lag: number, retention: number): HealthSample => ({
      ...pgSample(at, { lagSeconds: lag, retainedBytes: null, walStatus: null }),
      kind: 'mysql',
      retentionSeconds: retention,
    });
    expect(e.health([my(MONDAY, 200, 86400)])).toEqual([]);
    const r = e.health([my(MONDAY + 1, 50_000, 86400)]);
    expect(kinds(r)).toEqual(['raised:lag:critical', 'raised:retention:warning']);
    expect(r[1].alert.title).toMatch(/^Binlogs app still needs expire in at most 10\.1 h/);
    expect(kinds(e.health([my(MONDAY + 2, 80_000, 86400)]))).toEqual(['updated:retention:critical']);
    expect(kinds(e.health([my(MONDAY + 3, 80_000, 0)]))).toEqual(['resolved:retention:critical']);
  });

  it('names the tables undo cannot revert, updates when the list changes, resolves when fixed, honours excludeTables', () => {
    const e = engine();
    const accounts = { table: 'public.accounts', reason: 'REPLICA IDENTITY DEFAULT' };
    const logs = { table: 'public.logs', reason: 'REPLICA IDENTITY NOTHING' };
    const r = e.health([pgSample(MONDAY, { irreversible: [accounts] })]);
    expect(kinds(r)).toEqual(['raised:irreversible:warning']);
    expect(r[0].alert.table).toBe('public.accounts');
    expect(r[0].alert.summary).toMatch(/REPLICA IDENTITY DEFAULT.*undo cannot revert them\. Fix: rowtrail setup --replica-identity full/);
    expect(e.health([pgSample(MONDAY + 1, { irreversible: [accounts] })])).toEqual([]);
    const u = e.health([pgSample(MONDAY + 2, { irreversible: [logs, accounts] })]);
    expect(kinds(u)).toEqual(['updated:irreversible:warning']);
    expect(u[0].alert.title).toBe('2 table(s) of app cannot be reverted (no full before image): public.accounts, public.logs');
    expect(e.health([pgSample(MONDAY + 3, { irreversible: null })])).toEqual([]);
    expect(kinds(e.health([pgSample(MONDAY + 4, { irreversible: [] })]))).toEqual(['resolved:irreversible:warning']);

    const ex = engine({ 'capture-health': { excludeTables: ['public.logs'] } });
    expect(ex.health([pgSample(MONDAY, { irreversible: [logs] })])).toEqual([]);
  });

  it('alerts when the attributed share of transactions drops, resolves when it recovers, survives a restart', () => {
    const e = engine();
    const unknown: Actor = { kind: 'unknown', confidence: 'unknown' } as Actor;
    let seq = 0;
    let t = MONDAY;
    const run = (eng: DetectorEngine, minutes: number, actor: (i: number) => Actor) => {
      for (let i = 0; i < minutes; i++) eng.process(tx((t += 60_000), actor(i), [{ op: 'insert', n: 1 }]), ++seq);
      return eng.tick(t);
    };
    // Two days at ~95% attributed: nothing.
    expect(run(e, 48 * 60, (i) => (i % 20 === 0 ? unknown : agent))).toEqual([]);
    // The identity sampler breaks: after an hour at ~30%, one alert.
    const r = run(e, 60, (i) => (i % 10 < 3 ? agent : unknown));
    expect(kinds(r)).toEqual(['raised:attribution:warning']);
    expect(r[0].alert.title).toMatch(/^Attribution on app dropped to [23]\d% of transactions \(usually 9\d%\)$/);
    const restarted = engine();
    restarted.restore(JSON.parse(JSON.stringify(e.snapshot())));
    expect(run(restarted, 30, () => unknown)).toEqual([]); // still open, not raised twice
    expect(kinds(run(restarted, 90, () => agent))).toEqual(['resolved:attribution:warning']);
  });

  it('raises nothing when switched off', () => {
    const e = engine({ 'capture-health': { enabled: false } });
    expect(e.health([pgSample(MONDAY, { lagSeconds: 9999, retainedBytes: 50 * GiB, irreversible: [{ table: 'a.b', reason: 'x' }] })])).toEqual([]);
    expect(e.enabled).not.toContain('capture-health');
  });
});
