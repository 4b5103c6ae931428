import type { Command } from 'commander';
import { common, configFrom, examples, nonEmpty, openStoreForRead, out, when, type CommonOpts } from '../shared.js';
import { actorsTable } from '../../present/index.js';

interface ActorsOpts extends CommonOpts {
  since?: Date;
  until?: Date;
  source?: string;
}

export function registerActors(program: Command): void {
  const cmd = common(program.command('actors'))
    .description('who wrote what: transactions, changes and tables per actor in a window, and how sure the attribution is')
    .option('-s, --since <when>', 'only transactions since a duration ago (90s, 10m, 1h, 2d) or an ISO time', when)
    .option('-u, --until <when>', 'only transactions until a duration ago or an ISO time', when)
    .option('--source <name>', 'only this source', nonEmpty)
    .action((opts: ActorsOpts) => {
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      try {
        const rows = store.actors({ source: opts.source, since: opts.since, until: opts.until });
        if (opts.json) {
          for (const r of rows) out(JSON.stringify(r));
          return;
        }
        out(rows.length === 0 ? 'no changes recorded' : actorsTable(rows));
      } finally {
        store.close();
      }
    });
  examples(cmd, ['rowtrail actors --since 1h       # who wrote in the last hour, and to which tables', 'rowtrail actors --source app-pg --json']);
}
