/**
 * Throwaway MariaDB (or MySQL) servers for tests and benchmarks: a fresh datadir in a temp dir on a free
 * port with a full row binlog (ROW / FULL image / FULL metadata, annotated rows). Never touches the
 * machine's own server on 3306.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onFreePort } from './ports.js';

const run = promisify(execFile);

export interface MariaServer {
  port: number;
  dir: string;
  /** With `bare`: the my.cnf the server reads at start; null otherwise. */
  cnf: string | null;
  /** `mysql://root@127.0.0.1:PORT/DB` */
  url(database?: string, user?: string, password?: string): string;
  /** Runs SQL through the mariadb client; returns tab-separated output without headers. */
  sql(text: string, database?: string): Promise<string>;
  /** `fast` (default): SIGTERM, a clean shutdown; `immediate`: SIGKILL, a crash (InnoDB recovers at start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  destroy(): Promise<void>;
}

function which(names: string[]): string | null {
  for (const n of names) {
    for (const d of ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']) {
      if (existsSync(join(d, n))) return join(d, n);
    }
  }
  return null;
}

/** The server binary, or null when neither MariaDB nor MySQL is installed. */
export function findMariadbd(): string | null {
  return process.env.ROWTRAIL_MARIADBD ?? which(['mariadbd', 'mysqld']);
}

export interface MariaOptions {
  /** Extra server options, e.g. `['--gtid-strict-mode=ON']`. */
  args?: string[];
  /**
   * A server with the distribution's default settings (no binlog, no performance_schema): the CDC options
   * are left out and the server reads `cnf` (a my.cnf with a `[mysqld]` section) at every start, so a test
   * can apply settings the way a DBA does (edit my.cnf, restart).
   */
  bare?: boolean;
}

export async function startMariadb(opts: MariaOptions = {}): Promise<MariaServer> {
  const bin = findMariadbd();
  if (!bin) throw new Error('MariaDB not found: install mariadb-server (Debian: apt-get install mariadb-server)');
  const client = which(['mariadb', 'mysql']) ?? 'mariadb';
  const installDb = which(['mariadb-install-db', 'mysql_install_db']);
  if (!installDb) throw new Error('mariadb-install-db not found');
  const dir = mkdtempSync(join(tmpdir(), 'rowtrail-maria-'));
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  let port = 0;
  const user = process.getuid?.() === 0 ? 'root' : (process.env.USER ?? 'root');
  // A private tmpdir: concurrent bootstraps sharing /tmp collided on their temporary tables (flaky
  // "Unknown table 'mysql.tmp_user_sys'" with parallel test files).
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  await run(installDb, ['--no-defaults', `--datadir=${data}`, `--user=${user}`, '--auth-root-authentication-method=normal', '--skip-test-db', `--tmpdir=${tmp}`], {
    maxBuffer: 16 << 20,
  });
  let child: ChildProcess | null = null;
  const cnf = opts.bare ? join(dir, 'my.cnf') : null;
  if (cnf) writeFileSync(cnf, '[mysqld]\n');
  const cdc = ['--log-bin=binlog', '--binlog-format=ROW', '--binlog-row-image=FULL', '--binlog-row-metadata=FULL', '--binlog-annotate-row-events=ON', '--server-id=1'];
  const args = () => [
    cnf ? `--defaults-file=${cnf}` : '--no-defaults',
    `--datadir=${data}`,
    `--user=${user}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${sock}`,
    ...(opts.bare ? [] : cdc),
    `--log-error=${join(dir, 'err.log')}`,
    `--pid-file=${join(dir, 'pid')}`,
    `--tmpdir=${tmp}`,
    '--innodb-flush-log-at-trx-commit=2',
    '--sync-binlog=0',
    '--innodb-buffer-pool-size=128M',
    '--skip-name-resolve',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_general_ci',
    ...(opts.args ?? []),
  ];
  const base = () => ['--protocol=TCP', '-h', '127.0.0.1', '-P', String(port), '-u', 'root', '--batch', '--skip-column-names', '--default-character-set=utf8mb4'];
  const server: MariaServer = {
    get port() {
      return port;
    },
    dir,
    cnf,
    url: (database = 'test', u = 'root', password) => `mysql://${u}${password ? ':' + encodeURIComponent(password) : ''}@127.0.0.1:${port}/${database}`,
    async sql(text, database) {
      const { stdout } = await run(client, [...base(), ...(database ? [database] : []), '-e', text], { maxBuffer: 64 << 20 });
      return stdout;
    },
    async start() {
      child = spawn(bin, args(), { stdio: 'ignore', detached: false });
      const deadline = Date.now() + 30_000;
      for (;;) {
        // Our server, not another one that holds the port (a collision after freePort()): same datadir.
        const answer = await run(client, [...base(), '-e', 'select @@datadir']).then((r) => r.stdout.trim(), () => null);
        if (answer !== null && answer.replace(/\/$/, '') === data) break;
        if (Date.now() > deadline || child.exitCode !== null || answer !== null) throw new Error(`MariaDB did not start on port ${port}; see ${join(dir, 'err.log')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await run(client, [...base(), '-e', 'CREATE DATABASE IF NOT EXISTS test']);
    },
    async stop(mode = 'fast') {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
        c.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        c.kill(mode === 'immediate' ? 'SIGKILL' : 'SIGTERM');
      });
    },
    async restart(mode) {
      await server.stop(mode);
      await server.start();
    },
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // A port another process took between freePort() and the bind: start again on a new one.
  await onFreePort(async (p) => {
    port = p;
    try {
      await server.start();
    } catch (e) {
      await server.stop();
      throw e;
    }
  });
  return server;
}
