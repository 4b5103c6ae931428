/** Worker writers: batches written on the store's write worker, in order, with bounded batches in flight. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import type { RowChange } from '../../src/model/index.js';

const stores: Store[] = [];
const dirs: string[] = [];
function open(): Store {
  const d = mkdtempSync(join(tmpdir(), 'rowtrail-store-worker-'));
  dirs.push(d);
  const s = Store.open(d);
  stores.push(s);
  return s;
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const actor = { kind: 'unknown' as const, confidence: 'unknown' as const };
const types = { id: 'integer', v: 'text' };
function ins(id: number): RowChange {
  return { schema: 'public', table: 't', op: 'insert', key: { id: String(id) }, before: null, after: { id: String(id), v: 'x' }, changed: ['id', 'v'], types };
}
const time = '2026-11-26T10:00:00.000001Z';
const count = (s: Store) => (s.db.prepare(`SELECT count(*) AS n FROM changes`).get() as { n: number }).n;

describe('store write worker', () => {
  it('reports each batch durable in order; a commit on its way counts as committed', async () => {
    const s = open();
    const w = s.writer('src', 'postgresql', 'db', { worker: true });
    const durable: (string | null)[] = [];
    w.onWritten((d, e) => {
      expect(e).toBeNull();
      durable.push(d);
    });
    for (let t = 1; t <= 5; t++) {
      const tx = w.begin(String(t));
      for (let i = 0; i < 3; i++) w.add(tx, ins(t * 10 + i));
      w.commit(tx, { position: `0/${t}0`, commitTime: time, actor: () => ({ ...actor, user: 'resolved-on-main' }), resumePosition: `0/${t}8` });
      w.post();
      expect(w.isCommitted(`0/${t}0`)).toBe(true);
      expect(() => w.flush()).toThrow(/synchronous writers/);
    }
    expect(w.full).toBe(true); // 2 batches in flight; the rest waits in memory
    await w.drain();
    expect(w.full).toBe(false);
    expect(durable.at(-1)).toBe('0/58');
    expect(s.position('src')).toBe('0/58');
    const evs = [...s.changes()];
    expect(evs.map((e) => e.id)).toEqual([10, 20, 30, 40, 50].flatMap((p) => [0, 1, 2].map((i) => `src:0/${p}:${i}`)));
    expect(evs[0].actor.user).toBe('resolved-on-main');
    expect(evs[0].types).toEqual(types);
    expect(w.isCommitted('0/30')).toBe(true);
  });

  it('writes a large transaction in slices; abort and truncation reach the worker; a replay is dropped', async () => {
    const s = open();
    const w = s.writer('src', 'postgresql', 'db', { worker: true });
    const big = w.begin('big');
    for (let i = 0; i < 12; i++) {
      w.add(big, ins(i));
      if (i % 4 === 3) w.post();
    }
    const gone = w.begin('gone');
    w.add(gone, ins(100));
    w.post();
    await w.drain();
    expect(count(s)).toBe(13);
    expect([...s.changes()]).toHaveLength(0);
    w.truncate(big, 6); // back to a savepoint inside the written slices
    w.abort(gone);
    w.commit(big, { position: '0/100', commitTime: time, actor, resumePosition: '0/108' });
    await w.drain();
    expect([...s.changes()].map((e) => e.tx.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(count(s)).toBe(6);
    // The same commit again (an ack lost in a crash): dropped by the worker.
    const again = w.begin('big');
    w.add(again, ins(1));
    w.commit(again, { position: '0/100', commitTime: time, actor, resumePosition: '0/108' });
    await w.drain();
    expect(count(s)).toBe(6);
  });

  it('drains when the transaction buffered while full was aborted before it could be posted', async () => {
    const s = open();
    const w = s.writer('src', 'postgresql', 'db', { worker: true });
    for (let t = 1; t <= 2; t++) {
      const tx = w.begin(String(t));
      w.add(tx, ins(t));
      w.commit(tx, { position: `0/${t}0`, commitTime: time, actor, resumePosition: `0/${t}8` });
      w.post();
    }
    expect(w.full).toBe(true);
    const gone = w.begin('3');
    w.add(gone, ins(3));
    w.post(); // waits for a reply
    w.abort(gone); // (a rollback, or a source stopping) nothing is left to post
    await w.drain(); // never resolved before the fix
    expect([...s.changes()].map((e) => e.tx.id)).toEqual(['1', '2']);
    expect(count(s)).toBe(2);
  });

  it('removes what a crash left open when a worker writer opens', async () => {
    const s = open();
    const w = s.writer('src', 'postgresql', 'db', { worker: true });
    const tx = w.begin('7');
    for (let i = 0; i < 10; i++) w.add(tx, ins(i));
    await w.drain();
    expect(count(s)).toBe(10);
    expect(s.writer('src', 'postgresql', 'db', { worker: true }).removedOnOpen).toBe(1);
    expect(count(s)).toBe(0);
  });
});
