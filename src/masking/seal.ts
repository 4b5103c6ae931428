/**
 * Sealed blobs: AES-256-GCM under a store data key, bound to the change they belong to.
 *
 * Format (version 1), as raw bytes (the store keeps them as a BLOB; base64 where text is needed):
 *
 *   offset 0   1 byte   version (1)
 *          1   4 bytes  data key id, unsigned big-endian
 *          5  16 bytes  session salt
 *         21   8 bytes  counter, unsigned big-endian (the GCM nonce is 4 zero bytes + this counter)
 *         29   n bytes  ciphertext (same length as the plaintext)
 *       29+n  16 bytes  GCM tag
 *
 * Nonces: GCM must never see one nonce twice under one key, and random 96-bit nonces are only good for 2^32
 * blobs per key (NIST SP 800-38D) — about 12 hours of capture at 100k changes/s. So each process (each
 * sealing session) draws a random 128-bit salt, seals under the session key HKDF-SHA256(data key, salt,
 * "rowtrail/seal/v1") and counts nonces from 0: unique within a session by construction, and sessions get
 * distinct keys (salt collisions are ~2^-64 after 2^32 sessions). Opening derives the session key from the
 * blob's salt (cached per salt). The key derivation is paid once per session, not per blob.
 *
 * The additional authenticated data is `rowtrail/seal/v1\0<change id>\0` followed by the 29 header bytes, so a
 * blob opened for another change, or with any header byte edited, fails authentication instead of opening:
 * sealed values cannot be swapped between rows. 45 bytes of overhead per blob.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { RowtrailError } from '../errors.js';

export const SEAL_VERSION = 1;
const SALT_AT = 5;
const COUNTER_AT = 21;
const HEADER = 29;
const TAG = 16;
/** Smallest valid blob: header and tag around an empty plaintext. */
export const SEAL_OVERHEAD = HEADER + TAG;

const INFO = Buffer.from('rowtrail/seal/v1', 'utf8');

function sessionKey(dataKey: Buffer, salt: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, salt, INFO, 32));
}

interface Session {
  salt: Buffer;
  key: Buffer;
  next: number;
}

/** The sealing session of each data key in this process. */
const sessions = new WeakMap<Buffer, Session>();
/** Opened session keys per data key, by salt (hex); bounded. */
const opened = new WeakMap<Buffer, Map<string, Buffer>>();

function sessionOf(dataKey: Buffer): Session {
  let s = sessions.get(dataKey);
  // 2^53 blobs would be needed to exhaust the counter's exact range; start a new session long before.
  if (!s || s.next >= 2 ** 48) {
    const salt = randomBytes(16);
    sessions.set(dataKey, (s = { salt, key: sessionKey(dataKey, salt), next: 0 }));
  }
  return s;
}

// createCipheriv copies the IV and setAAD consumes the AAD at once, so one scratch buffer each serves every call.
const nonceBuf = Buffer.alloc(12);
let aadBuf = Buffer.alloc(256);
const AAD_PREFIX = 'rowtrail/seal/v1\0';

function nonceOf(header: Buffer): Buffer {
  header.copy(nonceBuf, 4, COUNTER_AT, HEADER);
  return nonceBuf;
}

/** `rowtrail/seal/v1\0<change id>\0<header>`, in the scratch buffer (valid until the next call). */
function aad(changeId: string, header: Buffer): Buffer {
  const need = AAD_PREFIX.length + Buffer.byteLength(changeId) + 1 + HEADER;
  if (need > aadBuf.length) aadBuf = Buffer.alloc(need * 2);
  let at = aadBuf.write(AAD_PREFIX, 0, 'latin1');
  at += aadBuf.write(changeId, at, 'utf8');
  aadBuf[at++] = 0;
  at += header.copy(aadBuf, at, 0, HEADER);
  return aadBuf.subarray(0, at);
}

/** Seals `plaintext` for change `changeId` under data key `key` (32 bytes) with id `keyId`. */
export function seal(plaintext: Buffer, changeId: string, keyId: number, key: Buffer): Buffer {
  const session = sessionOf(key);
  const n = session.next++;
  const out = Buffer.allocUnsafe(SEAL_OVERHEAD + plaintext.length);
  out[0] = SEAL_VERSION;
  out.writeUInt32BE(keyId, 1);
  session.salt.copy(out, SALT_AT);
  out.writeUInt32BE(Math.floor(n / 2 ** 32), COUNTER_AT);
  out.writeUInt32BE(n >>> 0, COUNTER_AT + 4);
  const c = createCipheriv('aes-256-gcm', session.key, nonceOf(out));
  c.setAAD(aad(changeId, out));
  c.update(plaintext).copy(out, HEADER);
  c.final();
  c.getAuthTag().copy(out, HEADER + plaintext.length);
  return out;
}

/** The data key id a blob was sealed under (to pick the key, or to find blobs a rotation should re-seal). */
export function sealedKeyId(blob: Uint8Array): number {
  if (blob.length < SEAL_OVERHEAD || blob[0] !== SEAL_VERSION) {
    const what = `${blob.length} bytes, version ${blob[0] ?? 'none'}`;
    throw new RowtrailError('KEY', `not a sealed value (${what}; this rowtrail reads version ${SEAL_VERSION})`);
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
    throw new RowtrailError(
      'KEY',
      `change ${changeId} was sealed under data key ${id}, which this store's keyring does not hold: ` +
        'restore the keyring or the master key it was wrapped with',
    );
  }
  let cache = opened.get(key);
  if (!cache) opened.set(key, (cache = new Map()));
  const saltHex = b.toString('hex', SALT_AT, COUNTER_AT);
  let sk = cache.get(saltHex);
  if (!sk) {
    if (cache.size >= 64) cache.clear();
    cache.set(saltHex, (sk = sessionKey(key, b.subarray(SALT_AT, COUNTER_AT))));
  }
  const d = createDecipheriv('aes-256-gcm', sk, nonceOf(b));
  d.setAAD(aad(changeId, b));
  d.setAuthTag(b.subarray(b.length - TAG));
  const body = d.update(b.subarray(HEADER, b.length - TAG));
  try {
    d.final();
  } catch (e) {
    throw new RowtrailError(
      'KEY',
      `the sealed values of change ${changeId} do not open with data key ${id} (authentication failed): ` +
        'the blob belongs to another change, was altered, or the key is not the one it was sealed with',
      e,
    );
  }
  return body;
}
