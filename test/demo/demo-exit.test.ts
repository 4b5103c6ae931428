/**
 * The demo cleans up on every way out, and keeps its secrets to itself: SIGTERM mid-story, a reader that goes
 * away (`demo | head`, `demo --keep | tee` then Ctrl-C), a binary it cannot run. Nothing may be left: no
 * postgres process, no file in TMPDIR; while it runs, its directory is the server user's alone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, spawnCli } from '../harness/cli.js';
import { leftIn, processesUnder, until as waitUntil } from './helpers.js';
import { initdb, isRoot, serverUser } from '../../src/demo/embedded.js';
import { RowtrailError } from '../../src/errors.js';

let tmp: string;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rowtrail-demo-exit-'));
  chmodSync(tmp, 0o755); // as root, the postgres OS user reaches the demo's own dir through this one
});

afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const leftInTmp = () => leftIn(tmp);
const until = (cond: () => boolean) => waitUntil(cond, 60_000);

describe('demo exit paths', () => {
  it('SIGTERM in the middle of the story: exit 143, server stopped, temp dir removed', async () => {
    const child = spawnCli(['demo', '--no-ui'], { env: { TMPDIR: tmp } });
    await until(() => child.output().includes('== 3. The story'));
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(143);
    expect(child.output()).toContain('rowtrail demo: interrupted; nothing left running');
    expect(processesUnder(tmp)).toEqual([]);
    expect(leftInTmp()).toEqual([]);
  });

  it('a reader that goes away (demo | head -3): stops at the next line, exit 141, nothing left', async () => {
    const child = spawnCli(['demo', '--no-ui'], { env: { TMPDIR: tmp } });
    await until(() => child.output().includes('== 1. Embedded PostgreSQL'));
    child.stdout!.destroy();
    expect(await exited(child)).toBe(141);
    expect(child.output()).not.toMatch(/\n\s+at /); // no stack trace
    expect(processesUnder(tmp)).toEqual([]);
    expect(leftInTmp()).toEqual([]);
  });

  it('--keep | tee, then Ctrl-C (tee dies too): cleans up; while it ran, its dir and secrets were private', async () => {
    const child = spawnCli(['demo', '--no-ui', '--keep'], { env: { TMPDIR: tmp } });
    await until(() => child.output().includes('press Ctrl-C'));
    const [dir] = leftInTmp();
    const st = statSync(join(tmp, dir!));
    expect(st.mode & 0o777).toBe(0o700);
    if (isRoot) expect(st.uid).toBe(serverUser().uid); // the server's user, which writes data and socket there
    // initdb's password file is gone, and nothing else sits in TMPDIR
    expect(readdirSync(join(tmp, dir!)).filter((f) => /pass/i.test(f))).toEqual([]);
    expect(leftInTmp()).toEqual([dir]);
    child.stdout!.destroy();
    child.kill('SIGINT');
    expect([130, 141]).toContain(await exited(child));
    expect(processesUnder(tmp)).toEqual([]);
    expect(leftInTmp()).toEqual([]);
  });

  it('a binary it cannot run: a one-line error, no crash, and the password file removed', async () => {
    const dir = join(tmp, 'd');
    mkdirSync(join(dir, 'pg', 'bin', 'initdb'), { recursive: true }); // a directory: spawn fails with EACCES
    const err = await initdb(join(dir, 'pg'), { dir, port: 1, password: 'pw', runAs: {}, onLog: () => undefined }, new AbortController().signal).catch((e) => e);
    expect(err).toBeInstanceOf(RowtrailError);
    expect(err.message).toMatch(/cannot run initdb \(.*initdb: EACCES\)/);
    expect(existsSync(join(dir, 'pg-password'))).toBe(false);
  });
});
