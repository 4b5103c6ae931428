/**
 * One writer per store: a process that opens the store for writing holds an exclusive SQLite lock on
 * `<store>/rowtrail.lock` until it closes the store, and writes its pid beside it (`rowtrail.pid`) so a
 * second writer can say who holds it. Why SQLite's lock (POSIX fcntl) rather than a pid file alone: the
 * kernel releases it when the holder dies, SIGKILL included, so a stale lock can never block a restart, and
 * a reused pid can never look like a live holder. Readers (changes, blame, actors, undo planning) do not
 * take it: WAL lets them read beside the writer.
 */
import Database from 'better-sqlite3';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RowtrailError } from '../errors.js';

export interface StoreLock {
  release(): void;
}

interface Holder {
  pid: number;
  owner: string;
}

/** Takes the store's write lock, or throws STORE naming the process that holds it. */
export function lockStore(dir: string, owner: string): StoreLock {
  const pidFile = join(dir, 'rowtrail.pid');
  const db = new Database(join(dir, 'rowtrail.lock'));
  try {
    // busy_timeout 0: a held lock fails at once (SQLITE_BUSY) instead of waiting for the holder to exit.
    db.pragma('busy_timeout = 0');
    db.exec('BEGIN EXCLUSIVE');
  } catch (e: any) {
    db.close();
    if (e?.code !== 'SQLITE_BUSY') throw new RowtrailError('STORE', `cannot lock the store at ${dir}: ${e?.message ?? e}`, e);
    const h = holder(pidFile);
    const who = h ? `${h.owner} pid ${h.pid}` : 'another rowtrail process';
    throw new RowtrailError('STORE', `store ${dir} is in use by ${who}: one writer per store (stop it, or give this one another store.path)`, e);
  }
  const me: Holder = { pid: process.pid, owner };
  writeFileSync(pidFile, JSON.stringify(me) + '\n');
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      // The pid file goes first, while the lock is still held: no one else can have written it yet.
      if (holder(pidFile)?.pid === process.pid) rmSync(pidFile, { force: true });
      db.close(); // rolls the open transaction back: the lock is released
    },
  };
}

function holder(file: string): Holder | null {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Holder;
    return Number.isInteger(h.pid) && typeof h.owner === 'string' ? h : null;
  } catch {
    return null;
  }
}
