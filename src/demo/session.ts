/**
 * What the demo starts and how it ends: its directory (private to the server's user), its PostgreSQL, the
 * resources one cleanup stops in order, and output that stops quietly once its reader is gone.
 */
import { chownSync, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { RowtrailError, oneLine } from '../errors.js';
import type { Daemon } from '../daemon.js';
import type { Store } from '../store/index.js';
import { initdb, reachableBinaries, startServer, stopProcess, traversableByOthers, type RunAs } from './embedded.js';

/** Thrown inside the story when Ctrl-C (or SIGTERM/SIGHUP) arrived: unwinds to the cleanup. */
export class Interrupted extends Error {}

/** Where the demo's text goes; once the reader is gone (EPIPE), writing stops quietly. */
export const streams = { closed: false };

export function write(stream: NodeJS.WriteStream, text: string): void {
  if (streams.closed || stream.destroyed) return;
  stream.write(text);
}

/** Plain text; bold headings and a coloured verdict only on a terminal (and not under NO_COLOR). */
export function printer() {
  const tty = !!process.stdout.isTTY && !process.env.NO_COLOR;
  const wrap = (code: string) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
  const out = (s = '') => write(process.stdout, s + '\n');
  return {
    out,
    bold: wrap('1'),
    dim: wrap('2'),
    green: wrap('32'),
    red: wrap('31'),
    heading(n: number | null, title: string) {
      out();
      out(wrap('1')(`== ${n === null ? '' : `${n}. `}${title} ==`));
    },
    cmd(s: string) {
      out(wrap('36')(`$ ${s}`));
    },
    indent(lines: string[] | string, by = '  ') {
      for (const l of (Array.isArray(lines) ? lines : lines.split('\n'))) out(by + l);
    },
  };
}
export type Printer = ReturnType<typeof printer>;

/** What the demo started, so one cleanup can stop and remove all of it in the right order. */
export class Resources {
  dir: string | null = null;
  /** The PostgreSQL server process (from the moment it is spawned). */
  pg: ChildProcess | null = null;
  daemon: Daemon | null = null;
  reader: Store | null = null;
  clients: { end(): Promise<void> }[] = [];
  logStream: WriteStream | null = null;
  private onExit: (() => void) | null = null;
  private done = false;

  /** Takes the server process; if this process dies without its cleanup (a crash), the server goes with it. */
  server(child: ChildProcess): void {
    this.pg = child;
    this.onExit = () => child.kill('SIGINT');
    process.once('exit', this.onExit);
  }

  async cleanup(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.reader?.close();
    await Promise.all(this.clients.map((c) => c.end().catch(() => undefined)));
    // Bounded: a daemon still connecting may not notice its stop at once (and the server goes down next anyway).
    if (this.daemon) await withTimeout(this.daemon.stop(), 5_000).catch(() => undefined);
    await stopProcess(this.pg);
    if (this.onExit) process.off('exit', this.onExit);
    if (this.logStream) await new Promise<void>((r) => this.logStream!.end(() => r()));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export function withTimeout<T>(pr: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([pr, new Promise<T>((_, rej) => (timer = setTimeout(() => rej(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer));
}


// ---- the demo's directory and server ------------------------------------------------------------------

/**
 * A fresh directory under TMPDIR for everything the demo makes. As root it belongs to the `postgres` OS user
 * (the server writes its data and socket there) with mode 0700: nobody else reads the data or the config.
 */
export function makeTempDir(runAs: RunAs): string {
  const base = tmpdir();
  let dir: string;
  try {
    dir = mkdtempSync(join(base, 'rowtrail-demo-'));
  } catch (e: any) {
    throw new RowtrailError('PERMISSION', `cannot create a temp directory in ${base} (${e?.code ?? oneLine(e)}); set TMPDIR to a writable directory`, e);
  }
  if (runAs.uid !== undefined) {
    const closed = traversableByOthers(base);
    if (closed !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new RowtrailError(
        'PERMISSION',
        `the postgres OS user cannot reach ${base} (${closed} is not searchable by others); set TMPDIR to a directory like /tmp`,
      );
    }
    chownSync(dir, runAs.uid, runAs.gid!);
  }
  return dir;
}

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export async function ensurePortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new RowtrailError('USAGE', `port ${port} on 127.0.0.1 is in use; pass another --port, or leave --port out to use a free one`)
          : new RowtrailError('USAGE', `cannot use port ${port} on 127.0.0.1 (${e.code ?? e.message}); pass another --port`),
      ),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}

export async function startPostgres(dir: string, port: number, password: string, runAs: RunAs, res: Resources, signal: AbortSignal): Promise<void> {
  const o = { dir, port, password, runAs, onLog: () => undefined };
  const bin = await reachableBinaries(join(dir, 'pg'));
  if (signal.aborted) throw new Interrupted();
  await initdb(bin.dir, o, signal).catch((e) => {
    throw signal.aborted ? new Interrupted() : e;
  });
  if (signal.aborted) throw new Interrupted();
  const flags = [
    '-c', 'wal_level=logical',
    '-c', `unix_socket_directories=${dir}`,
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'max_replication_slots=10',
    '-c', 'max_wal_senders=10',
    '-c', 'timezone=UTC',
    '-c', 'fsync=off',
  ];
  await startServer(bin.dir, o, flags, signal, (child) => res.server(child)).catch((e) => {
    throw signal.aborted ? new Interrupted() : e;
  });
}
