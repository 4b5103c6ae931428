import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';

import { Keys, SEAL_OVERHEAD, dropDataKeys, openSealed, resealBlob, rotateKey, seal, sealedKeyId } from '../../src/masking/index.js';
import { keyError, anyText } from './helpers.js';

describe('seal / open', () => {
  const key = randomBytes(32);
  const keyFor = (id: number) => (id === 7 ? key : undefined);

  it('round-trips arbitrary bytes for the same change id', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.string({ minLength: 1, maxLength: 40 }), (bytes, id) => {
        const blob = seal(Buffer.from(bytes), id, 7, key);
        expect(blob.length).toBe(bytes.length + SEAL_OVERHEAD);
        expect(sealedKeyId(blob)).toBe(7);
        expect(openSealed(blob, id, keyFor).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it('round-trips text values: unicode, empty, NULL, huge', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 10 }), fc.option(anyText(200), { nil: null })), (row) => {
        const blob = seal(Buffer.from(JSON.stringify(row)), 'c', 7, key);
        expect(JSON.parse(openSealed(blob, 'c', keyFor).toString('utf8'))).toEqual(row);
      }),
    );
    const huge = 'é😀x'.repeat(3_000_000); // ~ 21 MB of UTF-8
    const blob = seal(Buffer.from(huge), 'big', 7, key);
    expect(openSealed(blob, 'big', keyFor).toString('utf8')).toBe(huge);
  });

  it('never reveals the plaintext in the blob, and two seals of one value differ (fresh nonce)', () => {
    const a = seal(Buffer.from('alice@example.com'), 'c', 7, key);
    const b = seal(Buffer.from('alice@example.com'), 'c', 7, key);
    expect(a.equals(b)).toBe(false);
    expect(a.includes(Buffer.from('alice'))).toBe(false);
  });

  it('nonces never repeat: a counter within a session, a fresh salt (so a fresh session key) per session', () => {
    const a = seal(Buffer.from('a'), 'c', 7, key);
    const b = seal(Buffer.from('b'), 'c', 7, key);
    expect(a.subarray(5, 21).equals(b.subarray(5, 21))).toBe(true); // same session salt
    expect(b.readBigUInt64BE(21) - a.readBigUInt64BE(21)).toBe(1n);
    const other = Buffer.from(key); // same key bytes, another session (as after a restart)
    const c = seal(Buffer.from('c'), 'c', 7, other);
    expect(c.subarray(5, 21).equals(a.subarray(5, 21))).toBe(false);
    expect(openSealed(c, 'c', keyFor).toString()).toBe('c');
    expect(openSealed(a, 'c', () => other).toString()).toBe('a');
  });

  it('a blob opened for another change is refused (cannot be swapped between rows)', () => {
    const blob = seal(Buffer.from('{"a":{"email":"a@x.io"}}'), 'app:0/1:0', 7, key);
    expect(keyError(() => openSealed(blob, 'app:0/1:1', keyFor))).toMatch(/app:0\/1:1 .*authentication failed/);
  });

  it('any altered byte is refused, never opened to different bytes', () => {
    const blob = seal(Buffer.from('secret value'), 'c', 7, key);
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i] ^= 1;
      keyError(() => openSealed(bad, 'c', () => key)); // the same key even where the key id byte was flipped
    }
    keyError(() => openSealed(blob.subarray(0, 20), 'c', keyFor));
  });

  it('a wrong data key or an unknown key id is refused', () => {
    const blob = seal(Buffer.from('x'), 'c', 7, key);
    expect(keyError(() => openSealed(blob, 'c', () => randomBytes(32)))).toMatch(/authentication failed/);
    expect(keyError(() => openSealed(blob, 'c', () => undefined))).toMatch(/data key 7/);
  });
});

describe('keyring', () => {
  it('a new store gets data key 1; reopening with the master key gives the same keys', () => {
    const master = randomBytes(32);
    const { keys, keyring } = Keys.open(master, null);
    expect(keyring.current).toBe(1);
    const blob = seal(Buffer.from('v'), 'c', keys.currentId, keys.current);
    const again = Keys.open(master, JSON.parse(JSON.stringify(keyring)));
    expect(again.keyring).toEqual(keyring);
    expect(openSealed(blob, 'c', (id) => again.keys.dataKey(id)).toString()).toBe('v');
    expect(again.keys.pseudonymKey.equals(keys.pseudonymKey)).toBe(true);
  });

  it('a wrong master key is refused by fingerprint, naming both; the keyring is untouched', () => {
    const { keyring } = Keys.open(randomBytes(32), null);
    const before = JSON.stringify(keyring);
    expect(keyError(() => Keys.open(randomBytes(32), keyring))).toMatch(/fingerprint [0-9a-f]{16}\) is not the one .*fingerprint [0-9a-f]{16}/);
    expect(JSON.stringify(keyring)).toBe(before);
  });

  it('an altered wrapped data key is refused', () => {
    const master = randomBytes(32);
    const { keyring } = Keys.open(master, null);
    const w = Buffer.from(keyring.keys[0].wrapped, 'base64');
    w[20] ^= 1;
    keyError(() => Keys.open(master, { ...keyring, keys: [{ ...keyring.keys[0], wrapped: w.toString('base64') }] }));
  });

  it('rotation: new blobs use the new key, old blobs still open, reseal moves them, then the old key can go', () => {
    const master = randomBytes(32);
    const k1 = Keys.open(master, null);
    const old = seal(Buffer.from('raw-1'), 'c1', k1.keys.currentId, k1.keys.current);
    const ring2 = rotateKey(master, k1.keyring);
    const k2 = Keys.open(master, ring2).keys;
    expect(k2.currentId).toBe(2);
    expect(k2.pseudonymKey.equals(k1.keys.pseudonymKey)).toBe(true); // pseudonyms survive a data key rotation
    const fresh = seal(Buffer.from('raw-2'), 'c2', k2.currentId, k2.current);
    expect(sealedKeyId(fresh)).toBe(2);
    expect(openSealed(old, 'c1', (id) => k2.dataKey(id)).toString()).toBe('raw-1');

    const moved = resealBlob(old, 'c1', k2);
    expect(sealedKeyId(moved)).toBe(2);
    const ring3 = dropDataKeys(ring2, [1]);
    const k3 = Keys.open(master, ring3).keys;
    expect(openSealed(moved, 'c1', (id) => k3.dataKey(id)).toString()).toBe('raw-1');
    expect(keyError(() => openSealed(old, 'c1', (id) => k3.dataKey(id)))).toMatch(/data key 1/);
    expect(() => dropDataKeys(ring2, [2])).toThrow(/current/);
  });

  it('rotation to a new master key rewraps every data key; the old master no longer opens the keyring', () => {
    const m1 = randomBytes(32);
    const m2 = randomBytes(32);
    const k1 = Keys.open(m1, null);
    const blob = seal(Buffer.from('raw'), 'c', k1.keys.currentId, k1.keys.current);
    const ring = rotateKey(m1, k1.keyring, m2);
    keyError(() => Keys.open(m1, ring));
    const k2 = Keys.open(m2, ring).keys;
    expect(openSealed(blob, 'c', (id) => k2.dataKey(id)).toString()).toBe('raw');
    keyError(() => rotateKey(randomBytes(32), ring)); // rotating needs the current master
  });
});
