/** Crafted transactions for detector unit tests. */
import type { Actor, ChangeEvent, Op, Row } from '../../src/model/index.js';
import { summarize } from '../../detectors/summary.js';
import type { TxSummary } from '../../detectors/types.js';

let txn = 0;

export const agent: Actor = { user: 'svc_app', agent: 'deploy-bot', kind: 'ai-agent', confidence: 'exact', clientAddr: '10.0.0.7' };
export const human: Actor = { user: 'alice', kind: 'human', confidence: 'exact', clientAddr: '10.0.0.9' };

export interface Rows {
  table?: string;
  op: Op;
  n: number;
  before?: (i: number) => Row;
  after?: (i: number) => Row;
  ddl?: string;
}

/** A transaction at `at` (ms) by `actor` with the given row changes. */
export function tx(at: number, actor: Actor, parts: Rows[], source = 'app'): TxSummary {
  const id = String(++txn);
  const events: ChangeEvent[] = [];
  for (const p of parts) {
    const [schema, table] = (p.table ?? 'public.items').split('.');
    for (let i = 0; i < p.n; i++) {
      const before = p.op === 'insert' || p.op === 'ddl' || p.op === 'truncate' ? null : (p.before?.(i) ?? { id: String(i), v: 'x' });
      const after = p.op === 'delete' || p.op === 'ddl' || p.op === 'truncate' ? null : (p.after?.(i) ?? { id: String(i), v: 'y' });
      const changed = before && after ? Object.keys(after).filter((k) => before[k] !== after[k]) : Object.keys(after ?? before ?? {});
      events.push({
        id: `${source}:${id}:${events.length}`,
        source,
        system: 'postgresql',
        database: 'app',
        schema,
        table,
        op: p.op,
        key: before || after ? { id: String(i) } : null,
        before,
        after,
        changed,
        ddl: p.ddl,
        tx: { id, position: `0/${id}`, commitTime: new Date(at).toISOString(), index: events.length, size: 0 },
        actor,
      });
    }
  }
  return summarize(events);
}

export const HOUR = 3_600_000;
/** Monday 2026-01-05 00:00 UTC. */
export const MONDAY = Date.UTC(2026, 0, 5);
export const noSize = { tableRows: () => null };
