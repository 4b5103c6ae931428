import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

import { DEFAULT_KEY_FILE, MASTER_KEY_ENV, fingerprintOf, loadMasterKey } from '../../src/masking/index.js';
import { keyError } from './helpers.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'rowtrail-key-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function writeKey(path: string, text: string, mode: number): void {
  writeFileSync(path, text);
  chmodSync(path, mode);
}

describe('master key', () => {
  const hex = randomBytes(32).toString('hex');

  it('env wins over files; the key is parsed from 64 hex characters', () => {
    const dir = tmp();
    writeKey(join(dir, 'k'), randomBytes(32).toString('hex'), 0o600);
    const k = loadMasterKey({ env: { [MASTER_KEY_ENV]: ` ${hex.toUpperCase()}\n` }, keyFile: join(dir, 'k'), storeDir: dir });
    expect(k).toMatchObject({ from: 'env', fingerprint: fingerprintOf(Buffer.from(hex, 'hex')) });
    expect(k.key.toString('hex')).toBe(hex);
  });

  it.each([
    ['abc', /64 hex characters .*found 3 hex characters/],
    [hex.slice(0, 62), /found 62 hex/],
    [hex.slice(0, 63) + 'g', /not all hex/],
  ])('a malformed key %# is refused in one line, without echoing it', (bad, msg) => {
    const m = keyError(() => loadMasterKey({ env: { [MASTER_KEY_ENV]: bad }, storeDir: tmp() }));
    expect(m).toMatch(msg);
    expect(m).toMatch(/ROWTRAIL_MASTER_KEY/);
    if (bad.length > 8) expect(m).not.toContain(bad.slice(0, 16));
  });

  it('a key file open to group or others is refused with the chmod to run', () => {
    const dir = tmp();
    const path = join(dir, 'master.hex');
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      writeKey(path, hex, mode);
      expect(keyError(() => loadMasterKey({ env: {}, keyFile: path, storeDir: dir }))).toBe(
        `key file ${path} is open to group or others (mode 0${mode.toString(8)}): run 'chmod 600 ${path}'`,
      );
    }
    writeKey(path, hex + '\n', 0o400);
    expect(loadMasterKey({ env: {}, keyFile: path, storeDir: dir })).toMatchObject({ from: 'file', path });
  });

  it('a configured key file that is missing is an error, never replaced by a new key', () => {
    const dir = tmp();
    expect(keyError(() => loadMasterKey({ env: {}, keyFile: join(dir, 'nope'), storeDir: dir, allowGenerate: true }))).toMatch(/does not exist/);
  });

  it('with no key anywhere: generates <store>/master.key (0600) for a new store, warns, then reads it back', () => {
    const dir = tmp();
    const g = loadMasterKey({ env: {}, storeDir: dir, allowGenerate: true });
    const path = join(dir, DEFAULT_KEY_FILE);
    expect(g).toMatchObject({ from: 'generated', path });
    expect(g.warning).toMatch(new RegExp(`${path}.*whoever holds this file can open`));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8').trim()).toBe(g.key.toString('hex'));
    const again = loadMasterKey({ env: {}, storeDir: dir, allowGenerate: true });
    expect(again).toMatchObject({ from: 'file', path, fingerprint: g.fingerprint });
  });

  it('with no key and a store that already holds sealed values: refused, nothing generated', () => {
    const dir = tmp();
    expect(keyError(() => loadMasterKey({ env: {}, storeDir: dir }))).toMatch(/set ROWTRAIL_MASTER_KEY or masking.keyFile/);
    expect(() => statSync(join(dir, DEFAULT_KEY_FILE))).toThrow();
  });
});
