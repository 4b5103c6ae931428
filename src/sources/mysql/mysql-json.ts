/**
 * MySQL's binary JSON (sql-common/json_binary.cc) → the text `CAST(col AS CHAR)` prints, without losing
 * big numbers: 64-bit integers go through BigInt, DECIMAL opaque values through the exact decimal decoder.
 * MariaDB stores JSON as LONGTEXT and never reaches this code.
 */
import { decimalText } from './mysql-values.js';

const SMALL_OBJECT = 0x00;
const LARGE_OBJECT = 0x01;
const SMALL_ARRAY = 0x02;
const LARGE_ARRAY = 0x03;
const LITERAL = 0x04;
const INT16 = 0x05;
const UINT16 = 0x06;
const INT32 = 0x07;
const UINT32 = 0x08;
const INT64 = 0x09;
const UINT64 = 0x0a;
const DOUBLE = 0x0b;
const STRING = 0x0c;
const OPAQUE = 0x0f;

/** Whole JSON document (as stored in a row image) → MySQL's JSON text. An empty value is JSON null. */
export function jsonBinaryText(buf: Buffer): string {
  if (buf.length === 0) return 'null';
  return value(buf, buf[0], 1, buf.length);
}

function varlen(buf: Buffer, off: number): [number, number] {
  let len = 0;
  for (let i = 0; i < 5; i++) {
    const b = buf[off + i];
    len += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [len, off + i + 1];
  }
  throw new Error('JSON: bad variable-length integer');
}

function value(buf: Buffer, type: number, off: number, end: number): string {
  switch (type) {
    case SMALL_OBJECT:
    case LARGE_OBJECT:
      return container(buf, off, type === LARGE_OBJECT, true);
    case SMALL_ARRAY:
    case LARGE_ARRAY:
      return container(buf, off, type === LARGE_ARRAY, false);
    case LITERAL:
      return buf[off] === 0 ? 'null' : buf[off] === 1 ? 'true' : 'false';
    case INT16:
      return String(buf.readInt16LE(off));
    case UINT16:
      return String(buf.readUInt16LE(off));
    case INT32:
      return String(buf.readInt32LE(off));
    case UINT32:
      return String(buf.readUInt32LE(off));
    case INT64:
      return buf.readBigInt64LE(off).toString();
    case UINT64:
      return buf.readBigUInt64LE(off).toString();
    case DOUBLE:
      return jsonDouble(buf.readDoubleLE(off));
    case STRING: {
      const [len, p] = varlen(buf, off);
      return quote(buf.toString('utf8', p, p + len));
    }
    case OPAQUE: {
      const fieldType = buf[off];
      const [len, p] = varlen(buf, off + 1);
      return opaque(fieldType, buf.subarray(p, p + len));
    }
    default:
      throw new Error(`JSON: unknown value type 0x${type.toString(16)} (document end ${end})`);
  }
}

function container(buf: Buffer, base: number, large: boolean, isObject: boolean): string {
  const w = large ? 4 : 2;
  const rd = (o: number) => (large ? buf.readUInt32LE(o) : buf.readUInt16LE(o));
  const count = rd(base);
  const size = rd(base + w);
  let p = base + 2 * w;
  const keys: string[] = [];
  if (isObject) {
    for (let i = 0; i < count; i++) {
      const ko = rd(p);
      const kl = buf.readUInt16LE(p + w);
      keys.push(buf.toString('utf8', base + ko, base + ko + kl));
      p += w + 2;
    }
  }
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = buf[p];
    let v: string;
    // Literals and small integers (and 32-bit integers in large containers) are stored inline.
    const inline = t === LITERAL || t === INT16 || t === UINT16 || (large && (t === INT32 || t === UINT32));
    if (inline) v = value(buf, t, p + 1, base + size);
    else {
      const vo = rd(p + 1);
      v = value(buf, t, base + vo, base + size);
    }
    p += 1 + w;
    parts.push(isObject ? `${quote(keys[i])}: ${v}` : v);
  }
  return isObject ? `{${parts.join(', ')}}` : `[${parts.join(', ')}]`;
}

/** MySQL prints JSON doubles with a fraction or exponent: 1 → `1.0`, 1e20 → `1e20`. */
export function jsonDouble(d: number): string {
  let s = String(d).replace('e+', 'e');
  if (!/[.eE]/.test(s) && Number.isFinite(d)) s += '.0';
  return s;
}

/** JSON string quoting as MySQL does it: `"`, `\`, and control characters escaped; the rest raw. */
export function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20) out += s[i];
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else out += '\\u' + c.toString(16).padStart(4, '0');
  }
  return out + '"';
}

function opaque(fieldType: number, data: Buffer): string {
  const two = (n: number) => String(n).padStart(2, '0');
  switch (fieldType) {
    case 246: {
      // NEWDECIMAL: precision, scale, binary decimal.
      return decimalText(data, 2, data[0], data[1]);
    }
    case 10: // DATE
    case 12: // DATETIME
    case 7: // TIMESTAMP
    case 11: {
      // TIME: packed longlong (my_time_packed)
      let packed = data.readBigInt64LE(0);
      const neg = packed < 0n;
      if (neg) packed = -packed;
      const us = Number(packed % 16777216n);
      const intpart = packed >> 24n;
      const frac = '.' + String(us).padStart(6, '0');
      if (fieldType === 11) {
        const hms = Number(intpart);
        return quote(`${neg ? '-' : ''}${two((hms >> 12) % 1024)}:${two((hms >> 6) % 64)}:${two(hms % 64)}${frac}`);
      }
      const ymd = Number(intpart >> 17n);
      const hms = Number(intpart % 131072n);
      const ym = ymd >> 5;
      const date = `${String(Math.floor(ym / 13)).padStart(4, '0')}-${two(ym % 13)}-${two(ymd % 32)}`;
      if (fieldType === 10) return quote(date);
      return quote(`${date} ${two(hms >> 12)}:${two((hms >> 6) % 64)}:${two(hms % 64)}${frac}`);
    }
    default:
      return quote(`base64:type${fieldType}:${data.toString('base64')}`);
  }
}
