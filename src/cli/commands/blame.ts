import type { Command } from 'commander';
import { common, configFrom, openStoreForRead, out, type CommonOpts } from '../shared.js';
import { actorText } from './changes.js';
import { RowtrailError } from '../../errors.js';
import type { Row } from '../../model/index.js';
import { blame, changeLines } from '../../undo/index.js';

interface BlameOpts extends CommonOpts {
  key: string[];
  source?: string;
}

export function registerBlame(program: Command): void {
  common(program.command('blame'))
    .description("a row's history, newest first: who changed it, when, and what it was before")
    .argument('<table>', 'schema.table (MySQL: database.table)')
    .argument('[key...]', 'key value(s), in key-column order')
    .option('-k, --key <col=value>', 'key value by column; repeatable', (v: string, p: string[]) => [...p, v], [])
    .option('--source <name>', 'only this source')
    .action((tableName: string, values: string[], opts: BlameOpts) => {
      const pairs: Row = {};
      for (const kv of opts.key) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new RowtrailError('USAGE', `--key ${kv}: expected col=value`);
        pairs[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      try {
        const events = blame(store, { table: tableName, values, pairs, source: opts.source });
        if (opts.json) {
          for (const ev of events) out(JSON.stringify(ev));
          return;
        }
        for (const ev of events) {
          out(`${ev.tx.commitTime}  ${ev.op.toUpperCase()}  by ${actorText(ev)}  tx ${ev.tx.id}  (${ev.id})`);
          for (const line of changeLines(ev)) out(line);
        }
      } finally {
        store.close();
      }
    });
}
