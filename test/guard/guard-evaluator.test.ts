/** The guards' pure core: counting per operation and table, lines, actor match, once per transaction, when to act. */
import { describe, expect, it } from 'vitest';
import { parseConfig, type GuardConfig } from '../../src/config/index.js';
import { GuardEvaluator, decide, guardAlert, matchesActor, type GuardEvent } from '../../src/guard/index.js';
import type { Actor } from '../../src/model/index.js';

const base = { sources: [{ name: 'pg', kind: 'postgres', url: 'postgres://u@h/db' }] };
const guards = (gs: unknown[]): GuardConfig[] => parseConfig({ ...base, guards: gs }, {}).guards;
const agent: Actor = { user: 'svc', agent: 'deploy-bot', kind: 'ai-agent', confidence: 'exact', method: 'precise-message', sessionId: '4242' };
const human: Actor = { user: 'alice', kind: 'human', confidence: 'exact', method: 'precise-message', sessionId: '77' };

/** Feeds `n` changes and returns the index (1-based) of the change that fired, or 0. */
function feed(ev: GuardEvaluator, st: ReturnType<GuardEvaluator['begin']>, n: number, op: 'insert' | 'update' | 'delete', table: string, who: Actor): number {
  for (let i = 1; i <= n; i++) if (ev.change(st, op, table, () => who)) return i;
  return 0;
}

describe('guard evaluator', () => {
  it('fires on the row that crosses rowsOver, once per transaction, counting only its operations', () => {
    const ev = new GuardEvaluator(guards([{ name: 'g', match: { kind: 'ai-agent' }, when: { op: 'delete', rowsOver: 100 }, action: 'terminate' }]));
    const st = ev.begin();
    expect(feed(ev, st, 500, 'update', 'public.t', agent)).toBe(0);
    expect(feed(ev, st, 500, 'delete', 'public.t', agent)).toBe(101);
    expect(st.fired?.observed).toBe(101);
    expect(st.fired?.seen).toEqual([
      { table: 'public.t', op: 'update', rows: 500 },
      { table: 'public.t', op: 'delete', rows: 101 },
    ]);
    expect(feed(ev, st, 500, 'delete', 'public.t', agent)).toBe(0); // never again in this transaction
    const other = ev.begin();
    expect(feed(ev, other, 101, 'delete', 'public.u', agent)).toBe(101); // a new transaction counts from zero
  });

  it('counts rowsOver over the matching tables together; tables with globs', () => {
    const ev = new GuardEvaluator(guards([{ name: 'g', when: { ops: ['update', 'delete'], rowsOver: 10, tables: ['billing.*'] }, action: 'alert' }]));
    const st = ev.begin();
    expect(feed(ev, st, 50, 'delete', 'public.t', human)).toBe(0);
    expect(feed(ev, st, 6, 'update', 'billing.a', human)).toBe(0);
    expect(feed(ev, st, 6, 'delete', 'billing.b', human)).toBe(5);
  });

  it('tableFractionOver uses the table size once known, per table', () => {
    const sizes = new Map<string, number>([['public.small', 100]]);
    const ev = new GuardEvaluator(guards([{ name: 'g', when: { op: 'delete', tableFractionOver: 0.1 }, action: 'alert' }]), { tableRows: (t) => sizes.get(t) ?? null });
    const st = ev.begin();
    expect(feed(ev, st, 500, 'delete', 'public.unknown', human)).toBe(0); // size unknown: that line cannot be crossed
    expect(feed(ev, st, 20, 'delete', 'public.small', human)).toBe(11);
    expect(st.fired).toMatchObject({ crossed: 'tableFractionOver', table: 'public.small', observed: 11, line: 10 });
  });

  it('matches actors on every given field; a field the actor lacks never matches', () => {
    const [g] = guards([{ name: 'g', match: { agent: 'deploy-*', user: 'svc' }, when: { rowsOver: 1 }, action: 'terminate' }]);
    expect(matchesActor(g!, agent)).toBe(true);
    expect(matchesActor(g!, { ...agent, user: 'other' })).toBe(false);
    expect(matchesActor(g!, human)).toBe(false);
    const [all] = guards([{ name: 'all', when: { rowsOver: 1 }, action: 'alert' }]);
    expect(matchesActor(all!, { kind: 'unknown', confidence: 'unknown' })).toBe(true);
  });

  it('a human under an agents-only guard is never fired on, however many rows', () => {
    const ev = new GuardEvaluator(guards([{ name: 'g', match: { kind: 'ai-agent' }, when: { op: 'delete', rowsOver: 10 }, action: 'terminate' }]));
    expect(feed(ev, ev.begin(), 10_000, 'delete', 'public.t', human)).toBe(0);
  });

  it('acts only on an exact actor named by a precise message, on a streamed transaction, with action cancel/terminate', () => {
    const [term, dry] = guards([
      { name: 't', when: { rowsOver: 1 }, action: 'terminate' },
      { name: 'd', when: { rowsOver: 1 }, action: 'alert' },
    ]);
    const firing = (g: GuardConfig, actor: Actor) => ({ guard: g, actor, crossed: 'rowsOver' as const, table: 'public.t', observed: 2, line: 1, seen: [] });
    expect(decide(firing(term!, agent), true)).toEqual({ act: true, reason: null });
    expect(decide(firing(dry!, agent), true).act).toBe(false);
    expect(decide(firing(term!, agent), false).reason).toMatch(/not streamed/);
    expect(decide(firing(term!, { ...agent, confidence: 'inferred', method: 'heuristic:statement-text' }), true).reason).toMatch(/inferred.*never ends a session on a guess/);
    expect(decide(firing(term!, { ...agent, method: 'activity-xid' }), true).act).toBe(false);
    expect(decide(firing(term!, { kind: 'unknown', confidence: 'unknown' }), true).act).toBe(false);
  });

  it('the alert carries counts, the guard, the actor and the outcome, never row values', () => {
    const [g] = guards([{ name: 'agents-no-mass-delete', match: { kind: 'ai-agent' }, when: { op: 'delete', rowsOver: 100 }, action: 'terminate' }]);
    const ev = new GuardEvaluator([g!]);
    const st = ev.begin();
    feed(ev, st, 150, 'delete', 'public.customers', agent);
    const e: GuardEvent = {
      source: 'pg', xid: '771', firing: st.fired!, decision: { act: true, reason: null }, firstAt: 1_000, firedAt: 2_000,
      result: { done: true, detail: 'backend 4242 terminated (it was idle in transaction)', ms: 12 }, outcome: 'rolled-back', endedAt: 2_050,
    };
    const a = guardAlert(e);
    expect(a).toMatchObject({
      id: 'guard:pg:771:agents-no-mass-delete', detector: 'guard', severity: 'critical', table: 'public.customers', txIds: ['771'], undo: null,
      evidence: { guard: 'agents-no-mass-delete', action: 'terminate', acted: true, outcome: 'rolled-back', observed: 101, expected: 100, seen: [{ table: 'public.customers', op: 'delete', rows: 101 }] },
    });
    expect(a.title).toBe('Stopped before commit: deploy-bot (ai-agent, user svc) deleted 101 rows of public.customers (guard agents-no-mass-delete, terminated)');
    expect(guardAlert({ ...e, outcome: 'committed', result: { done: false, detail: 'gone', ms: 3 } }).title).toMatch(/^Committed before the guard acted/);
    expect(guardAlert({ ...e, decision: { act: false, reason: 'dry run (action: alert)' }, result: null }).title).toMatch(/^Guard agents-no-mass-delete would have stopped/);
  });
});

describe('guards config', () => {
  const bad = (gs: unknown[], extra: object = {}) => () => parseConfig({ ...base, ...extra, guards: gs }, {});
  it('refuses a guard without a line, with op and ops, twice the same name, on an unknown or MySQL source', () => {
    expect(bad([{ name: 'g', when: { op: 'delete' }, action: 'alert' }])).toThrow(/rowsOver or tableFractionOver/);
    expect(bad([{ name: 'g', when: { op: 'delete', ops: ['update'], rowsOver: 1 }, action: 'alert' }])).toThrow(/op or ops/);
    expect(bad([{ name: 'g', when: { rowsOver: 1 }, action: 'kill' }])).toThrow(/action/);
    expect(bad([{ name: 'g', when: { rowsOver: 1 }, action: 'alert' }, { name: 'g', when: { rowsOver: 2 }, action: 'alert' }])).toThrow(/two guards are named 'g'/);
    expect(bad([{ name: 'g', sources: ['nope'], when: { rowsOver: 1 }, action: 'alert' }])).toThrow(/no source is named 'nope'/);
    const my = { sources: [...base.sources, { name: 'my', kind: 'mysql', url: 'mysql://u@h/db' }] };
    expect(bad([{ name: 'g', sources: ['my'], when: { rowsOver: 1 }, action: 'terminate' }], my)).toThrow(/binlog is written at commit/);
    expect(bad([{ name: 'g', when: { rowsOver: 1 }, action: 'alert' }], { sources: [{ ...base.sources[0], decodingWorkMem: '64 MB' }] })).toThrow(/256kB/);
  });
});
