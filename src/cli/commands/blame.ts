import type { Command } from 'commander';
import { common, configFrom, examples, keyValue, nonEmpty, openStoreForRead, out, readMasker, type CommonOpts } from '../shared.js';
import type { Row } from '../../model/index.js';
import { blame } from '../../history/index.js';
import { changeLines, historyHeading } from '../../present/index.js';

interface BlameOpts extends CommonOpts {
  key: [string, string][];
  source?: string;
}

export function registerBlame(program: Command): void {
  const cmd = common(program.command('blame'))
    .description("a row's history, newest first: who changed it, when, and each value before → after")
    .argument('<table>', 'schema.table (MySQL: database.table)', nonEmpty)
    .argument('[key...]', 'key value(s), in key-column order')
    .option('-k, --key <col=value>', 'key value by column; repeatable', keyValue, [])
    .option('--source <name>', 'only this source', nonEmpty)
    .action((tableName: string, values: string[], opts: BlameOpts) => {
      const pairs: Row = Object.fromEntries(opts.key);
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      try {
        const events = blame(store, { table: tableName, values, pairs, source: opts.source }, readMasker(store, cfg));
        if (opts.json) {
          for (const ev of events) out(JSON.stringify(ev));
          return;
        }
        for (const ev of events) {
          out(historyHeading(ev));
          for (const line of changeLines(ev)) out(line);
        }
      } finally {
        store.close();
      }
    });
  examples(cmd, [
    'rowtrail blame public.users 42',
    'rowtrail blame public.order_items --key order_id=7 --key line=2   # a composite key, by column',
    'rowtrail blame shop.products 3 --json                             # MySQL: database.table',
  ]);
}
