/**
 * The access log of sealed values (DESIGN.md "Masking"): every `changes --reveal` appends one JSON line to
 * `<store>/access.log` (mode 0600) before a raw value is printed, naming who, when, what and which changes.
 * An access that cannot be recorded does not happen. `rowtrail masking accesses` lists them.
 */
import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { RowtrailError } from '../errors.js';

export interface AccessEvent {
  at: string;
  /** OS user (and uid) that ran the command. */
  who: string;
  /** What was done: `changes --reveal`. */
  action: string;
  /** The selection, as given (filters), and how many changes were opened. */
  selection: Record<string, unknown>;
  changes: number;
  /** The ids of the opened changes (at most 1000; `changes` has the count). */
  ids: string[];
}

export const ACCESS_LOG = 'access.log';

export function whoAmI(): string {
  try {
    const u = userInfo();
    return `${u.username} (uid ${u.uid})`;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** Appends an access event, durably; a STORE error (the access must not happen) where it cannot. */
export function recordAccess(storeDir: string, e: AccessEvent): void {
  const path = join(storeDir, ACCESS_LOG);
  try {
    const fd = openSync(path, 'a', 0o600);
    try {
      appendFileSync(fd, JSON.stringify(e) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new RowtrailError('STORE', `cannot record the access in ${path} (${(err as Error).message.split('\n')[0]}): nothing was revealed`, err);
  }
}

/** The recorded accesses, oldest first ([] where none). */
export function readAccesses(storeDir: string): AccessEvent[] {
  let text: string;
  try {
    text = readFileSync(join(storeDir, ACCESS_LOG), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AccessEvent);
}
