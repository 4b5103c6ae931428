/**
 * A store on disk written through the store's own writer (no database server), and a config that points at
 * it: for CLI tests of what the query commands print. Transactions are given with their commit time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import type { Actor, RowChange } from '../../src/model/index.js';
import { maskLikeWatch } from '../harness/masking.js';

export interface FixtureTx {
  source?: string;
  xid: string;
  commitTime: string;
  actor: Actor;
  changes: RowChange[];
}

export interface FixtureStore {
  dir: string;
  config: string;
  remove(): void;
}

/** Writes the transactions (positions 0/1, 0/2, … per source) and a rowtrail.yaml naming each source. */
export function fixtureStore(txs: FixtureTx[]): FixtureStore {
  const dir = mkdtempSync(join(tmpdir(), 'rowtrail-cli-fixture-'));
  const store = Store.open(join(dir, 'data'));
  maskLikeWatch(store);
  const sources = [...new Set(txs.map((t) => t.source ?? 'app'))];
  try {
    for (const source of sources) {
      const w = store.writer(source, 'postgresql', 'app');
      txs.filter((t) => (t.source ?? 'app') === source).forEach((t, i) => {
        const tx = w.begin(t.xid);
        for (const c of t.changes) w.add(tx, c);
        const position = `0/${(i + 1).toString(16).toUpperCase()}`;
        w.commit(tx, { position, commitTime: t.commitTime, actor: t.actor, resumePosition: position });
      });
      w.flush();
    }
  } finally {
    store.close();
  }
  const config = join(dir, 'rowtrail.yaml');
  const list = sources.map((s) => `  - name: ${s}\n    kind: postgres\n    url: postgres://nobody@127.0.0.1:1/app\n`).join('');
  writeFileSync(config, `sources:\n${list}store:\n  path: ${join(dir, 'data')}\n`);
  return { dir, config, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An ISO time `ms` milliseconds ago. */
export function ago(ms: number): string {
  return new Date(Date.now() - ms).toISOString();
}

export const HOUR = 3_600_000;

/** A row change of table public.<table> with text values (types all text). */
export function change(table: string, op: RowChange['op'], key: Record<string, string>, before: RowChange['before'], after: RowChange['after']): RowChange {
  const image = after ?? before ?? {};
  const changed = op === 'update' ? Object.keys(after ?? {}).filter((c) => before?.[c] !== after?.[c]) : Object.keys(image);
  const types = Object.fromEntries(Object.keys(image).map((c) => [c, 'text']));
  return { schema: 'public', table, op, key, before, after, changed, types };
}
