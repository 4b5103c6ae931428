/**
 * Pure decoders for MySQL/MariaDB binlog row values: raw bytes → the server's canonical text form
 * (what `SELECT CAST(col AS CHAR)` prints), or upper-case hex for binary data (what `HEX(col)` prints).
 * No JS numbers or Dates anywhere a value could lose precision: integers go through BigInt where they
 * can exceed 2^53, DECIMAL is decoded digit by digit, temporals are formatted from their packed fields
 * without any time-zone conversion.
 */

/** Column type codes of the binlog (`enum_field_types`). */
export const T = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  TYPED_ARRAY: 20,
  /** MariaDB column compression (`VARCHAR(…) COMPRESSED`). */
  VARCHAR_COMPRESSED: 140,
  /** MariaDB column compression (`BLOB/TEXT COMPRESSED`). */
  BLOB_COMPRESSED: 141,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

/** Upper-case hex of bytes, as `HEX()` prints it. */
export function hex(buf: Uint8Array, start = 0, end = buf.length): string {
  // toString('hex') is native and fast; upper-case to match HEX().
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('hex').toUpperCase();
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}
function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** `n` big-endian bytes of a binary DECIMAL at `p`: the sign bit of the first byte (at `first`) flipped, negatives inverted. */
function decimalGroup(buf: Buffer, p: number, n: number, first: number, mask: number): number {
  let v = 0;
  for (let i = p; i < p + n; i++) v = v * 256 + ((i === first ? buf[i] ^ 0x80 : buf[i]) ^ mask);
  return v;
}

/** Signed or unsigned little-endian integer of 1, 2, 3, 4 or 8 bytes as decimal text. */
export function intText(buf: Buffer, off: number, size: 1 | 2 | 3 | 4 | 8, unsigned: boolean): string {
  switch (size) {
    case 1:
      return String(unsigned ? buf[off] : buf.readInt8(off));
    case 2:
      return String(unsigned ? buf.readUInt16LE(off) : buf.readInt16LE(off));
    case 3:
      return String(unsigned ? buf.readUIntLE(off, 3) : buf.readIntLE(off, 3));
    case 4:
      return String(unsigned ? buf.readUInt32LE(off) : buf.readInt32LE(off));
    case 8: {
      // Below 2^53 in magnitude a double holds the value exactly: no BigInt needed (the common case).
      const lo = buf.readUInt32LE(off);
      const hi = unsigned ? buf.readUInt32LE(off + 4) : buf.readInt32LE(off + 4);
      if (hi < 0x200000 && hi >= -0x200000) return String(hi * 4294967296 + lo);
      return (unsigned ? buf.readBigUInt64LE(off) : buf.readBigInt64LE(off)).toString();
    }
  }
}

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/** Bytes of a binary DECIMAL(precision, scale). */
export function decimalSize(precision: number, scale: number): number {
  const intg = precision - scale;
  return Math.floor(intg / 9) * 4 + DIG2BYTES[intg % 9] + Math.floor(scale / 9) * 4 + DIG2BYTES[scale % 9];
}

/**
 * MySQL's binary DECIMAL (strings/decimal.c `bin2decimal`) → exact text with `scale` fraction digits,
 * e.g. `-12.30`. Groups of 9 digits in 4 big-endian bytes, a partial leading/trailing group in fewer; the
 * sign is the inverted top bit and negative numbers have every byte inverted.
 */
export function decimalText(buf: Buffer, off: number, precision: number, scale: number): string {
  const intg = precision - scale;
  const intg0 = Math.floor(intg / 9);
  const intg0x = intg % 9;
  const frac0 = Math.floor(scale / 9);
  const frac0x = scale % 9;
  const negative = (buf[off] & 0x80) === 0;
  const mask = negative ? 0xff : 0;
  let p = off;
  let intPart = '';
  if (intg0x > 0) {
    intPart += String(decimalGroup(buf, p, DIG2BYTES[intg0x], off, mask));
    p += DIG2BYTES[intg0x];
  }
  for (let i = 0; i < intg0; i++, p += 4) {
    const v = decimalGroup(buf, p, 4, off, mask);
    intPart += intPart === '' ? String(v) : pad(v, 9);
  }
  intPart = intPart.replace(/^0+/, '') || '0';
  let frac = '';
  for (let i = 0; i < frac0; i++, p += 4) frac += pad(decimalGroup(buf, p, 4, off, mask), 9);
  if (frac0x > 0) frac += pad(decimalGroup(buf, p, DIG2BYTES[frac0x], off, mask), frac0x);
  const isZero = intPart === '0' && !/[1-9]/.test(frac);
  return (negative && !isZero ? '-' : '') + intPart + (scale > 0 ? '.' + frac : '');
}

/**
 * FLOAT (4 bytes) as the shortest decimal that reads back to the same single-precision value. MySQL's
 * own text form rounds FLOAT to 6 significant digits (which does not always read back to the stored
 * value); rowtrail keeps the exact binary value instead (see docs/decisions.md).
 */
export function floatText(buf: Buffer, off: number): string {
  const v = buf.readFloatLE(off);
  if (!Number.isFinite(v) || v === 0) return normalizeNumber(v);
  for (let digits = 1; digits <= 9; digits++) {
    const s = v.toPrecision(digits);
    if (Math.fround(Number(s)) === v) return normalizeNumber(Number(s));
  }
  return normalizeNumber(v);
}

/** DOUBLE (8 bytes) as the shortest decimal that reads back to the same value. */
export function doubleText(buf: Buffer, off: number): string {
  return normalizeNumber(buf.readDoubleLE(off));
}

/** JS number text in MySQL's style: `1e20` → `1e20`, `1e-7` → `1e-7`, `-0` → `-0`. */
function normalizeNumber(v: number): string {
  if (Object.is(v, -0)) return '-0';
  return String(v).replace('e+', 'e');
}

/** DATE (3 bytes: day | month << 5 | year << 9). */
export function dateText(buf: Buffer, off: number): string {
  const v = buf.readUIntLE(off, 3);
  return `${pad(v >> 9, 4)}-${pad2((v >> 5) & 15)}-${pad2(v & 31)}`;
}

/** Fractional seconds stored after TIME2/DATETIME2/TIMESTAMP2: (fsp+1)/2 big-endian bytes. */
export function fracBytes(fsp: number): number {
  return (fsp + 1) >> 1;
}

function fracText(buf: Buffer, off: number, fsp: number): string {
  if (fsp === 0) return '';
  const n = fracBytes(fsp);
  const v = buf.readUIntBE(off, n);
  // 1-2 digits in 1 byte, 3-4 in 2, 5-6 in 3: the stored integer has 2, 4 or 6 digits.
  const s = pad(v, n * 2);
  return '.' + s.slice(0, fsp);
}

/**
 * DATETIME2 (MySQL 5.6+ / MariaDB mysql56_temporal_format): 5 bytes big-endian, bit 39 sign, then
 * year*13+month (17 bits), day (5), hour (5), minute (6), second (6); then fractional seconds.
 */
export function datetime2Text(buf: Buffer, off: number, fsp: number): string {
  const hi = buf[off] * 2 ** 32 + buf.readUInt32BE(off + 1);
  let v = hi - 0x8000000000;
  const sec = v % 64;
  v = Math.floor(v / 64);
  const min = v % 64;
  v = Math.floor(v / 64);
  const hour = v % 32;
  v = Math.floor(v / 32);
  const day = v % 32;
  v = Math.floor(v / 32);
  const ym = v;
  const year = Math.floor(ym / 13);
  const month = ym % 13;
  return `${pad(year, 4)}-${pad2(month)}-${pad2(day)} ${pad2(hour)}:${pad2(min)}:${pad2(sec)}${fracText(buf, off + 5, fsp)}`;
}

/**
 * TIMESTAMP2: 4 bytes big-endian seconds since the epoch, then fractional seconds. Rendered in UTC: the
 * binlog holds the instant, not the session's wall time (see docs/decisions.md).
 */
export function timestamp2Text(buf: Buffer, off: number, fsp: number): string {
  const secs = buf.readUInt32BE(off);
  return epochText(secs) + fracText(buf, off + 4, fsp);
}

/** Old-style TIMESTAMP: 4 bytes little-endian seconds since the epoch. */
export function timestampText(buf: Buffer, off: number): string {
  return epochText(buf.readUInt32LE(off));
}

function epochText(secs: number): string {
  if (secs === 0) return '0000-00-00 00:00:00';
  const d = new Date(secs * 1000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(
    d.getUTCMinutes(),
  )}:${pad2(d.getUTCSeconds())}`;
}

/**
 * TIME2: 3 bytes big-endian, offset by 0x800000, bit 23 sign, hours (10 bits), minutes (6), seconds (6);
 * then fractional seconds, which for negative values are stored as a complement and borrow from seconds.
 */
export function time2Text(buf: Buffer, off: number, fsp: number): string {
  // my_time_packed_from_binary: packed = intpart << 24 | µs, the fraction borrowing from the integer part
  // when negative.
  const n = fracBytes(fsp);
  let packed: bigint;
  if (n === 3) {
    packed = BigInt(buf.readUIntBE(off, 6)) - 0x800000000000n;
  } else {
    let intpart = buf.readUIntBE(off, 3) - 0x800000;
    let frac = 0;
    if (n > 0) {
      const raw = buf.readUIntBE(off + 3, n);
      const span = n === 1 ? 0x100 : 0x10000;
      frac = raw;
      if (intpart < 0 && raw !== 0) {
        intpart++;
        frac = raw - span;
      }
      frac *= n === 1 ? 10000 : 100;
    }
    packed = BigInt(intpart) * 16777216n + BigInt(frac);
  }
  const negative = packed < 0n;
  if (negative) packed = -packed;
  const hms = Number(packed >> 24n);
  const us = Number(packed % 16777216n);
  const hour = (hms >> 12) & 0x3ff;
  const min = (hms >> 6) & 0x3f;
  const sec = hms & 0x3f;
  const f = fsp > 0 ? '.' + pad(us, 6).slice(0, fsp) : '';
  return `${negative ? '-' : ''}${pad2(hour)}:${pad2(min)}:${pad2(sec)}${f}`;
}

/** Old-style TIME: 3 bytes little-endian signed HHMMSS. */
export function timeText(buf: Buffer, off: number): string {
  let v = buf.readIntLE(off, 3);
  const neg = v < 0;
  if (neg) v = -v;
  return `${neg ? '-' : ''}${pad2(Math.floor(v / 10000))}:${pad2(Math.floor(v / 100) % 100)}:${pad2(v % 100)}`;
}

/** Old-style DATETIME: 8 bytes little-endian YYYYMMDDHHMMSS. */
export function datetimeText(buf: Buffer, off: number): string {
  const v = buf.readBigUInt64LE(off);
  const s = v.toString().padStart(14, '0');
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)} ${s.slice(8, 10)}:${s.slice(10, 12)}:${s.slice(12, 14)}`;
}

/** YEAR (1 byte, 0 = 0000, else 1900 + n). */
export function yearText(buf: Buffer, off: number): string {
  const v = buf[off];
  return v === 0 ? '0000' : String(1900 + v);
}

/** BIT(n): big-endian bytes → the n-digit binary string (`b'0101'` → `0101`). */
export function bitText(buf: Buffer, off: number, bits: number): string {
  const n = (bits + 7) >> 3;
  let s = '';
  for (let i = 0; i < n; i++) s += buf[off + i].toString(2).padStart(8, '0');
  return s.slice(s.length - bits);
}

/** SET: little-endian bitmap of members → comma-joined member names in definition order. */
export function setText(buf: Buffer, off: number, size: number, members: string[]): string {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[off + i]);
  const out: string[] = [];
  for (let i = 0; i < members.length; i++) if ((v >> BigInt(i)) & 1n) out.push(members[i]);
  return out.join(',');
}

/** ENUM: 1-based index → member name; 0 (an invalid value stored in non-strict mode) is ''. */
export function enumText(index: number, members: string[]): string {
  return index === 0 ? '' : (members[index - 1] ?? '');
}

const utf16be = new TextDecoder('utf-16be', { ignoreBOM: true });
const utf16le = new TextDecoder('utf-16le', { ignoreBOM: true });

/**
 * Bytes of a text column in a Unicode charset → string; null for any other charset (those are decoded
 * with the server's own table: mysql-charsets.ts). ignoreBOM: a leading U+FEFF is column data.
 */
export function unicodeDecoder(charset: string): ((buf: Buffer, start: number, end: number) => string) | null {
  switch (charset) {
    case 'utf8mb4':
    case 'utf8mb3':
    case 'utf8':
      return (b, s, e) => b.toString('utf8', s, e);
    // Stored big-endian in MySQL.
    case 'ucs2':
    case 'utf16':
      return (b, s, e) => utf16be.decode(b.subarray(s, e));
    case 'utf16le':
      return (b, s, e) => utf16le.decode(b.subarray(s, e));
    case 'utf32':
      return (b, s, e) => {
        let out = '';
        for (let i = s; i + 4 <= e; i += 4) {
          const cp = b.readUInt32BE(i);
          out += cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000) ? '?' : String.fromCodePoint(cp);
        }
        return out;
      };
    default:
      return null;
  }
}
