/**
 * The store keeps transactions in the order they committed (the order the source called commit), whatever
 * the batches: `changes`, `blame` and undo (newest first) read history in that order. Random interleavings
 * of begin / add / commit / abort / flush, as a source streaming large in-progress transactions makes them,
 * on the synchronous path and on the write worker; and a crash with streamed slices on disk, then a replay.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, type SourceWriter, type TxHandle } from '../../src/store/index.js';
import type { RowChange } from '../../src/model/index.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'rowtrail-store-order-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const actor = { kind: 'unknown' as const, confidence: 'unknown' as const };
const row = (id: string): RowChange => ({
  schema: 'public', table: 't', op: 'insert', key: { id }, before: null, after: { id }, changed: ['id'],
});
const pos = (n: number) => `0/${n.toString(16).toUpperCase()}`;

/** One step of a source: `t` picks among the open transactions (modulo their number). */
type Step = { k: 'begin' } | { k: 'add'; t: number; n: number } | { k: 'commit'; t: number } | { k: 'abort'; t: number } | { k: 'flush' };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ k: 'begin' as const }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('add' as const), t: fc.nat(), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('commit' as const), t: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('abort' as const), t: fc.nat() }) },
  { weight: 2, arbitrary: fc.constant({ k: 'flush' as const }) },
);
/** Scripts long enough that several transactions are open at once (fast-check's default size is small). */
const steps = fc.array(stepArb, { minLength: 5, maxLength: 80, size: 'max' });

/** A source replaying steps on a writer; `committed` lists (xid, row ids) in the order commit was called. */
class Source {
  readonly open: { h: TxHandle; rows: string[] }[] = [];
  readonly committed: { xid: string; rows: string[] }[] = [];
  private lastXid = 0;
  constructor(
    private readonly w: SourceWriter,
    private readonly flush: () => void,
    private next = { pos: 1 },
  ) {}

  begin(): { h: TxHandle; rows: string[] } {
    const xid = String(++this.lastXid);
    const tx = { h: this.w.begin(xid), rows: [] as string[] };
    this.open.push(tx);
    return tx;
  }

  add(tx: { h: TxHandle; rows: string[] }, n: number): void {
    for (let i = 0; i < n; i++) {
      const id = `${tx.h.xid}.${tx.rows.length}`;
      tx.rows.push(id);
      this.w.add(tx.h, row(id));
    }
  }

  step(s: Step): void {
    if (s.k === 'begin') return void this.add(this.begin(), 1); // sources store no empty transaction
    if (s.k === 'flush') return this.flush();
    if (this.open.length === 0) return;
    const i = s.t % this.open.length;
    const tx = this.open[i];
    if (s.k === 'add') return this.add(tx, s.n);
    this.open.splice(i, 1);
    if (s.k === 'abort') return this.w.abort(tx.h);
    const p = pos(this.next.pos++);
    this.w.commit(tx.h, { position: p, commitTime: '2026-11-26T10:00:00.000001Z', actor, resumePosition: p });
    this.committed.push({ xid: tx.h.xid, rows: tx.rows });
  }
}

/** What the store says, in its order: (xid, row id) per change. */
const stored = (s: Store, source: string) => [...s.changes({ source })].map((e) => [e.tx.id, e.key!.id]);
const expected = (committed: { xid: string; rows: string[] }[]) => committed.flatMap((t) => t.rows.map((id) => [t.xid, id]));

describe('store commit order', () => {
  it('follows the order of commits, across batches and streamed slices written earlier (synchronous writer)', () => {
    const s = Store.open(tempDir(), { synchronous: 'NORMAL' });
    let run = 0;
    try {
      fc.assert(
        fc.property(steps, (steps) => {
          const source = `sync-${++run}`;
          const w = s.writer(source, 'postgresql', 'db');
          const src = new Source(w, () => void w.flush());
          for (const st of steps) src.step(st);
          w.flush();
          expect(stored(s, source)).toEqual(expected(src.committed));
        }),
        { numRuns: 200 },
      );
    } finally {
      s.close();
    }
  });

  it('follows the order of commits on the write worker, with batches in flight', async () => {
    const s = Store.open(tempDir(), { synchronous: 'NORMAL' });
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(steps, async (steps) => {
          const source = `worker-${++run}`;
          const w = s.writer(source, 'postgresql', 'db', { worker: true });
          const src = new Source(w, () => w.post());
          for (const st of steps) src.step(st);
          await w.drain();
          expect(stored(s, source)).toEqual(expected(src.committed));
        }),
        { numRuns: 100 },
      );
    } finally {
      s.close();
    }
  });

  it('keeps commit order through a crash with streamed slices on disk and a replay of what was not durable', () => {
    const dir = tempDir();
    let s = Store.open(dir, { synchronous: 'NORMAL' });
    try {
      const next = { pos: 1 };
      const w1 = s.writer('pg', 'postgresql', 'db');
      const before = new Source(w1, () => void w1.flush(), next);
      const a = before.begin(); // streamed: a slice on disk before anything commits
      before.add(a, 2);
      w1.flush();
      const b = before.begin();
      before.add(b, 1);
      before.step({ k: 'commit', t: 1 }); // B commits first …
      before.add(a, 1);
      const c = before.begin();
      before.add(c, 1);
      w1.flush(); // … durable with A's second slice and C's first
      before.step({ k: 'commit', t: 1 }); // C commits: in memory only when the process dies
      expect(before.committed.map((t) => t.xid)).toEqual([b.h.xid, c.h.xid]);
      s.close(); // the crash: nothing more is written

      s = Store.open(dir, { synchronous: 'NORMAL' });
      const durable = s.position('pg');
      expect(durable).toBe(pos(1));
      const w2 = s.writer('pg', 'postgresql', 'db');
      expect(w2.removedOnOpen).toBe(2); // A and C were open on disk
      // The server resends from the durable position: B again (an ack that did not arrive: dropped, not
      // stored twice), C, and A streamed anew, which then commits after D, a new transaction.
      const after = new Source(w2, () => void w2.flush(), { pos: 1 });
      const a2 = after.begin();
      after.add(a2, 3);
      w2.flush();
      for (const t of [b, c]) {
        const again = after.begin();
        after.add(again, t.rows.length);
        after.step({ k: 'commit', t: after.open.length - 1 });
      }
      const d = after.begin();
      after.add(d, 1);
      w2.flush();
      after.add(a2, 1); // A's last slice, D's commit, A's commit: one batch
      after.step({ k: 'commit', t: after.open.length - 1 }); // D
      after.step({ k: 'commit', t: 0 }); // A
      w2.flush();
      const txs = [...s.changes({ source: 'pg' })].map((e) => `${e.tx.position}:${e.tx.index}`);
      // B (0/1) and C (0/2) as first stored; then D and A in their commit order.
      expect(txs).toEqual(['0/1:0', '0/2:0', '0/3:0', '0/4:0', '0/4:1', '0/4:2', '0/4:3']);
    } finally {
      s.close();
    }
  });
});
