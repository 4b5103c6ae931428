import type { Command } from 'commander';
import {
  OPS,
  common,
  configFrom,
  examples,
  filterFrom,
  nonEmpty,
  oneOf,
  openStoreForRead,
  out,
  positiveInt,
  readMasker,
  repeatable,
  when,
  type CommonOpts,
  type SelectionOpts,
} from '../shared.js';
import { changesText } from '../../present/index.js';
import { recordAccess, reveal, sealedOf, whoAmI, type ChangeFilter, type Store } from '../../store/index.js';
import type { Config } from '../../config/index.js';
import type { ChangeEvent } from '../../model/index.js';

export function registerChanges(program: Command): void {
  const cmd = common(program.command('changes'), 'print ChangeEvents as JSON, one per line, every value in full')
    .description('print stored row changes, oldest first: who, when, and each changed value before → after')
    .option('-t, --table <schema.table>', 'only this table (MySQL: database.table)', nonEmpty)
    .option('--tx <id>', 'only this transaction (xid, GTID or commit position); repeatable', repeatable, [])
    .option('-a, --actor <name>', 'only changes by this user, agent or kind', nonEmpty)
    .option('--agent-run <id>', 'only changes of this agent run', nonEmpty)
    .option('-s, --since <when>', 'only changes since a duration ago (90s, 10m, 1h, 2d) or an ISO time', when)
    .option('-u, --until <when>', 'only changes until a duration ago or an ISO time', when)
    .option('--source <name>', 'only this source', nonEmpty)
    .option('--op <op>', `only this operation: ${OPS.join(' | ')}`, oneOf(OPS))
    .option('-n, --limit <n>', 'only the newest n changes (still printed oldest first)', positiveInt)
    .option('--reveal', 'show the raw values of masked columns (needs the master key; the access is recorded)')
    .action((opts: CommonOpts & SelectionOpts & { reveal?: boolean }) => {
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      try {
        const filter = filterFrom(opts);
        let events: Iterable<ChangeEvent> = store.changes(filter);
        if (filter.limit) events = [...store.changes({ ...filter, newestFirst: true })].reverse();
        if (opts.reveal) events = revealAll(store, cfg, filter, events);
        if (opts.json) {
          for (const ev of events) out(JSON.stringify(ev));
          return;
        }
        let any = false;
        for (const line of changesText(events)) {
          any = true;
          out(line);
        }
        if (!any) out('no changes match');
      } finally {
        store.close();
      }
    });
  examples(cmd, [
    'rowtrail changes --since 1h                      # the last hour, grouped by transaction',
    'rowtrail changes --actor deploy-bot --op delete  # what the agent deleted',
    'rowtrail changes --table public.users -n 20      # the newest 20 changes of one table',
    'rowtrail changes --tx 771 --json                 # one transaction, every value in full',
    'rowtrail changes --tx 771 --reveal               # its raw values (recorded in <store>/access.log)',
  ]);
}

/**
 * The selected changes with their sealed values opened. Every one is opened (and the access recorded)
 * before the first is printed: a wrong or missing key prints nothing.
 */
function revealAll(store: Store, cfg: Config, filter: ChangeFilter, events: Iterable<ChangeEvent>): ChangeEvent[] {
  const masker = readMasker(store, cfg);
  const opened: ChangeEvent[] = [];
  const ids: string[] = [];
  for (const ev of events) {
    opened.push(reveal(masker, ev));
    if (sealedOf(ev)?.blob) ids.push(ev.id);
  }
  const selection = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined));
  recordAccess(store.dir, { at: new Date().toISOString(), who: whoAmI(), action: 'changes --reveal', selection, changes: ids.length, ids: ids.slice(0, 1000) });
  process.stderr.write(`revealed the sealed values of ${ids.length} change(s); the access is recorded in ${store.dir}/access.log\n`);
  return opened;
}
