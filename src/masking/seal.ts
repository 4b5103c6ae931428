/**
 * Sealed blobs: AES-256-GCM under a store data key, bound to the change they belong to.
 *
 * Format (version 1), as raw bytes (the store keeps them as a BLOB; base64 where text is needed):
 *
 *   offset 0   1 byte   version (1)
 *          1   4 bytes  data key id, unsigned big-endian
 *          5  12 bytes  nonce (random; a fresh one per blob)
 *         17   n bytes  ciphertext (same length as the plaintext)
 *       17+n  16 bytes  GCM tag
 *
 * The additional authenticated data is `rowtrail/seal/v1\0<change id>\0` followed by the 5 header bytes, so a
 * blob opened for another change, or with its key id or version edited, fails authentication instead of
 * opening: sealed values cannot be swapped between rows. 33 bytes of overhead per blob.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { RowtrailError } from '../errors.js';

export const SEAL_VERSION = 1;
const HEADER = 5;
const NONCE = 12;
const TAG = 16;
/** Smallest valid blob: header, nonce and tag around an empty plaintext. */
export const SEAL_OVERHEAD = HEADER + NONCE + TAG;

// Nonces come from a pooled random buffer: one randomFillSync per 341 blobs rather than one per blob.
const pool = Buffer.alloc(NONCE * 341);
let poolAt = pool.length;

function nonce(into: Buffer, at: number): void {
  if (poolAt + NONCE > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  pool.copy(into, at, poolAt, poolAt + NONCE);
  poolAt += NONCE;
}

function aad(changeId: string, header: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`rowtrail/seal/v1\0${changeId}\0`, 'utf8'), header.subarray(0, HEADER)]);
}

/** Seals `plaintext` for change `changeId` under data key `key` (32 bytes) with id `keyId`. */
export function seal(plaintext: Buffer, changeId: string, keyId: number, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(SEAL_OVERHEAD + plaintext.length);
  out[0] = SEAL_VERSION;
  out.writeUInt32BE(keyId, 1);
  nonce(out, HEADER);
  const c = createCipheriv('aes-256-gcm', key, out.subarray(HEADER, HEADER + NONCE));
  c.setAAD(aad(changeId, out));
  const body = c.update(plaintext);
  body.copy(out, HEADER + NONCE);
  c.final();
  c.getAuthTag().copy(out, HEADER + NONCE + plaintext.length);
  return out;
}

/** The data key id a blob was sealed under (to pick the key, or to find blobs a rotation should re-seal). */
export function sealedKeyId(blob: Uint8Array): number {
  if (blob.length < SEAL_OVERHEAD || blob[0] !== SEAL_VERSION) {
    throw new RowtrailError('KEY', `not a sealed value (${blob.length} bytes, version ${blob[0] ?? 'none'}; this rowtrail reads version ${SEAL_VERSION})`);
  }
  return Buffer.from(blob.buffer, blob.byteOffset, blob.length).readUInt32BE(1);
}

/**
 * Opens a blob sealed for `changeId`. `keyFor(id)` returns the data key of that id, or undefined where the
 * keyring does not have it. Refuses with a KEY error (never returns wrong bytes) on an unknown key id, a blob
 * sealed for another change, a wrong key or any edited byte.
 */
export function openSealed(blob: Uint8Array, changeId: string, keyFor: (id: number) => Buffer | undefined): Buffer {
  const id = sealedKeyId(blob);
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  const key = keyFor(id);
  if (!key) {
    throw new RowtrailError('KEY', `change ${changeId} was sealed under data key ${id}, which this store's keyring does not hold: restore the keyring or the master key it was wrapped with`);
  }
  const d = createDecipheriv('aes-256-gcm', key, b.subarray(HEADER, HEADER + NONCE));
  d.setAAD(aad(changeId, b));
  d.setAuthTag(b.subarray(b.length - TAG));
  const body = d.update(b.subarray(HEADER + NONCE, b.length - TAG));
  try {
    d.final();
  } catch (e) {
    throw new RowtrailError(
      'KEY',
      `the sealed values of change ${changeId} do not open with data key ${id} (authentication failed): the blob belongs to another change, was altered, or the key is not the one it was sealed with`,
      e,
    );
  }
  return body;
}
