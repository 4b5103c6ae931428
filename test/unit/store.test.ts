/** The store's own guarantees: idempotent commits, crash leftovers removed, retention, change ids. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, parseChangeId, isoToMicros, parseDuration, parseTimeArg } from '../../src/store/index.js';
import type { RowChange } from '../../src/model/index.js';
import { summarize } from '../../detectors/index.js';

const dirs: string[] = [];
function open(): Store {
  const d = mkdtempSync(join(tmpdir(), 'rowtrail-store-unit-'));
  dirs.push(d);
  return Store.open(d);
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const actor = { kind: 'unknown' as const, confidence: 'unknown' as const };
function ins(id: number): RowChange {
  return { schema: 'public', table: 't', op: 'insert', key: { id: String(id) }, before: null, after: { id: String(id), v: 'x' }, changed: ['id', 'v'], types: { id: 'integer', v: 'text' } };
}

describe('store', () => {
  it('drops a replayed transaction (same commit position) instead of storing it twice', () => {
    const s = open();
    for (let round = 0; round < 2; round++) {
      const w = s.writer('src', 'postgresql', 'db');
      const tx = w.begin('100');
      w.add(tx, ins(1));
      w.commit(tx, { position: '0/10', commitTime: '2026-11-26T10:00:00.000001Z', actor, resumePosition: '0/18' });
      expect(w.flush()).toBe('0/18');
    }
    const evs = [...s.changes()];
    expect(evs).toHaveLength(1);
    expect(evs[0].id).toBe('src:0/10:0');
    expect(evs[0].changed).toEqual(['id', 'v']);
    expect(s.position('src')).toBe('0/18');
  });

  it('removes what a crash left half-written when the writer opens again', () => {
    const s = open();
    const w = s.writer('src', 'postgresql', 'db');
    const tx = w.begin('7');
    for (let i = 0; i < 10; i++) w.add(tx, ins(i));
    w.flush(); // a slice of an uncommitted transaction is on disk
    expect((s.db.prepare(`SELECT count(*) AS n FROM changes`).get() as { n: number }).n).toBe(10);
    expect([...s.changes()]).toHaveLength(0); // readers never see it
    const again = s.writer('src', 'postgresql', 'db');
    expect(again.removedOnOpen).toBe(1);
    expect((s.db.prepare(`SELECT count(*) AS n FROM changes`).get() as { n: number }).n).toBe(0);
  });

  it('truncates a transaction back to a savepoint, both in memory and on disk', () => {
    const s = open();
    const w = s.writer('src', 'postgresql', 'db');
    const tx = w.begin('9');
    for (let i = 0; i < 6; i++) w.add(tx, ins(i));
    w.flush();
    for (let i = 6; i < 9; i++) w.add(tx, ins(i));
    w.truncate(tx, 4); // drops 4..8: two on disk, three in memory
    w.add(tx, ins(100));
    w.commit(tx, { position: '0/20', commitTime: '2026-11-26T10:00:00Z', actor, resumePosition: '0/28' });
    w.flush();
    const evs = [...s.changes()];
    expect(evs.map((e) => e.after!.id)).toEqual(['0', '1', '2', '3', '100']);
    expect(evs.map((e) => e.tx.index)).toEqual([0, 1, 2, 3, 4]);
    expect(evs[0].tx.size).toBe(5);
  });

  it("lists the tables each actor wrote: across slices, without a savepoint's rolled-back part, and for rows stored before the column", () => {
    const s = open();
    const w = s.writer('src', 'postgresql', 'db');
    const on = (table: string, id: number): RowChange => ({ ...ins(id), table });
    const bot = { kind: 'ai-agent' as const, confidence: 'exact' as const, agent: 'bot', user: 'svc' };
    const alice = { kind: 'human' as const, confidence: 'exact' as const, user: 'alice' };
    const big = w.begin('1');
    w.add(big, on('a', 1));
    w.flush(); // a slice on disk, the rest later
    w.add(big, on('b', 2));
    w.commit(big, { position: '0/10', commitTime: '2026-11-26T10:00:00Z', actor: bot, resumePosition: '0/10' });
    const sp = w.begin('2');
    w.add(sp, on('c', 3));
    w.flush();
    w.add(sp, on('d', 4));
    w.truncate(sp, 1); // back to a savepoint: its write to d never happened
    w.add(sp, on('e', 5));
    w.commit(sp, { position: '0/20', commitTime: '2026-11-26T10:01:00Z', actor: bot, resumePosition: '0/20' });
    const old = w.begin('3');
    w.add(old, on('f', 6));
    w.commit(old, { position: '0/30', commitTime: '2026-11-26T10:02:00Z', actor: alice, resumePosition: '0/30' });
    w.flush();
    const stored = s.db.prepare(`SELECT xid, tables FROM transactions ORDER BY xid`).all();
    expect(stored).toEqual([
      { xid: '1', tables: 'public.a\x1fpublic.b' },
      { xid: '2', tables: 'public.c\x1fpublic.e' },
      { xid: '3', tables: 'public.f' },
    ]);
    // a transaction stored by a rowtrail from before `transactions.tables`: its changes say what it wrote
    s.db.prepare(`UPDATE transactions SET tables = NULL WHERE xid = '3'`).run();
    const actors = s.actors();
    expect(actors.map((a) => [a.agent ?? a.user, a.transactions, a.changes, a.tables])).toEqual([
      ['bot', 2, 4, ['public.a', 'public.b', 'public.c', 'public.e']],
      ['alice', 1, 1, ['public.f']],
    ]);
    expect(actors[0]).toMatchObject({ first: '2026-11-26T10:00:00Z', last: '2026-11-26T10:01:00Z' });
  });

  it("the detectors' lean read summarizes every transaction as the full read does", () => {
    const s = open();
    const w = s.writer('src', 'postgresql', 'db');
    const bot = { kind: 'ai-agent' as const, confidence: 'exact' as const, agent: 'bot', user: 'svc' };
    const row = (id: number, v: string | null, n: string | null = '1') => ({ id: String(id), v, n });
    const changes: RowChange[] = [
      ins(1),
      { schema: 'public', table: 't', op: 'update', key: { id: '1' }, before: row(1, 'x'), after: row(1, null), changed: ['v'] },
      { schema: 'public', table: 't', op: 'update', key: { id: '2' }, before: row(2, 'y', null), after: row(2, 'z', null), changed: ['v'] },
      { schema: 'public', table: 'u', op: 'update', key: { id: '3' }, before: row(3, 'a:null'), after: row(3, 'b:null'), changed: ['v'] },
      { schema: 'public', table: 't', op: 'delete', key: { id: '1' }, before: row(1, null), after: null, changed: ['id', 'v', 'n'] },
      { schema: 'public', table: 'u', op: 'truncate', key: null, before: null, after: null, changed: [], truncate: { cascade: false, restartIdentity: false } },
      { schema: 'public', table: 'u', op: 'ddl', key: null, before: null, after: null, changed: [], ddl: 'ALTER TABLE u ADD COLUMN w int' },
    ];
    for (const [i, c] of changes.entries()) {
      const tx = w.begin(String(i));
      w.add(tx, c);
      if (i % 2) w.add(tx, ins(100 + i));
      w.commit(tx, { position: `0/${i + 1}0`, commitTime: `2026-11-26T10:0${i}:00Z`, actor: i % 3 ? bot : actor, resumePosition: `0/${i + 1}0` });
    }
    w.flush();
    const byTx = <E extends { seq: number }>(it: Iterable<E>) => {
      const m = new Map<number, E[]>();
      for (const e of it) m.set(e.seq, [...(m.get(e.seq) ?? []), e]);
      return m;
    };
    const full = byTx(s.eventsAfter(0, 100));
    const lean = byTx(s.detectionEventsAfter(0, 100));
    expect([...lean.keys()]).toEqual([...full.keys()]);
    expect(full.size).toBe(changes.length);
    for (const [seq, evs] of full) {
      expect(summarize(lean.get(seq)!.map((e) => e.event)), `tx ${seq}`).toEqual(summarize(evs.map((e) => e.event)));
    }
  });

  it('prunes transactions older than the retention', () => {
    const s = open();
    const w = s.writer('src', 'postgresql', 'db');
    for (const [pos, time] of [['0/1', '2020-01-01T00:00:00Z'], ['0/2', '2026-11-26T10:00:00Z']]) {
      const tx = w.begin(pos);
      w.add(tx, ins(Number(pos.slice(2))));
      w.commit(tx, { position: pos, commitTime: time, actor, resumePosition: pos });
    }
    w.flush();
    expect(s.prune(Date.parse('2025-01-01T00:00:00Z'))).toBe(1);
    expect([...s.changes()].map((e) => e.tx.position)).toEqual(['0/2']);
  });

  it('parses ids, times and durations', () => {
    expect(parseChangeId('shop:binlog.000001:4:2')).toEqual({ source: 'shop', position: 'binlog.000001:4', index: 2 });
    expect(parseChangeId('nonsense')).toBeNull();
    expect(isoToMicros('2026-11-26T10:00:00.123456Z') % 1_000_000).toBe(123456);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseTimeArg('10m', 1_000_000_000).getTime()).toBe(1_000_000_000 - 600_000);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });
});
