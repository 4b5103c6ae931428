/**
 * off-hours: writes in an hour-of-week (UTC) in which the actor has no history, nor in the hours beside it
 * (a DST shift moves a routine by one hour and must not alert). Only for actors with a routine: at least
 * `learningDays` of history and active in at most `maxActiveShare` of the week's hours (a 24/7 service has
 * no off-hours). One alert per actor while it lasts; resolved after `quietMinutes` without such writes.
 *
 * A routine is also measured, not assumed: after the first week the detector counts the actor's own
 * "novel-hour episodes" (writes in an hour-of-week it had no history near). An actor that keeps having them —
 * an agent that runs whenever it is asked — has no off-hours: at most `maxNovelPerWeek` such episodes a week
 * on average, or it is skipped.
 */
import { describeActor, num } from './summary.js';
import type { BaselineRow, DetectorSpec, DetectorUnit, Finding, Resolution, TxSummary } from './types.js';
import type { Severity } from '../src/model/index.js';

const HOUR = 3_600_000;
const WEEK_HOURS = 168;

export interface OffHoursOptions {
  enabled: boolean;
  severity: Severity;
  /** Days of history an actor needs. Default 7. */
  learningDays: number;
  /** Transactions of history an actor needs. Default 20. */
  minTransactions: number;
  /** Actors active in more than this share of the week's hours have no off-hours. Default 0.75. */
  maxActiveShare: number;
  /** Minutes without off-hours writes after which the alert resolves. Default 60. */
  quietMinutes: number;
  /** Novel-hour episodes per week (after the first) above which an actor has no routine. Default 0.5. */
  maxNovelPerWeek: number;
}

interface ActorState {
  first: number;
  txs: number;
  /** Transactions per hour-of-week. */
  hours: number[];
  /** Novel-hour episodes after the first week, and the time of the last novel write. */
  novel: number;
  lastNovel: number;
  /** Open alert: since, last write, rows, txIds. */
  open: { since: number; last: number; rows: number; txIds: string[] } | null;
}

export function hourOfWeek(ms: number): number {
  // 1970-01-01 was a Thursday: shift so that 0 is Monday 00:00 UTC.
  return Math.floor((ms / HOUR + 3 * 24) % WEEK_HOURS + WEEK_HOURS) % WEEK_HOURS;
}

class OffHours implements DetectorUnit {
  private actors = new Map<string, ActorState>();
  constructor(private readonly o: OffHoursOptions) {}

  observe(tx: TxSummary): Finding[] {
    if (tx.rows === 0 && tx.ddl.length === 0) return [];
    const key = `${tx.source}|${tx.actorName}`;
    let st = this.actors.get(key);
    if (!st) this.actors.set(key, (st = { first: tx.commitMs, txs: 0, hours: new Array(WEEK_HOURS).fill(0), novel: 0, lastNovel: 0, open: null }));
    const h = hourOfWeek(tx.commitMs);
    const near = st.hours[h] + st.hours[(h + 1) % WEEK_HOURS] + st.hours[(h + WEEK_HOURS - 1) % WEEK_HOURS];
    const active = st.hours.filter((n) => n > 0).length / WEEK_HOURS;
    const age = tx.commitMs - st.first;
    const weeksAfterFirst = Math.max(0, age / (7 * 24 * HOUR) - 1);
    const regular = weeksAfterFirst > 0 && st.novel <= this.o.maxNovelPerWeek * Math.max(1, weeksAfterFirst);
    const routine = age >= this.o.learningDays * 24 * HOUR && st.txs >= this.o.minTransactions && active <= this.o.maxActiveShare && regular;
    if (near === 0 && age >= 7 * 24 * HOUR) {
      if (tx.commitMs - st.lastNovel > HOUR) st.novel++;
      st.lastNovel = tx.commitMs;
    }
    const out: Finding[] = [];
    if (tx.actorName !== 'unknown' && (st.open || (routine && near === 0))) {
      if (!st.open) st.open = { since: tx.commitMs, last: tx.commitMs, rows: 0, txIds: [] };
      st.open.last = tx.commitMs;
      st.open.rows += tx.rows;
      if (st.open.txIds.length < 100) st.open.txIds.push(tx.txId);
      const who = describeActor(tx);
      const day = new Date(tx.commitMs).toISOString().slice(0, 16).replace('T', ' ');
      const tables = tx.tables.map((t) => t.table);
      out.push({
        detector: 'off-hours',
        key,
        severity: this.o.severity,
        title: `${who} writes at an unusual hour (${day} UTC)`,
        summary:
          `${who} wrote ${num(st.open.rows)} rows (${tables.slice(0, 3).join(', ')}) at ${day} UTC; ` +
          `in ${num((tx.commitMs - st.first) / (24 * HOUR))} days of history it never wrote within an hour of this time of the week.`,
        source: tx.source,
        table: tables[0] ?? null,
        actor: tx.actor,
        at: tx.commitMs,
        txIds: [...st.open.txIds],
        evidence: {
          observed: st.open.rows,
          expected: 0,
          score: 1,
          hourOfWeek: h,
          historyDays: Math.floor((tx.commitMs - st.first) / (24 * HOUR)),
          activeHourShare: Math.round(active * 100) / 100,
        },
      });
    } else {
      // Learned only from routine activity: an off-hours episode does not teach itself as normal.
      st.hours[h]++;
    }
    st.txs++;
    return out;
  }

  tick(now: number): { resolutions: Resolution[] } {
    const out: Resolution[] = [];
    for (const [key, st] of this.actors) {
      if (st.open && now - st.open.last >= this.o.quietMinutes * 60_000) {
        st.open = null;
        out.push({ detector: 'off-hours', key, at: now });
      }
    }
    return { resolutions: out };
  }

  describe(now: number): BaselineRow[] {
    return [...this.actors].map(([key, st]) => {
      const [source, actor] = key.split('|');
      const active = st.hours.filter((n) => n > 0).length;
      return {
        detector: 'off-hours',
        source,
        actor,
        table: null,
        op: null,
        history: `${num((now - st.first) / (24 * HOUR))} d`,
        normal: `writes in ${active} of the week's 168 hours (UTC); ${num(st.novel)} novel-hour episodes`,
        learned: now - st.first >= this.o.learningDays * 24 * HOUR && st.txs >= this.o.minTransactions,
      };
    });
  }

  snapshot(): unknown {
    return { v: 1, actors: [...this.actors].map(([k, s]) => [k, { first: s.first, txs: s.txs, hours: s.hours, novel: s.novel, lastNovel: s.lastNovel }]) };
  }

  restore(state: unknown): boolean {
    const s = state as { v: number; actors: [string, ActorState][] };
    if (s?.v !== 1 || !Array.isArray(s.actors)) return false;
    for (const e of s.actors) {
      const v = Array.isArray(e) ? e[1] : null;
      if (typeof e[0] === 'string' && v && Array.isArray(v.hours) && v.hours.length === WEEK_HOURS && Number.isFinite(v.first)) {
        this.actors.set(e[0], { first: v.first, txs: v.txs || 0, hours: v.hours, novel: v.novel || 0, lastNovel: v.lastNovel || 0, open: null });
      }
    }
    return true;
  }
}

export const offHours: DetectorSpec<Omit<OffHoursOptions, 'enabled' | 'severity'>> = {
  name: 'off-hours',
  description: 'writes in an hour of the week where the actor has no history',
  defaults: { enabled: true, severity: 'warning', learningDays: 7, minTransactions: 20, maxActiveShare: 0.75, quietMinutes: 60, maxNovelPerWeek: 0.5 },
  create: (o) => new OffHours(o),
};
