/**
 * The policies, as pure functions of a text value:
 *
 * - `hash`: `h:` + 16 lower-case base32 characters (RFC 4648 alphabet) of HMAC-SHA256(pseudonym key, UTF-8
 *   value) — 80 bits, so equal values stay equal and joinable across rows, tables and stores under one
 *   master key, and two different values collide once in ~10^12 pairs. Not reversible without the key (and
 *   not guessable for low-entropy values like birth dates, because the key is secret).
 * - `partial`: `••••` + the last 4 letters/digits, only where the value has at least 8 of them (a card,
 *   a phone, an IBAN); shorter values show `••••` alone (4 of 6 digits would be most of the value).
 * - `redact`: `[redacted]`.
 * - `none`: the value itself.
 *
 * NULL stays NULL under every policy: that a value is absent is not sensitive, and undo needs it.
 */
import { createHmac } from 'node:crypto';
import type { Policy } from './detect.js';
import { HmacSha256 } from './hmac.js';

export const REDACTED = '[redacted]';
export const PARTIAL_MASK = '••••';
export const PSEUDONYM_PREFIX = 'h:';

/** RFC 4648 base32 alphabet, lower case, as char codes. */
const B32 = Array.from('abcdefghijklmnopqrstuvwxyz234567', (c) => c.charCodeAt(0));

/** Lower-case RFC 4648 base32 of the first 10 bytes (80 bits → 16 characters). */
function base32of10(b: Uint8Array): string {
  // 40 bits per 5 bytes → 8 characters; each half split in two 20-bit integers to stay within 32 bits.
  const h0 = (b[0] << 12) | (b[1] << 4) | (b[2] >> 4);
  const l0 = ((b[2] & 15) << 16) | (b[3] << 8) | b[4];
  const h1 = (b[5] << 12) | (b[6] << 4) | (b[7] >> 4);
  const l1 = ((b[7] & 15) << 16) | (b[8] << 8) | b[9];
  return String.fromCharCode(
    B32[(h0 >> 15) & 31], B32[(h0 >> 10) & 31], B32[(h0 >> 5) & 31], B32[h0 & 31],
    B32[(l0 >> 15) & 31], B32[(l0 >> 10) & 31], B32[(l0 >> 5) & 31], B32[l0 & 31],
    B32[(h1 >> 15) & 31], B32[(h1 >> 10) & 31], B32[(h1 >> 5) & 31], B32[h1 & 31],
    B32[(l1 >> 15) & 31], B32[(l1 >> 10) & 31], B32[(l1 >> 5) & 31], B32[l1 & 31],
  ); // prettier-ignore
}

/** The keyed pseudonym of a value (`h:` + 16 base32 characters); `PolicyApplier.hash` is the fast path. */
export function pseudonym(key: Buffer, value: string): string {
  return PSEUDONYM_PREFIX + base32of10(createHmac('sha256', key).update(value, 'utf8').digest());
}

/** True for strings of the pseudonym form. */
export function isPseudonym(s: string): boolean {
  return /^h:[a-z2-7]{16}$/.test(s);
}

/** `••••` + the last 4 letters/digits where the value has at least 8 of them, else `••••`. */
export function partial(value: string): string {
  let tail = '';
  let n = 0;
  for (let i = value.length - 1; i >= 0; i--) {
    const c = value.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
      if (n < 4) tail = value[i] + tail;
      n++;
    }
  }
  return n >= 8 ? PARTIAL_MASK + tail : PARTIAL_MASK;
}

/** Values up to this length have their pseudonyms cached (repeated values are common: unchanged columns). */
const CACHE_MAX_VALUE = 256;
/** Entries before the cache is dropped and refilled (bounds memory to a few MB). */
const CACHE_MAX_ENTRIES = 20_000;

/** Applies policies with one pseudonym key; caches pseudonyms of short values. */
export class PolicyApplier {
  private readonly cache = new Map<string, string>();
  private readonly mac: HmacSha256;
  constructor(pseudonymKey: Buffer) {
    this.mac = new HmacSha256(pseudonymKey);
  }

  /** The keyed pseudonym of a value (cached), equal to `pseudonym(key, value)`. */
  hash(value: string): string {
    if (value.length > CACHE_MAX_VALUE) return PSEUDONYM_PREFIX + base32of10(this.mac.digest(value));
    let h = this.cache.get(value);
    if (h === undefined) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
      h = PSEUDONYM_PREFIX + base32of10(this.mac.digest(value));
      this.cache.set(value, h);
    }
    return h;
  }

  /** The shown form of `value` under `policy`. */
  apply(policy: Policy, value: string): string {
    switch (policy) {
      case 'none':
        return value;
      case 'hash':
        return this.hash(value);
      case 'partial':
        return partial(value);
      default:
        return REDACTED;
    }
  }
}
