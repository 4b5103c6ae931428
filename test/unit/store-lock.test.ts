/** One writer per store: a second writer is refused with the holder's pid; readers and restarts after SIGKILL are not. */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import type { RowtrailError } from '../../src/errors.js';

const dirs: string[] = [];
const stores: Store[] = [];
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rowtrail-store-lock-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const STORE_INDEX = join(import.meta.dirname, '..', '..', 'src', 'store', 'index.ts');

/** A child process that opens the store for writing, says so, and waits to be killed. */
function holder(d: string) {
  const code = `import { Store } from ${JSON.stringify(STORE_INDEX)};
    Store.open(${JSON.stringify(d)}, { owner: 'rowtrail watch' }); console.log('open'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const opened = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b) => String(b).includes('open') && resolve());
    child.once('exit', (c) => reject(new Error(`holder exited with ${c}`)));
  });
  return { child, opened };
}

function openError(d: string): RowtrailError {
  try {
    stores.push(Store.open(d));
  } catch (e) {
    return e as RowtrailError;
  }
  throw new Error('the second writer was not refused');
}

describe('store lock', () => {
  it('refuses a second writer in the same process, and lets one open after the first closed', () => {
    const d = dir();
    const first = Store.open(d, { owner: 'rowtrail watch' });
    const e = openError(d);
    expect(e.code).toBe('STORE');
    expect(e.message).toContain(`store ${d} is in use by rowtrail watch pid ${process.pid}`);
    first.close();
    stores.push(Store.open(d));
  });

  it('refuses a writer while another process holds the store; readers read beside it; a SIGKILL frees it', async () => {
    const d = dir();
    const s = Store.open(d);
    const w = s.writer('src', 'postgresql', 'db');
    const tx = w.begin('1');
    w.add(tx, { schema: 'public', table: 't', op: 'insert', key: { id: '1' }, before: null, after: { id: '1' }, changed: ['id'] });
    w.commit(tx, { position: '0/1', commitTime: '2026-11-26T10:00:00Z', actor: { kind: 'unknown', confidence: 'unknown' }, resumePosition: '0/1' });
    w.flush();
    s.close();

    const h = holder(d);
    try {
      await h.opened;
      const e = openError(d);
      expect(e.code).toBe('STORE');
      expect(e.message).toContain(`is in use by rowtrail watch pid ${h.child.pid}`);
      const reader = Store.open(d, { readonly: true });
      stores.push(reader);
      expect([...reader.changes()].map((c) => c.id)).toEqual(['src:0/1:0']);
    } finally {
      h.child.kill('SIGKILL');
      await new Promise((r) => h.child.once('exit', r));
    }
    // The holder died without releasing anything: the next writer opens at once.
    stores.push(Store.open(d));
  });
});
