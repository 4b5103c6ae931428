/**
 * HMAC-SHA256 in plain JavaScript for short values, with the key's inner and outer states computed once.
 *
 * Why: the `hash` policy runs once per sensitive cell, and Node's `createHmac(...).update().digest()` costs
 * a native object, the key schedule and three calls across the JS/C++ boundary each time. For a value of up
 * to 1 KiB this file's two-to-a-few SHA-256 compressions are ~2.8x faster (measured in bench/masking, same
 * run). Longer values, and anything this file cannot encode into its buffer, go to `createHmac`. The result
 * is the standard HMAC-SHA256 (RFC 2104) of the value's UTF-8 bytes: test/masking/policies.test.ts checks it
 * against `createHmac` on arbitrary strings. SHA-256 has no secret-dependent table lookups, so this is no
 * weaker against timing than the native code.
 */
import { createHmac } from 'node:crypto';

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const W = new Uint32Array(64);

/** One SHA-256 compression of the 64-byte block at `off` into state `H`. */
function compress(H: Uint32Array, M: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + 4 * i;
    W[i] = (M[j] << 24) | (M[j + 1] << 16) | (M[j + 2] << 8) | M[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15];
    const y = W[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7]; // prettier-ignore
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  H[0] = (H[0] + a) | 0;
  H[1] = (H[1] + b) | 0;
  H[2] = (H[2] + c) | 0;
  H[3] = (H[3] + d) | 0;
  H[4] = (H[4] + e) | 0;
  H[5] = (H[5] + f) | 0;
  H[6] = (H[6] + g) | 0;
  H[7] = (H[7] + h) | 0;
}

/** Values whose UTF-8 is at most this long take the JavaScript path. */
const MAX_JS_BYTES = 1024;
const encoder = new TextEncoder();

/** HMAC-SHA256 under one key; `digest` returns the 32-byte MAC of a string's UTF-8 bytes. */
export class HmacSha256 {
  private readonly inner: Uint32Array;
  private readonly outer: Uint32Array;
  private readonly key: Buffer;
  private readonly buf = new Uint8Array(MAX_JS_BYTES + 128);
  private readonly h = new Uint32Array(8);
  private readonly ob = new Uint8Array(64);

  constructor(key: Buffer) {
    if (key.length > 64) throw new Error('HmacSha256: keys longer than one block are not supported');
    this.key = key;
    const pad = (x: number): Uint32Array => {
      const blk = new Uint8Array(64);
      blk.set(key);
      for (let i = 0; i < 64; i++) blk[i] ^= x;
      const H = IV.slice();
      compress(H, blk, 0);
      return H;
    };
    this.inner = pad(0x36);
    this.outer = pad(0x5c);
  }

  /** The MAC of `value`'s UTF-8 bytes (a fresh Buffer). */
  digest(value: string): Buffer {
    // 3 bytes per UTF-16 unit at most: a longer string may not fit, so it takes the native path.
    if (value.length * 3 > MAX_JS_BYTES) return createHmac('sha256', this.key).update(value, 'utf8').digest();
    const buf = this.buf;
    const n = encoder.encodeInto(value, buf).written;
    const end = ((n + 9 + 63) >> 6) << 6;
    buf.fill(0, n, end);
    buf[n] = 0x80;
    const bits = (64 + n) * 8;
    buf[end - 4] = bits >>> 24;
    buf[end - 3] = bits >>> 16;
    buf[end - 2] = bits >>> 8;
    buf[end - 1] = bits;
    const H = this.h;
    H.set(this.inner);
    for (let o = 0; o < end; o += 64) compress(H, buf, o);
    const ob = this.ob;
    for (let i = 0; i < 8; i++) {
      ob[4 * i] = H[i] >>> 24;
      ob[4 * i + 1] = H[i] >>> 16;
      ob[4 * i + 2] = H[i] >>> 8;
      ob[4 * i + 3] = H[i];
    }
    ob.fill(0, 32);
    ob[32] = 0x80;
    ob[62] = 0x03; // length of ipad block + inner digest: (64 + 32) * 8 = 768 bits = 0x0300
    H.set(this.outer);
    compress(H, ob, 0);
    const out = Buffer.allocUnsafe(32);
    for (let i = 0; i < 8; i++) out.writeUInt32BE(H[i] >>> 0, 4 * i);
    return out;
  }
}
