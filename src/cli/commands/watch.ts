import type { Command } from 'commander';
import { common, configFrom, type CommonOpts } from '../shared.js';
import { createLogger } from '../../log/index.js';
import { startDaemon } from '../../daemon.js';

export function registerWatch(program: Command): void {
  common(program.command('watch'))
    .description('run the daemon: capture every row change of the configured sources into the store')
    .action(async (opts: CommonOpts) => {
      const cfg = configFrom(opts);
      const log = createLogger();
      const daemon = startDaemon(cfg, log);
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal: sig }, 'stopping');
        void daemon.stop();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      log.info({ sources: cfg.sources.map((s) => s.name), store: cfg.store.path }, 'rowtrail watching');
      await daemon.done;
      log.info('stopped');
    });
}
