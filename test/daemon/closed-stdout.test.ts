/** `rowtrail changes --json | head`: a reader that closes stdout early ends the command quietly with exit 0. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { maskLikeWatch } from '../harness/masking.js';

const ROOT = join(import.meta.dirname, '..', '..');
let dir: string;
let config: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rowtrail-epipe-'));
  config = join(dir, 'rowtrail.yaml');
  // The source is never contacted: `changes` reads the store only.
  writeFileSync(config, `sources:\n  - name: app\n    kind: postgres\n    url: postgres://nobody@127.0.0.1:1/app\nstore:\n  path: ./data\n`);
  const s = Store.open(join(dir, 'data'), { synchronous: 'NORMAL' });
  maskLikeWatch(s);
  const w = s.writer('app', 'postgresql', 'app');
  // Far more than a pipe buffer (64 KiB) of JSON lines, so the writer is still writing when the reader leaves.
  for (let t = 0; t < 200; t++) {
    const tx = w.begin(String(t));
    for (let i = 0; i < 50; i++) {
      const id = String(t * 50 + i);
      w.add(tx, { schema: 'public', table: 't', op: 'insert', key: { id }, before: null, after: { id, v: 'x'.repeat(40) }, changed: ['id', 'v'] });
    }
    const pos = `0/${(t + 1).toString(16)}`;
    w.commit(tx, { position: pos, commitTime: '2026-11-26T10:00:00Z', actor: { kind: 'unknown', confidence: 'unknown' }, resumePosition: pos });
  }
  w.flush();
  s.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI, reads its first chunk of stdout, then closes the pipe like `head -1` does. */
function runAndCloseEarly(args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string; first: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'run.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let first = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.once('data', (d) => {
      first = String(d);
      child.stdout.destroy();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr, first }));
  });
}

describe('closed stdout', () => {
  it.each([[['changes', '--json']], [['changes']]])('%j ends quietly with exit 0', async (args) => {
    const r = await runAndCloseEarly([...args, '--config', config]);
    expect(r.first.length).toBeGreaterThan(0);
    expect(r.stderr).not.toMatch(/EPIPE|Error|at /);
    expect(r.code).toBe(0);
  });
});
