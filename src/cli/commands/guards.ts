import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { common, configFrom, examples, openStoreForRead, out, positiveInt, type CommonOpts } from '../shared.js';
import { clip, table } from '../../present/index.js';
import { decodingWorkMem, guardsFor, type Config, type GuardConfig } from '../../config/index.js';
import type { Alert } from '../../model/index.js';

interface GuardsOpts extends CommonOpts {
  limit?: number;
}

/** `when` as one phrase: `delete > 10000 rows`, `update|delete > 0.1 of a table on public.*`. */
export function describeLine(g: GuardConfig): string {
  const w = g.when;
  const ops = (w.ops ?? (w.op ? [w.op] : ['insert', 'update', 'delete'])).join('|');
  const lines = [w.rowsOver !== undefined && `> ${w.rowsOver} rows`, w.tableFractionOver !== undefined && `> ${w.tableFractionOver} of a table`];
  const line = lines.filter(Boolean).join(' or ');
  return `${ops} ${line}${w.tables ? ` on ${w.tables.join(', ')}` : ''}`;
}

function describeMatch(g: GuardConfig): string {
  const m = Object.entries(g.match ?? {}).map(([k, v]) => `${k}=${v}`);
  return m.length ? m.join(' ') : 'every actor';
}

function sourcesOf(cfg: Config, g: GuardConfig): string[] {
  return cfg.sources.filter((s) => guardsFor(cfg, s).includes(g)).map((s) => s.name);
}

export function registerGuards(program: Command): void {
  const cmd = common(program.command('guards'))
    .description('the guards (PostgreSQL: stop a transaction before it commits) and their recent actions, newest first')
    .option('-n, --limit <n>', 'at most n recent actions (default 20)', positiveInt);
  examples(cmd, ['rowtrail guards', 'rowtrail guards --json', 'rowtrail alerts show guard:app-pg:771:agents-no-mass-delete']);
  cmd.action((opts: GuardsOpts) => {
    const cfg = configFrom(opts);
    let actions: Alert[] = [];
    if (existsSync(cfg.store.path)) {
      const store = openStoreForRead(cfg);
      try {
        // Guard alerts only; the store's filter has no detector field, so read a bounded window and filter.
        actions = store
          .alerts({ limit: 5000 })
          .filter((a) => a.detector === 'guard')
          .slice(0, opts.limit ?? 20);
      } finally {
        store.close();
      }
    }
    const guards = cfg.guards.map((g) => ({ ...g, watches: sourcesOf(cfg, g) }));
    if (opts.json) {
      const workMem = Object.fromEntries(cfg.sources.filter((s) => s.kind === 'postgres').map((s) => [s.name, decodingWorkMem(cfg, s) ?? 'server default']));
      return out(JSON.stringify({ guards, decodingWorkMem: workMem, actions }));
    }
    if (!guards.length) out('no guards configured (add `guards:` to the config; see README, "Guards")');
    else {
      out(
        table(
          ['guard', 'actors', 'line', 'action', 'sources'],
          guards.map((g) => [g.name, describeMatch(g), describeLine(g), g.action, g.watches.join(', ') || 'none (no PostgreSQL source)']),
        ),
      );
    }
    out('');
    if (!actions.length) return out('no guard has fired');
    out(
      table(
        ['when', 'guard', 'acted', 'outcome', 'title'],
        actions.map((a) => [
          a.window.from.replace('T', ' ').slice(0, 19),
          String(a.evidence.guard),
          a.evidence.acted ? String(a.evidence.action) : 'no',
          String(a.evidence.outcome),
          clip(a.title, 90),
        ]),
      ),
    );
  });
}
