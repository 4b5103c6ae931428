import type { Command } from 'commander';
import { common, configFrom, examples, type CommonOpts } from '../shared.js';
import { createLogger } from '../../log/index.js';
import { createDaemon } from '../../daemon.js';
import { assessHealth, httpToken, startHttp, stopHttp } from '../../http/index.js';

export function registerWatch(program: Command): void {
  const cmd = common(program.command('watch'), 'log lines as JSON (default: pretty at a terminal, JSON otherwise)')
    .description('run the daemon: capture every row change of the configured sources into the store, run the detectors');
  examples(cmd, ['rowtrail watch', 'rowtrail watch --config /etc/rowtrail.yaml --json 2>> rowtrail.log']);
  cmd.action(async (opts: CommonOpts) => {
      const cfg = configFrom(opts);
      const log = createLogger({ pretty: opts.json ? false : undefined });
      // Store first (its lock names a daemon already running), then the HTTP port, then the sources: a taken
      // port fails at once with its one line, before any source connects.
      const daemon = createDaemon(cfg, log);
      let http: Awaited<ReturnType<typeof startHttp>>;
      try {
        http = await startHttp({
          host: cfg.http.host,
          port: cfg.http.port,
          token: httpToken(cfg.http.token, cfg.store.path),
          metrics: () =>
            daemon.health().map((h, i) => ({ ...h, stats: daemon.sources[i].stats(), identity: daemon.identities[i].stats() })),
          health: () => assessHealth(daemon.health(), Date.now()),
          alerts: () => daemon.alertMetrics(),
          sink: () => daemon.sink?.stats() ?? null,
          config: cfg,
          storeDir: cfg.store.path,
          log,
        });
      } catch (e) {
        await daemon.stop();
        throw e;
      }
      const tokenFrom = cfg.http.token ? 'http.token' : `${cfg.store.path}/http-token`;
      log.info({ url: `${http.url}/metrics`, tokenFrom }, 'metrics endpoint');
      // The UI's address, never the token: the login form asks for it (where it is, is said here).
      log.info({ url: `${http.url}/`, tokenFrom }, 'web UI: open it and log in with the token');
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal: sig }, 'stopping');
        void daemon.stop();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      daemon.start();
      log.info({ sources: cfg.sources.map((s) => s.name), store: cfg.store.path }, 'rowtrail watching');
      try {
        await daemon.done;
      } finally {
        await stopHttp(http);
      }
      log.info('stopped');
      // Everything is closed and the store written: a daemon that said "stopped" must exit. A socket a dead
      // network left half-open (a driver that never settles a connect) must not keep the process alive, so
      // after a grace period the process ends anyway, naming what was still open.
      setTimeout(() => {
        log.warn({ open: process.getActiveResourcesInfo() }, 'resources still open after stop; exiting');
        process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      }, 2_000).unref();
    });
}
