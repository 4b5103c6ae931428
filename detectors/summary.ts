/** Builds the detectors' view of a committed transaction from its stored ChangeEvents (pure). */
import type { ChangeEvent, Op } from '../src/model/index.js';
import type { TableActivity, TxSummary } from './types.js';

const NO_OPS = (): Record<Op, number> => ({ insert: 0, update: 0, delete: 0, truncate: 0, ddl: 0 });

/** What a summary reads of a change (the store's detection read gives exactly this: queryDetectionEvents). */
export type SummaryInput = Pick<ChangeEvent, 'source' | 'schema' | 'table' | 'op' | 'before' | 'after' | 'changed' | 'tx' | 'actor' | 'ddl'>;

/** The actor's stable name for baselines: the agent behind a shared account, else the session user. */
export function actorName(ev: Pick<ChangeEvent, 'actor'>): string {
  return ev.actor?.agent || ev.actor?.user || 'unknown';
}

/** Summarizes one transaction's events (all of one source and one transaction, any order). */
export function summarize(events: SummaryInput[]): TxSummary {
  if (events.length === 0) throw new Error('summarize: a transaction without events');
  const b = new TxBuilder(events[0]);
  for (const ev of events) b.add(ev);
  return b.finish();
}

type Building = TableActivity & { values: Map<string, Map<string, number>> };

/** Builds a TxSummary event by event, so a transaction of a million rows is never held in memory. */
export class TxBuilder {
  private readonly tables = new Map<string, Building>();
  private readonly ddl: string[] = [];
  private rows = 0;
  constructor(private readonly first: SummaryInput) {}

  add(ev: SummaryInput): void {
    const name = `${ev.schema}.${ev.table}`;
    let t = this.tables.get(name);
    if (!t) {
      t = { table: name, ops: NO_OPS(), columns: {}, nulled: {}, sameValue: {}, values: new Map() };
      this.tables.set(name, t);
    }
    t.ops[ev.op]++;
    if (ev.op === 'ddl') {
      if (ev.ddl) this.ddl.push(ev.ddl);
      return;
    }
    if (ev.op === 'truncate') return;
    this.rows++;
    const cols = ev.op === 'update' ? ev.changed : ev.op === 'insert' ? Object.keys(ev.after ?? {}) : [];
    for (const c of cols) {
      t.columns[c] = (t.columns[c] ?? 0) + 1;
      if (ev.op !== 'update' || !ev.after) continue;
      const v = ev.after[c];
      if (v === null && ev.before && ev.before[c] !== null && ev.before[c] !== undefined) t.nulled[c] = (t.nulled[c] ?? 0) + 1;
      // Same-value counting keeps at most a few distinct values per column: a mass update writes one.
      let m = t.values.get(c);
      if (!m) t.values.set(c, (m = new Map()));
      const key = v === null ? '\u0000null' : v;
      if (m.has(key) || m.size < 8) m.set(key, (m.get(key) ?? 0) + 1);
    }
  }

  finish(): TxSummary {
    const out: TableActivity[] = [];
    for (const t of this.tables.values()) {
      for (const [c, m] of t.values) t.sameValue[c] = Math.max(...m.values());
      const { values: _values, ...rest } = t;
      out.push(rest);
    }
    const first = this.first;
    const commitMs = Date.parse(first.tx.commitTime);
    return {
      source: first.source,
      txId: first.tx.id,
      position: first.tx.position,
      commitMs: Number.isFinite(commitMs) ? commitMs : 0,
      commitTime: first.tx.commitTime,
      actor: first.actor,
      actorName: actorName(first),
      tables: out,
      rows: this.rows,
      ddl: this.ddl,
    };
  }
}

/** Human text for an actor: `AI agent deploy-bot (on svc_app, exact)`. */
export function describeActor(tx: Pick<TxSummary, 'actor' | 'actorName'>): string {
  const a = tx.actor;
  const kind = a.kind === 'ai-agent' ? 'AI agent' : a.kind === 'human' ? 'person' : a.kind === 'service' ? 'service' : 'actor';
  const on = a.agent && a.user && a.user !== a.agent ? `on ${a.user}, ` : '';
  return `${kind} ${tx.actorName} (${on}${a.confidence})`;
}

/** `3,920` */
export function num(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
