import type { Command } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { RowtrailError } from '../../errors.js';
import { DEFAULT_CONFIG, out } from '../shared.js';

const TEMPLATE = `# rowtrail configuration. Every key is optional except sources.
sources:
  - name: app-pg
    kind: postgres            # postgres | mysql
    url: postgres://rowtrail@127.0.0.1:5432/app   # password via ROWTRAIL_APP_PG_PASSWORD or the URL
    # tables: [public.users, public.orders]       # default: all tables
    # identity: precise                           # precise | sampling (postgres)
store:
  path: ./rowtrail-data
http:
  host: 127.0.0.1
  port: 7077
`;

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a starter rowtrail.yaml')
    .option('-c, --config <file>', 'file to write', DEFAULT_CONFIG)
    .option('--force', 'overwrite an existing file')
    .action((opts: { config: string; force?: boolean }) => {
      if (existsSync(opts.config) && !opts.force) {
        throw new RowtrailError('USAGE', `${opts.config} exists; pass --force to overwrite it`);
      }
      writeFileSync(opts.config, TEMPLATE, { mode: 0o600 });
      out(`wrote ${opts.config}; edit the source url, then run: rowtrail doctor && rowtrail setup --replica-identity full && rowtrail watch`);
      // Said now, because it is the moment the user picks the setup command (issue: undo needs old values).
      out(
        'PostgreSQL: without --replica-identity full, updates and deletes are captured without their old values and cannot be undone ' +
          '(setup then sets REPLICA IDENTITY FULL on the watched tables; see README "Set up on your database")',
      );
    });
}
