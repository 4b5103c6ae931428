import type { Command } from 'commander';
import { common, configFrom, openStoreForRead, out, table, clip, type CommonOpts } from '../shared.js';
import { parseTimeArg, type ChangeFilter } from '../../store/index.js';
import type { ChangeEvent, Row } from '../../model/index.js';

interface ChangesOpts extends CommonOpts {
  table?: string;
  tx?: string[];
  actor?: string;
  agentRun?: string;
  since?: string;
  until?: string;
  source?: string;
  op?: string;
  limit?: string;
}

export function registerChanges(program: Command): void {
  common(program.command('changes'))
    .description('print stored row changes (ChangeEvents), oldest first')
    .option('-t, --table <schema.table>', 'only this table')
    .option('--tx <id>', 'only this transaction (xid or commit position); repeatable', collect, [])
    .option('-a, --actor <name>', 'only changes by this user, agent or kind')
    .option('--agent-run <id>', 'only changes of this agent run')
    .option('-s, --since <when>', 'only changes since a duration ago (10m, 1h) or a time')
    .option('-u, --until <when>', 'only changes until a duration ago or a time')
    .option('--source <name>', 'only this source')
    .option('--op <op>', 'only insert | update | delete | truncate | ddl')
    .option('-n, --limit <n>', 'at most n changes (the newest n when filtering by time)')
    .action((opts: ChangesOpts) => {
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      try {
        const filter = filterFrom(opts);
        let events: Iterable<ChangeEvent> = store.changes(filter);
        if (filter.limit) events = [...store.changes({ ...filter, newestFirst: true })].reverse();
        if (opts.json) {
          for (const ev of events) out(JSON.stringify(ev));
          return;
        }
        const rows: string[][] = [];
        for (const ev of events) rows.push(humanRow(ev));
        if (rows.length === 0) {
          out('no changes match');
          return;
        }
        out(table(['time', 'actor', 'op', 'table', 'key', 'changed'], rows));
      } finally {
        store.close();
      }
    });
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function filterFrom(opts: ChangesOpts): ChangeFilter {
  const f: ChangeFilter = {};
  if (opts.table) f.table = opts.table;
  if (opts.tx?.length) f.txIds = opts.tx;
  if (opts.actor) f.actor = opts.actor;
  if (opts.agentRun) f.agentRun = opts.agentRun;
  if (opts.since) f.since = parseTimeArg(opts.since);
  if (opts.until) f.until = parseTimeArg(opts.until);
  if (opts.source) f.source = opts.source;
  if (opts.op) f.op = opts.op;
  if (opts.limit) f.limit = Math.max(1, Number.parseInt(opts.limit, 10) || 1);
  return f;
}

function keyText(k: Row | null): string {
  if (!k) return '-';
  return Object.values(k).map((v) => (v === null ? 'NULL' : v)).join(',');
}

export function actorText(ev: ChangeEvent): string {
  const a = ev.actor;
  const who = a.agent ?? a.user ?? 'unknown';
  const via = a.agent && a.user ? ` via ${a.user}` : '';
  return `${who}${via} (${a.kind}, ${a.confidence})`;
}

function humanRow(ev: ChangeEvent): string[] {
  const changed = ev.op === 'update' ? ev.changed.join(',') : ev.op === 'ddl' ? clip(ev.ddl ?? '', 40) : '';
  return [ev.tx.commitTime.replace('T', ' ').replace('Z', ''), clip(actorText(ev), 40), ev.op, `${ev.schema}.${ev.table}`, clip(keyText(ev.key), 24), clip(changed, 40)];
}
