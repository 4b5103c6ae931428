/**
 * The JSON API (`/api/v1/…`), read-only over the store: every record comes from the store's readable
 * queries (changes, history, actors, alerts), which carry masked images only. The undo preview reads the
 * source (current rows, catalog) to find conflicts, and answers with what changes and what conflicts, never
 * with the SQL (its literals are the raw values undo restores): applying stays in the CLI.
 *
 * Parameters are checked by JSON schema (unknown or malformed → 400 with the reason); lists are paginated
 * with a keyset cursor on (commit_seq, idx), so a page is one index range however large the store.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { RowtrailError } from '../errors.js';
import type { ChangeEvent, Row } from '../model/index.js';
import { parseTimeArg, type ChangeCursor, type ChangeFilter, type Store } from '../store/index.js';
import { blameKey } from '../history/index.js';
import { prepareUndo } from '../undo/index.js';
import type { LiveFeed } from './feed.js';

export interface ApiContext {
  store: Store;
  config: Config;
  feed: LiveFeed;
  /** Capture status per source (health verdict, counters). */
  sources: () => unknown[];
}

/** Largest page a client may ask for. */
export const MAX_PAGE = 500;
/** Largest selection the undo preview plans (bigger ones: `rowtrail undo --format json`). */
export const MAX_PREVIEW_CHANGES = 5000;

const OPS = ['insert', 'update', 'delete', 'truncate', 'ddl'];
const text = { type: 'string', minLength: 1, maxLength: 1000 } as const;
const list = { type: 'array', items: text, maxItems: 100 } as const;
const time = { type: 'string', minLength: 1, maxLength: 64 } as const;
const cursor = { type: 'string', pattern: '^[0-9]{1,18}\\.[0-9]{1,9}$' } as const;
const limit = { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 } as const;

const selection = {
  table: text,
  tx: list,
  actor: text,
  agentRun: text,
  since: time,
  until: time,
  source: text,
} as const;

function query(properties: Record<string, unknown>) {
  return { querystring: { type: 'object', additionalProperties: false, properties } };
}

interface SelectionQuery {
  table?: string;
  tx?: string[];
  actor?: string;
  agentRun?: string;
  since?: string;
  until?: string;
  source?: string;
  op?: string;
  change?: string[];
  skipConflicts?: boolean;
}

function at(v: string | undefined, name: string): Date | undefined {
  if (v === undefined) return undefined;
  try {
    return parseTimeArg(v);
  } catch {
    throw new RowtrailError('USAGE', `${name} '${v}': expected a duration (10m, 1h, 2d) or a time (2026-11-26T10:00:00Z)`);
  }
}

/** The store filter of a query (the same selection as `rowtrail changes` / `rowtrail undo`). */
export function filterOf(q: SelectionQuery): ChangeFilter {
  const f: ChangeFilter = {};
  if (q.table) f.table = q.table;
  if (q.tx?.length) f.txIds = q.tx;
  if (q.change?.length) f.changeIds = q.change;
  if (q.actor) f.actor = q.actor;
  if (q.agentRun) f.agentRun = q.agentRun;
  if (q.source) f.source = q.source;
  if (q.op) f.op = q.op;
  f.since = at(q.since, 'since');
  f.until = at(q.until, 'until');
  if (!f.since) delete f.since;
  if (!f.until) delete f.until;
  return f;
}

function parseCursor(c: string | undefined): ChangeCursor | undefined {
  if (!c) return undefined;
  const [seq, idx] = c.split('.').map(Number);
  return { seq, idx };
}

const cursorText = (c: ChangeCursor | null) => (c ? `${c.seq}.${c.idx}` : null);

/** A shell word: bare when safe, else single-quoted. */
function sh(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

const FLAGS: Record<string, string> = {
  tx: '--tx',
  change: '--change',
  actor: '--actor',
  agentRun: '--agent-run',
  since: '--since',
  until: '--until',
  table: '--table',
  source: '--source',
};

/** The `rowtrail undo` command line that applies a selection (options in the order the query gave them). */
export function undoCommand(q: SelectionQuery): string {
  const parts = ['rowtrail', 'undo'];
  for (const [k, v] of Object.entries(q)) {
    const flag = FLAGS[k];
    if (!flag || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) parts.push(flag, sh(String(one)));
  }
  if (q.skipConflicts) parts.push('--skip-conflicts');
  return `${parts.join(' ')} --apply`;
}

export function registerApi(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;

  app.get('/api/v1/sources', async () => ({ sources: ctx.sources() }));

  app.get<{ Querystring: SelectionQuery & { limit: number; cursor?: string } }>(
    '/api/v1/changes',
    { schema: query({ ...selection, op: { type: 'string', enum: OPS }, change: list, limit, cursor }) },
    async (req) => {
      const page = store.changesPage(filterOf(req.query), req.query.limit, parseCursor(req.query.cursor));
      return { changes: page.changes, next: cursorText(page.next) };
    },
  );

  // The live feed: Server-Sent Events of each committed change (see feed.ts).
  app.get('/api/v1/changes/stream', { schema: query({}) }, (_req, reply) => {
    reply.hijack();
    if (!ctx.feed.subscribe(reply.raw)) {
      reply.raw.writeHead(503, { 'content-type': 'application/json', 'retry-after': '10' });
      reply.raw.end(`${JSON.stringify({ error: 'too many live feeds open; close one and retry' })}\n`);
    }
  });

  app.get<{ Querystring: { table: string; key?: string; value?: string[]; source?: string; limit: number; cursor?: string } }>(
    '/api/v1/history',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['table'],
          properties: { table: text, key: { type: 'string', maxLength: 10000 }, value: list, source: text, limit, cursor },
        },
      },
    },
    async (req) => {
      const q = req.query;
      let pairs: Row | undefined;
      if (q.key !== undefined) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(q.key);
        } catch {
          throw new RowtrailError('USAGE', `key: expected a JSON object of column → text value, like {"id":"42"}`);
        }
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) {
          throw new RowtrailError('USAGE', `key: expected a JSON object of column → text value, like {"id":"42"}`);
        }
        pairs = parsed as Row;
      }
      const key = blameKey(store, { table: q.table, pairs, values: q.value, source: q.source });
      const page = store.changesPage({ table: q.table, key, source: q.source }, q.limit, parseCursor(q.cursor));
      if (page.changes.length === 0 && !q.cursor) throw new RowtrailError('NOT_FOUND', `no stored change for ${q.table} ${JSON.stringify(key)}`);
      return { table: q.table, key, changes: page.changes, next: cursorText(page.next) };
    },
  );

  app.get<{ Querystring: { source?: string; since?: string; until?: string } }>(
    '/api/v1/actors',
    { schema: query({ source: text, since: time, until: time }) },
    async (req) => ({
      actors: store.actors({ source: req.query.source, since: at(req.query.since, 'since'), until: at(req.query.until, 'until') }),
    }),
  );

  app.get<{ Querystring: { open?: boolean; since?: string; limit: number } }>(
    '/api/v1/alerts',
    { schema: query({ open: { type: 'boolean' }, since: time, limit }) },
    async (req) => ({ alerts: store.alerts({ open: req.query.open, since: at(req.query.since, 'since'), limit: req.query.limit }) }),
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/alerts/:id',
    { schema: { params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } } } },
    async (req) => {
      const alert = store.alerts({ id: req.params.id }).find((a) => a.id === req.params.id);
      if (!alert) throw new RowtrailError('NOT_FOUND', `no alert '${req.params.id}'`);
      // The evidence rows: the changes of the alert's transactions (first page).
      const txIds = alert.txIds.slice(0, 100);
      const page = txIds.length ? store.changesPage({ txIds, source: alert.source }, 100) : { changes: [], next: null };
      return { alert, changes: page.changes, more: page.next !== null };
    },
  );

  app.get<{ Querystring: SelectionQuery & { skipConflicts?: boolean } }>(
    '/api/v1/undo/preview',
    { schema: query({ ...selection, change: list, skipConflicts: { type: 'boolean' } }) },
    async (req) => {
      const q = req.query;
      if (!q.tx?.length && !q.change?.length && !q.actor && !q.agentRun && !q.table) {
        throw new RowtrailError('USAGE', 'select what to revert with tx, change, actor, agentRun or table');
      }
      const filter = filterOf(q);
      // The masked keys of the selection, and its size: one pass, bounded.
      const keys = new Map<string, Row | null>();
      for (const ev of store.changes({ ...filter, limit: MAX_PREVIEW_CHANGES + 1 })) keys.set(ev.id, ev.key);
      if (keys.size > MAX_PREVIEW_CHANGES) {
        const cli = undoCommand(q).replace(/ --apply$/, ' --format json');
        throw new RowtrailError('USAGE', `the selection has more than ${MAX_PREVIEW_CHANGES} changes; preview it with \`${cli}\``);
      }
      const { plan, conn } = await prepareUndo(store, ctx.config, { filter, skipConflicts: q.skipConflicts });
      await conn.close();
      const keyOf = (ids: string[]) => keys.get(ids[0]) ?? null;
      const skipped = new Set(plan.skipped);
      return {
        source: plan.source,
        database: plan.database,
        changes: plan.changes,
        steps: plan.steps.map((s) => ({
          n: s.n,
          kind: s.kind,
          table: `${s.table.schema}.${s.table.table}`,
          key: keyOf(s.changeIds),
          set: s.set,
          changeIds: s.changeIds,
          txIds: s.txIds,
          skipped: skipped.has(s.n),
        })),
        conflicts: plan.conflicts.map((c) => ({
          table: c.table,
          key: keyOf(c.changeIds),
          found: c.found,
          reason: c.reason,
          since: c.since,
          changeIds: c.changeIds,
        })),
        refusals: plan.refusals.map((r) => ({
          changeId: r.changeId,
          txId: r.txId,
          table: r.table,
          op: r.op,
          key: keys.get(r.changeId) ?? null,
          reason: r.reason,
        })),
        command: undoCommand(q),
      };
    },
  );
}

export type { ChangeEvent };
