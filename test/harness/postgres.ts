/**
 * Throwaway PostgreSQL servers for tests and benchmarks: a fresh cluster in a temp dir on a free port,
 * `wal_level=logical`, trust auth on 127.0.0.1 only. Never touches the machine's own server on 5432.
 *
 * Works as root (binaries run as the `postgres` OS user through runuser, because PostgreSQL refuses to run
 * as root) and as a normal user (binaries run directly).
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onFreePort } from './ports.js';
import { buildNative } from './native.js';

const run = promisify(execFile);

export interface PgServer {
  port: number;
  /** Why the native trigger is not loadable on this server (null: it is); undefined when not asked for. */
  nativeMissing?: string | null;
  dir: string;
  bin: string;
  /** URL of a database on this server (default `postgres`). */
  url(database?: string, user?: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Creates a uniquely named database and returns its name. */
  freshDatabase(prefix?: string): Promise<string>;
  /** Runs SQL through psql (one transaction unless the text has several statements separated by `;`). */
  psql(sql: string, database?: string): Promise<string>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

/** Finds a PostgreSQL bin dir: $ROWTRAIL_PG_BIN, the newest /usr/lib/postgresql/N/bin, or PATH. */
export function findPgBin(): string {
  if (process.env.ROWTRAIL_PG_BIN) return process.env.ROWTRAIL_PG_BIN;
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  }
  try {
    const initdb = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim();
    if (initdb) return initdb.replace(/\/initdb$/, '');
  } catch {
    /* fall through */
  }
  throw new Error('PostgreSQL binaries not found: install postgresql (Debian: apt-get install postgresql) or set ROWTRAIL_PG_BIN');
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL binary as a user PostgreSQL accepts. */
async function pgExec(bin: string, tool: string, args: string[]): Promise<string> {
  const file = join(bin, tool);
  const { stdout } = isRoot
    ? await run('runuser', ['-u', 'postgres', '--', file, ...args], { maxBuffer: 64 << 20 })
    : await run(file, args, { maxBuffer: 64 << 20 });
  return stdout;
}

export interface PgOptions {
  /** Extra postgresql.conf lines. */
  conf?: Record<string, string | number>;
  /** Require this password (scram) for the postgres user over TCP, instead of trust. */
  password?: string;
  /** Build native/postgres and let the server load it (dynamic_library_path); see native.ts. */
  native?: boolean;
  /** PostgreSQL's default wal_level, slots and WAL senders (a server as a DBA finds it), instead of the CDC settings. */
  bare?: boolean;
}

export async function startPostgres(opts: PgOptions = {}): Promise<PgServer> {
  const bin = findPgBin();
  const dir = mkdtempSync(join(tmpdir(), 'rowtrail-pg-'));
  if (isRoot) chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  await pgExec(bin, 'initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const native = opts.native ? buildNative(bin) : null;
  const conf: Record<string, string | number> = {
    ...(native?.dir ? { dynamic_library_path: `'${native.dir}:$libdir'` } : {}),
    // The shared server serves every test file of a run: each file's daemons and slots (100 is room to spare).
    ...(opts.bare ? {} : { wal_level: 'logical', max_replication_slots: 100, max_wal_senders: 60 }),
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${dir}'`,
    timezone: "'UTC'",
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    shared_buffers: "'128MB'",
    max_connections: 100,
    ...opts.conf,
  };
  appendFileSync(join(data, 'postgresql.auto.conf'), Object.entries(conf).map(([k, v]) => `${k}=${v}\n`).join(''));
  const log = join(dir, 'log');
  if (isRoot) {
    writeFileSync(log, '');
    chmodSync(log, 0o666);
  }
  if (opts.password) {
    writeFileSync(join(data, 'pg_hba.conf'), `local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n`);
  }
  // The port goes last (a later line wins), again on each retry after a port collision.
  const server = await onFreePort(async (port) => {
    appendFileSync(join(data, 'postgresql.auto.conf'), `port=${port}\n`);
    const s = attachPostgres({ port, dir, bin, password: opts.password });
    await s.start();
    return s;
  });
  if (native) server.nativeMissing = native.dir ? null : native.why;
  if (opts.password) {
    // Set the password over the unix socket (trusted), then TCP needs it.
    await pgExec(bin, 'psql', ['-X', '-q', '-h', dir, '-p', String(server.port), '-U', 'postgres', '-d', 'postgres', '-c', `ALTER USER postgres PASSWORD '${opts.password.replace(/'/g, "''")}'`]);
  }
  return server;
}

/** Where a running test server lives (what the global setup hands to test files). */
export interface PgServerInfo {
  port: number;
  dir: string;
  bin: string;
  password?: string;
}

/** A handle on a server started elsewhere (by the vitest global setup). */
export function attachPostgres({ port, dir, bin, password }: PgServerInfo): PgServer {
  const data = join(dir, 'data');
  const log = join(dir, 'log');
  let dbCounter = 0;
  const server: PgServer = {
    port,
    dir,
    bin,
    url: (database = 'postgres', user = 'postgres') =>
      `postgres://${user}${password && user === 'postgres' ? ':' + encodeURIComponent(password) : ''}@127.0.0.1:${port}/${database}`,
    async createDatabase(name) {
      await server.psql(`CREATE DATABASE "${name}"`);
      return server.url(name);
    },
    async freshDatabase(prefix = 'db') {
      const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${dbCounter++}`.toLowerCase();
      await server.psql(`CREATE DATABASE "${name}"`);
      return name;
    },
    async psql(sql, database = 'postgres') {
      const { stdout } = await run(join(bin, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', database, '-c', sql], {
        maxBuffer: 64 << 20,
        env: password ? { ...process.env, PGPASSWORD: password } : process.env,
      });
      return stdout;
    },
    async stop(mode = 'fast') {
      await pgExec(bin, 'pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']).catch(() => undefined);
    },
    async start() {
      await pgExec(bin, 'pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
    },
    async restart(mode = 'fast') {
      await server.stop(mode);
      await server.start();
    },
    async destroy() {
      await server.stop('immediate');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
