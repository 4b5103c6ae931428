/**
 * A guard's alert (pure): what happened to the transaction, who it was, the rows seen per operation and table
 * when the line was crossed (counts only: an alert never carries row values), the guard, the action and its
 * result. One alert per transaction (id from source, xid and guard), rewritten as the outcome becomes known:
 * fired → acted → rolled back ("stopped before commit") or committed ("committed before the guard acted").
 */
import type { Actor, Alert } from '../model/index.js';
import type { Decision, Firing } from './guard-evaluator.js';

/** The result of a cancel/terminate through the privileged connection. */
export interface ActionResult {
  /** The server signalled the backend (and, for terminate, the backend ended within the wait). */
  done: boolean;
  /** One line: what the server said. */
  detail: string;
  /** From the start of the action to the server's answer (ms). */
  ms: number;
}

/** Where the transaction is: still running, rolled back on the server, committed, or unknown (rowtrail's session closed). */
export type GuardOutcome = 'in-flight' | 'rolled-back' | 'committed' | 'unknown';

export interface GuardEvent {
  source: string;
  xid: string;
  firing: Firing;
  decision: Decision;
  /** When the first change of the transaction and the crossing change were decoded (ms since epoch). */
  firstAt: number;
  firedAt: number;
  /** Set once the action answered. */
  result: ActionResult | null;
  outcome: GuardOutcome;
  /** When the outcome became known (ms since epoch). */
  endedAt: number | null;
}

const VERB = { terminate: 'terminated', cancel: 'cancelled', alert: 'alerted' } as const;
const DONE = { delete: 'deleted', update: 'updated', insert: 'inserted' } as const;

export function guardAlertId(source: string, xid: string, guard: string): string {
  return `guard:${source}:${xid}:${guard}`;
}

/** `deploy-bot (ai-agent)`, `alice (human)`, `an unknown actor`. */
export function actorName(a: Actor): string {
  const name = a.agent ?? a.user ?? null;
  return name ? `${name} (${a.kind}${a.agent && a.user ? `, user ${a.user}` : ''})` : 'an unknown actor';
}

export function guardAlert(e: GuardEvent): Alert {
  const f = e.firing;
  const g = f.guard;
  const top = f.seen.find((s) => s.table === f.table) ?? f.seen[0]!;
  const what = `${DONE[top.op]} ${top.rows.toLocaleString('en-US')} rows of ${top.table}`;
  const who = actorName(f.actor);
  let title: string;
  if (e.decision.act && e.result?.done && e.outcome !== 'committed') {
    title = `Stopped before commit: ${who} ${what} (guard ${g.name}, ${VERB[g.action]})`;
  } else if (e.decision.act && e.outcome === 'committed') {
    title = `Committed before the guard acted: ${who} ${what} (guard ${g.name})`;
  } else if (e.decision.act) {
    title = `Guard ${g.name} ${e.result ? `could not ${g.action}` : `is acting (${g.action})`}: ${who} ${what} before commit`;
  } else {
    title = `Guard ${g.name} would have stopped ${who} before commit: ${what}`;
  }
  const outcome = {
    'in-flight': 'the transaction has not ended yet',
    'rolled-back': 'the transaction rolled back: no row was changed',
    committed: 'the transaction committed',
    unknown: "rowtrail's replication session closed before the transaction ended",
  }[e.outcome];
  const action = !e.decision.act
    ? `did not act: ${e.decision.reason}`
    : e.result
      ? `${g.action}: ${e.result.detail} (${Math.round(e.result.ms)} ms after the line was crossed)`
      : `${g.action}: in progress`;
  const line = f.crossed === 'rowsOver' ? `more than ${f.line} rows` : `more than ${g.when.tableFractionOver} of the table (${f.line} rows)`;
  return {
    id: guardAlertId(e.source, e.xid, g.name),
    detector: 'guard',
    severity: 'critical',
    title,
    summary: `Transaction ${e.xid} of ${who} crossed guard ${g.name} (${line}) before it committed; ${action}; ${outcome}.`,
    source: e.source,
    table: f.table,
    actor: f.actor,
    window: { from: new Date(e.firstAt).toISOString(), to: new Date(e.endedAt ?? e.firedAt + (e.result?.ms ?? 0)).toISOString() },
    evidence: {
      observed: f.observed,
      expected: f.line,
      guard: g.name,
      crossed: f.crossed,
      action: g.action,
      acted: e.decision.act,
      reason: e.decision.reason,
      result: e.result,
      outcome: e.outcome,
      // Rows seen per operation and table when the line was crossed: what would have been changed so far.
      seen: f.seen,
      xid: e.xid,
      msCrossingToAction: e.result ? Math.round(e.result.ms) : null,
    },
    txIds: [e.xid],
    state: 'open',
    // Nothing to undo once it rolled back; if it committed, undo works on the stored transaction as usual.
    undo: e.outcome === 'committed' ? `rowtrail undo --tx ${e.xid} --source ${e.source}` : null,
  };
}
