/**
 * The API's list queries stay on indexes however big the store (SQLite's EXPLAIN QUERY PLAN of the exact
 * statements the handlers run): a newest-first page walks the commit_seq index and stops at its LIMIT,
 * never sorts a whole table's changes or scans the changes table; a row's history and a rarely written
 * table are one index range. Timings on 1M changes are in bench/api (tests do not assert timings).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { Store, type ChangeCursor, type ChangeFilter } from '../../src/store/index.js';
import { pageChanges, queryChanges } from '../../src/store/store-queries.js';

let dir: string;
let store: Store;
const TYPES = { id: 'bigint', v: 'text' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rowtrail-plans-'));
  store = Store.open(dir, { synchronous: 'NORMAL' });
  const w = store.writer('app', 'postgresql', 'app');
  // 12,000 changes: a busy table (over the 5000-change threshold), a rare one, three actors.
  for (let tx = 1, n = 0; n < 12_000; tx++) {
    const h = w.begin(String(tx));
    const table = tx % 50 === 0 ? 'rare' : 'busy';
    for (let k = 0; k < 10; k++, n++) {
      const id = String(n % 3000);
      w.add(h, { schema: 'public', table, op: n % 7 === 0 ? 'delete' : 'update', key: { id }, before: { id, v: `${n - 1}` }, after: n % 7 === 0 ? null : { id, v: `${n}` }, changed: ['v'], types: TYPES });
    }
    const position = `0/${tx.toString(16)}`;
    const actor = { user: 'svc', agent: tx % 3 === 0 ? 'deploy-bot' : undefined, kind: tx % 3 === 0 ? 'ai-agent' : 'service', confidence: 'exact' };
    w.commit(h, { position, commitTime: new Date(Date.UTC(2026, 10, 1) + tx * 1000).toISOString(), actor: actor as never, resumePosition: position });
    if (w.shouldFlush) w.flush();
  }
  w.flush();
});
afterAll(() => {
  store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The plan of the page query that `pageChanges` runs for this filter (the statement it prepares, its args). */
function planOf(f: ChangeFilter, before?: ChangeCursor, limit = 50): string[] {
  let sql = '';
  let args: unknown[] = [];
  const recording = {
    prepare(text: string) {
      const stmt = store.db.prepare(text);
      return {
        get: (...a: unknown[]) => stmt.get(...a),
        all: (...a: unknown[]) => {
          sql = text;
          args = a;
          return stmt.all(...a);
        },
      };
    },
  } as unknown as Database.Database;
  pageChanges(recording, f, limit, before);
  return (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail);
}

describe('query plans of the API', () => {
  const walks: [string, ChangeFilter][] = [
    ['the feed', {}],
    ['an actor', { actor: 'deploy-bot' }],
    ['a busy table', { table: 'public.busy' }],
    ['an op', { op: 'delete' }],
    ['a time window', { since: new Date(Date.UTC(2026, 10, 1, 0, 10)) }],
    ['a source and a table', { source: 'app', table: 'public.busy' }],
  ];
  it.each(walks)('pages %s by walking commit order on its index, with no full sort and no scan of changes', (_, f) => {
    const cursor = store.changesPage(f, 50).next!;
    expect(cursor).not.toBeNull();
    // A page of one too: for a small LIMIT SQLite preferred another index and a sort (see pageChanges).
    for (const plan of [planOf(f), planOf(f, cursor), planOf(f, undefined, 1)]) {
      expect(plan.join(' | ')).toMatch(/(SCAN|SEARCH) t USING (COVERING )?INDEX transactions_seq/);
      expect(plan.join(' | ')).toMatch(/SEARCH c USING PRIMARY KEY \(tx_pk=\?\)/);
      expect(plan).not.toContain('USE TEMP B-TREE FOR ORDER BY');
      expect(plan.filter((d) => /^SCAN c\b/.test(d))).toEqual([]);
    }
  });

  it('finds transactions by xid or position, and changes by id, on indexes (no walk, no scan)', () => {
    const [ev] = store.changesPage({}, 1).changes;
    for (const f of [{ txIds: [ev.tx.id] }, { txIds: [ev.tx.position] }, { changeIds: [ev.id] }] as ChangeFilter[]) {
      const plan = planOf(f).join(' | ');
      expect(plan, JSON.stringify(f)).not.toMatch(/SCAN (t|c)\b/);
      expect(store.changesPage(f, 50).changes.map((c) => c.tx.id)).toContain(ev.tx.id);
    }
    expect(planOf({ txIds: ['1'] }).join(' | ')).toMatch(/transactions_xid \(xid=\?\)[\s\S]*transactions_position \(source=\? AND position=\?\)/);
  });

  it("reads a row's history and a rarely written table as one index range", () => {
    expect(planOf({ table: 'public.busy', key: { id: '42' } }).join(' | ')).toMatch(/SEARCH c USING INDEX changes_row \(schema=\? AND tbl=\? AND key=\?\)/);
    expect(planOf({ table: 'public.rare' }).join(' | ')).toMatch(/SEARCH c USING INDEX changes_row \(schema=\? AND tbl=\?\)/);
  });

  it.each([...walks, ['a rare table', { table: 'public.rare' }] as [string, ChangeFilter]])(
    'pages %s exactly: the pages joined are the newest-first list, no change missing or repeated',
    (_, f) => {
      const expected = [...queryChanges(store.db, { ...f, newestFirst: true, limit: 400 })].map((e) => e.id);
      const got: string[] = [];
      let page = store.changesPage(f, 37);
      got.push(...page.changes.map((e) => e.id));
      while (page.next && got.length < 400) {
        page = store.changesPage(f, 37, page.next);
        got.push(...page.changes.map((e) => e.id));
      }
      expect(got.slice(0, 400)).toEqual(expected);
    },
  );
});
