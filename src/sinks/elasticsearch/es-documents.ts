/**
 * The Elasticsearch documents of changes and alerts (pure). ECS-aligned names where ECS has one (`@timestamp`,
 * `event.*`, `user.name`, `client.ip`, `related.*`, `service.name`, `message`, `rule.*`), OpenTelemetry's
 * `db.*` names for the database, and rowtrail's own fields under `rowtrail.*`. Row images are `flattened`
 * (es-templates.ts): every value stays the database's text form (a string), exactly as the store gives it —
 * masked where masking applies; the sink never reads sealed images.
 *
 * Document ids are deterministic, so a replay after a crash finds the same id (409, counted as stored):
 * a change's id is its change id (`source:position:index`); an alert's is `<alert id>:<state>` (one document
 * per state the alert enters).
 */
import { isIP } from 'node:net';
import type { Alert, ChangeEvent, Op, Severity } from '../../model/index.js';

/** ECS `event.type` per operation. */
export const EVENT_TYPE: Record<Op, string[]> = {
  insert: ['creation'],
  update: ['change'],
  delete: ['deletion'],
  truncate: ['deletion'],
  ddl: ['change'],
};

/** ECS `event.severity` is numeric: larger is more severe. */
export const SEVERITY_NUMBER: Record<Severity, number> = { info: 1, warning: 2, critical: 3 };

export type Doc = Record<string, unknown>;

/** The data stream names of a namespace. */
export function streamNames(namespace: string): { changes: string; alerts: string } {
  return { changes: `rowtrail-changes-${namespace}`, alerts: `rowtrail-alerts-${namespace}` };
}

/** A change's document id: its change id (stable across replays). */
export function changeDocId(ev: ChangeEvent): string {
  return ev.id;
}

/** An alert state's document id. */
export function alertDocId(alert: Alert, state: 'open' | 'resolved'): string {
  return `${alert.id}:${state}`;
}

function uniq(xs: (string | null | undefined)[]): string[] {
  return [...new Set(xs.filter((x): x is string => typeof x === 'string' && x !== ''))];
}

/** `client.ip` must parse as an IP (the field is typed `ip`); anything else ("[local]", a socket path) goes to `client.address`. */
function client(addr: string | null | undefined): Doc | undefined {
  if (!addr) return undefined;
  const bare = addr.replace(/^\[|\]$/g, '').replace(/\/\d+$/, '');
  return isIP(bare) ? { ip: bare, address: addr } : { address: addr };
}

function actorName(a: ChangeEvent['actor'] | null): string | null {
  return a?.agent ?? a?.user ?? null;
}

/** Who made a change, as its message says it: `by <name> (<kind>, <confidence>)`. */
export function actorPhrase(a: ChangeEvent['actor']): string {
  return `by ${actorName(a) ?? 'unknown actor'} (${a.kind}, ${a.confidence})`;
}

/** One line a person reads in Discover: what happened to which table (`schema.table`), by whom. */
export function changeMessage(op: Op, table: string, phrase: string, changed: string[]): string {
  const cols = op === 'update' && changed.length ? `: ${changed.join(', ')}` : '';
  return `${op} ${table} ${phrase}${cols}`;
}

/**
 * The parts of a change document that depend only on its transaction's actor (the same for every change of
 * the transaction): `related.user`, `related.ip`, `rowtrail.actor`, `user` and `client`.
 */
export function actorParts(a: ChangeEvent['actor']): { users: string[]; ips: string[]; actor: Doc; user?: Doc; client?: Doc } {
  const ctx = a.context ?? null;
  const onBehalf = ctx && typeof ctx.on_behalf_of === 'string' ? ctx.on_behalf_of : null;
  const c = client(a.clientAddr);
  return {
    users: uniq([a.user, a.currentUser, a.agent, onBehalf]),
    ips: c?.ip ? [c.ip as string] : [],
    actor: {
      name: actorName(a),
      kind: a.kind,
      agent: a.agent ?? null,
      confidence: a.confidence,
      method: a.method ?? null,
      application: a.application ?? null,
      session_id: a.sessionId ?? null,
      context: ctx,
    },
    user: a.user ? (a.currentUser && a.currentUser !== a.user ? { name: a.user, effective: { name: a.currentUser } } : { name: a.user }) : undefined,
    client: c,
  };
}

/**
 * The document of one change; `seq` is the store's commit_seq of its transaction. The sink writes the same
 * JSON straight from the store's rows (es-rowdoc.ts): a field added here must be added there too (the test
 * test/sinks/es-rowdoc.test.ts compares the two byte for byte).
 */
export function changeDocument(ev: ChangeEvent, seq: number): Doc {
  const p = actorParts(ev.actor);
  const table = `${ev.schema}.${ev.table}`;
  const doc: Doc = {
    '@timestamp': ev.tx.commitTime,
    message: changeMessage(ev.op, table, actorPhrase(ev.actor), ev.changed),
    event: {
      kind: 'event',
      category: ['database'],
      type: EVENT_TYPE[ev.op],
      action: ev.op,
      id: ev.id,
      sequence: seq,
      dataset: 'rowtrail.changes',
      module: 'rowtrail',
    },
    service: { name: ev.source },
    db: {
      system: { name: ev.system },
      namespace: ev.database,
      collection: { name: table },
      operation: { name: ev.op.toUpperCase() },
    },
    related: { user: p.users, ip: p.ips },
    rowtrail: {
      change_id: ev.id,
      source: ev.source,
      schema: ev.schema,
      table,
      op: ev.op,
      key: ev.key,
      before: ev.before,
      after: ev.after,
      changed: ev.changed,
      tx: { id: ev.tx.id, position: ev.tx.position, commit_time: ev.tx.commitTime, index: ev.tx.index, size: ev.tx.size, seq },
      actor: p.actor,
      revertable: revertable(ev),
    },
  };
  if (p.user) doc.user = p.user;
  if (p.client) doc.client = p.client;
  const r = doc.rowtrail as Doc;
  if (ev.incomplete?.length) r.incomplete = ev.incomplete;
  if (ev.missing) r.missing = ev.missing;
  if (ev.truncate) r.truncate = ev.truncate;
  if (ev.ddl !== undefined) r.ddl = ev.ddl;
  return doc;
}

/** Whether undo can revert the change from what was recorded (the same refusals as the undo planner's). */
function revertable(ev: ChangeEvent): boolean {
  if (ev.op === 'truncate' || ev.op === 'ddl') return false;
  if (!ev.key) return false;
  return !(ev.incomplete?.length);
}

/** The document of an alert entering `state` (open: at its window start; resolved: at its window end). */
export function alertDocument(alert: Alert, state: 'open' | 'resolved'): Doc {
  const a = alert.actor;
  const doc: Doc = {
    '@timestamp': state === 'open' ? alert.window.from : alert.window.to,
    message: `${alert.title} — ${alert.summary}`,
    event: {
      kind: 'alert',
      category: ['database'],
      type: ['info'],
      action: state === 'open' ? 'alert-opened' : 'alert-resolved',
      id: alertDocId(alert, state),
      severity: SEVERITY_NUMBER[alert.severity],
      dataset: 'rowtrail.alerts',
      module: 'rowtrail',
    },
    rule: { id: alert.detector, name: alert.detector, description: alert.title },
    service: { name: alert.source },
    related: { user: uniq([a?.user, a?.currentUser, a?.agent]), ip: [] as string[] },
    rowtrail: {
      source: alert.source,
      table: alert.table,
      alert: {
        id: alert.id,
        detector: alert.detector,
        severity: alert.severity,
        state,
        title: alert.title,
        summary: alert.summary,
        window: alert.window,
        evidence: alert.evidence,
        tx_ids: alert.txIds,
        undo: alert.undo,
      },
      actor: a ? { name: actorName(a), kind: a.kind, agent: a.agent ?? null, confidence: a.confidence } : null,
    },
  };
  if (alert.table) doc.db = { collection: { name: alert.table } };
  if (a?.user) doc.user = { name: a.user };
  const c = client(a?.clientAddr);
  if (c) {
    doc.client = c;
    if (c.ip) (doc.related as { ip: string[] }).ip.push(c.ip as string);
  }
  return doc;
}
