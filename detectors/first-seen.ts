/**
 * first-seen: a new actor on a source, an actor's first write to a table, a new client address for an actor.
 * Learns silently for `learningHours` after the detector first runs (a fresh install would otherwise alert on
 * everyone); a new identity on a sensitive table is a warning, the rest info.
 */
import { describeActor } from './summary.js';
import { isSensitiveTable } from './sensitive.js';
import type { DetectorSpec, DetectorUnit, Finding, TxSummary } from './types.js';
import type { Severity } from '../src/model/index.js';

export interface FirstSeenOptions {
  enabled: boolean;
  severity: Severity;
  /** Hours after the first transaction seen during which this detector only learns. Default 24. */
  learningHours: number;
  /** Extra sensitive tables (schema.table) besides the built-in name rules. */
  sensitiveTables: string[];
  /** Actors remembered at most (least recently active forgotten first). Default 50000. */
  maxActors: number;
}

interface ActorState {
  tables: string[];
  addrs: string[];
}

class FirstSeen implements DetectorUnit {
  private started: number | null = null;
  private actors = new Map<string, ActorState>();
  constructor(private readonly o: FirstSeenOptions) {}

  observe(tx: TxSummary): Finding[] {
    if (this.started === null) this.started = tx.commitMs;
    const learning = tx.commitMs - this.started < this.o.learningHours * 3_600_000;
    const key = `${tx.source}|${tx.actorName}`;
    let st = this.actors.get(key);
    const out: Finding[] = [];
    const who = describeActor(tx);
    const base = { detector: 'first-seen', source: tx.source, actor: tx.actor, at: tx.commitMs, txIds: [tx.txId] };
    const tables = tx.tables.filter((t) => t.ops.insert + t.ops.update + t.ops.delete + t.ops.truncate > 0).map((t) => t.table);
    const sensitive = tables.filter((t) => isSensitiveTable(t, this.o.sensitiveTables, tx));
    if (!st) {
      st = { tables: [], addrs: [] };
      if (!learning && tx.actorName !== 'unknown') {
        out.push({
          ...base,
          key: `${key}|actor`,
          severity: sensitive.length ? 'warning' : 'info',
          title: `new ${who} writes to ${tables.slice(0, 3).join(', ') || 'the database'}`,
          summary:
            `${who} was never seen on ${tx.source} before; it wrote to ${tables.join(', ') || 'no table'} at ${tx.commitTime}` +
            `${sensitive.length ? ` (sensitive: ${sensitive.join(', ')})` : ''}.`,
          table: sensitive[0] ?? tables[0] ?? null,
          evidence: { observed: 1, expected: 0, score: 1, kind: 'new-actor', tables, sensitiveTables: sensitive },
        });
      }
    } else if (!learning && tx.actorName !== 'unknown') {
      for (const t of tables) {
        if (st.tables.includes(t)) continue;
        const sens = sensitive.includes(t);
        out.push({
          ...base,
          key: `${key}|table|${t}`,
          severity: sens ? 'warning' : 'info',
          title: `${who} writes to ${t} for the first time`,
          summary: `${who} wrote to ${t} at ${tx.commitTime}; it never wrote to this table before${sens ? ' (a sensitive table)' : ''}.`,
          table: t,
          evidence: { observed: 1, expected: 0, score: 1, kind: 'first-table-write', sensitive: sens },
        });
      }
      const addr = tx.actor.clientAddr;
      if (addr && st.addrs.length > 0 && !st.addrs.includes(addr)) {
        out.push({
          ...base,
          key: `${key}|addr|${addr}`,
          severity: 'info',
          title: `${who} connects from a new address ${addr}`,
          summary: `${who} wrote from ${addr} at ${tx.commitTime}; before it used ${st.addrs.slice(0, 5).join(', ')}.`,
          table: null,
          evidence: { observed: 1, expected: 0, score: 1, kind: 'new-address', address: addr, known: st.addrs.slice(0, 20) },
        });
      }
    }
    for (const t of tables) if (!st.tables.includes(t) && st.tables.length < 1000) st.tables.push(t);
    const addr = tx.actor.clientAddr;
    if (addr && !st.addrs.includes(addr) && st.addrs.length < 50) st.addrs.push(addr);
    this.actors.delete(key);
    this.actors.set(key, st);
    while (this.actors.size > this.o.maxActors) this.actors.delete(this.actors.keys().next().value as string);
    return out;
  }

  snapshot(): unknown {
    return { v: 1, started: this.started, actors: [...this.actors] };
  }

  restore(state: unknown): boolean {
    const s = state as { v: number; started: number | null; actors: [string, ActorState][] };
    if (s?.v !== 1 || !Array.isArray(s.actors)) return false;
    this.started = typeof s.started === 'number' ? s.started : null;
    for (const e of s.actors) {
      if (Array.isArray(e) && typeof e[0] === 'string' && Array.isArray(e[1]?.tables) && Array.isArray(e[1]?.addrs)) this.actors.set(e[0], e[1]);
    }
    return true;
  }
}

export const firstSeen: DetectorSpec<Omit<FirstSeenOptions, 'enabled' | 'severity'>> = {
  name: 'first-seen',
  description: 'a new actor, an actor’s first write to a table, a new client address for an actor',
  defaults: { enabled: true, severity: 'info', learningHours: 24, sensitiveTables: [], maxActors: 50000 },
  create: (o) => new FirstSeen(o),
};
