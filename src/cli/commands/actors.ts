import type { Command } from 'commander';
import { common, configFrom, openStoreForRead, out, table, clip, type CommonOpts } from '../shared.js';
import { parseTimeArg } from '../../store/index.js';

export function registerActors(program: Command): void {
  common(program.command('actors'))
    .description('who wrote what: changes and transactions per actor, with how sure the attribution is')
    .option('-s, --since <when>', 'since a duration ago (10m, 1h) or a time')
    .option('-u, --until <when>', 'until a duration ago or a time')
    .option('--source <name>', 'only this source')
    .action((opts: CommonOpts & { since?: string; until?: string; source?: string }) => {
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      try {
        const rows = store.actors({ source: opts.source, since: opts.since ? parseTimeArg(opts.since) : undefined, until: opts.until ? parseTimeArg(opts.until) : undefined });
        if (opts.json) {
          for (const r of rows) out(JSON.stringify(r));
          return;
        }
        if (rows.length === 0) return out('no changes recorded');
        out(
          table(
            ['actor', 'kind', 'confidence', 'changes', 'txs', 'first', 'last', 'tables'],
            rows.map((r) => [
              r.agent ? `${r.agent}${r.user ? ` via ${r.user}` : ''}` : (r.user ?? 'unknown'),
              r.kind,
              r.confidence,
              String(r.changes),
              String(r.transactions),
              r.first.replace('T', ' ').slice(0, 19),
              r.last.replace('T', ' ').slice(0, 19),
              clip(r.tables.join(','), 40),
            ]),
          ),
        );
      } finally {
        store.close();
      }
    });
}
