/**
 * Property tests for the pure binlog value decoders: each value is encoded here the way the server writes
 * it (an independent encoder written from the server's storage formats) and must decode to the server's
 * canonical text.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bitText,
  datetime2Text,
  decimalText,
  intText,
  setText,
  unicodeDecoder,
  time2Text,
  timestamp2Text,
  floatText,
} from '../../src/sources/mysql/mysql-values.js';
import { jsonBinaryText } from '../../src/sources/mysql/mysql-json.js';
import { statementChange } from '../../src/sources/mysql/index.js';
import { binlogDistance, mariadbPurged, positionKind } from '../../src/sources/mysql/mysql-position.js';

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/** strings/decimal.c decimal2bin, from a canonical text. */
function encodeDecimal(text: string, precision: number, scale: number): Buffer {
  const neg = text.startsWith('-');
  const [ip, fp = ''] = text.replace('-', '').split('.');
  const intg = precision - scale;
  const intDigits = ip.padStart(intg, '0');
  const fracDigits = fp.padEnd(scale, '0');
  const bytes: number[] = [];
  const put = (digits: string, n: number) => {
    let v = Number(digits || '0');
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      out.unshift(v & 0xff);
      v = Math.floor(v / 256);
    }
    bytes.push(...out);
  };
  const lead = intg % 9;
  if (lead) put(intDigits.slice(0, lead), DIG2BYTES[lead]);
  for (let i = lead; i < intg; i += 9) put(intDigits.slice(i, i + 9), 4);
  for (let i = 0; i + 9 <= scale; i += 9) put(fracDigits.slice(i, i + 9), 4);
  const tail = scale % 9;
  if (tail) put(fracDigits.slice(scale - tail), DIG2BYTES[tail]);
  const b = Buffer.from(bytes);
  b[0] ^= 0x80;
  if (neg) for (let i = 0; i < b.length; i++) b[i] ^= 0xff;
  return b;
}

const decimalArb = fc
  .integer({ min: 1, max: 65 })
  .chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 0, max: Math.min(30, p) })))
  .chain(([p, s]) =>
    fc.tuple(
      fc.constant(p),
      fc.constant(s),
      fc.boolean(),
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: p - s, maxLength: p - s }),
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: s, maxLength: s }),
    ),
  )
  .map(([p, s, neg, ip, fp]) => {
    const i = ip.replace(/^0+/, '') || '0';
    const zero = !/[1-9]/.test(i + fp);
    return { p, s, text: (neg && !zero ? '-' : '') + i + (s ? '.' + fp : '') };
  });

const pad = (n: number | bigint, w: number) => String(n).padStart(w, '0');

describe('binlog value decoders (properties)', () => {
  it('DECIMAL decodes exactly, any precision and scale', () => {
    fc.assert(
      fc.property(decimalArb, ({ p, s, text }) => {
        expect(decimalText(encodeDecimal(text, p, s), 0, p, s)).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('BIGINT signed and unsigned decode as exact decimal text', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (s, u) => {
        const b = Buffer.alloc(16);
        b.writeBigInt64LE(s, 0);
        b.writeBigUInt64LE(u, 8);
        expect(intText(b, 0, 8, false)).toBe(s.toString());
        expect(intText(b, 8, 8, true)).toBe(u.toString());
      }),
    );
  });

  const fspArb = fc.integer({ min: 0, max: 6 });
  const fracFor = (us: number, fsp: number) => Math.floor(us / 10 ** (6 - fsp)) * 10 ** (6 - fsp);
  function fracBytes(us: number, fsp: number): Buffer {
    const n = (fsp + 1) >> 1;
    const v = Math.floor(us / 10 ** (6 - n * 2));
    const b = Buffer.alloc(n);
    if (n) b.writeUIntBE(v, 0, n);
    return b;
  }
  const fracStr = (us: number, fsp: number) => (fsp ? '.' + pad(us, 6).slice(0, fsp) : '');

  it('DATETIME(fsp) decodes its packed fields without any time zone', () => {
    fc.assert(
      fc.property(
        fc.record({ y: fc.integer({ min: 0, max: 9999 }), mo: fc.integer({ min: 0, max: 12 }), d: fc.integer({ min: 0, max: 31 }), h: fc.integer({ min: 0, max: 23 }), mi: fc.integer({ min: 0, max: 59 }), s: fc.integer({ min: 0, max: 59 }), us: fc.integer({ min: 0, max: 999999 }) }),
        fspArb,
        (t, fsp) => {
          const us = fracFor(t.us, fsp);
          const ym = t.y * 13 + t.mo;
          const v = ((((BigInt(ym) << 5n) | BigInt(t.d)) << 17n) | BigInt((t.h << 12) | (t.mi << 6) | t.s)) + 0x8000000000n;
          const head = Buffer.alloc(5);
          head.writeUIntBE(Number(v), 0, 5);
          const buf = Buffer.concat([head, fracBytes(us, fsp)]);
          const want = `${pad(t.y, 4)}-${pad(t.mo, 2)}-${pad(t.d, 2)} ${pad(t.h, 2)}:${pad(t.mi, 2)}:${pad(t.s, 2)}${fracStr(us, fsp)}`;
          expect(datetime2Text(buf, 0, fsp)).toBe(want);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('TIME(fsp) decodes negative values and fractions like the server (my_time_packed_to_binary)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 0, max: 838 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 999999 }), fspArb, (neg, h, m, s, us0, fsp) => {
        const us = fracFor(us0, fsp);
        let nr = (BigInt((h << 12) | (m << 6) | s) << 24n) + BigInt(us);
        const isNeg = neg && nr !== 0n;
        if (isNeg) nr = -nr;
        const n = (fsp + 1) >> 1;
        let buf: Buffer;
        if (n === 3) {
          buf = Buffer.alloc(6);
          buf.writeUIntBE(Number(nr + 0x800000000000n), 0, 6);
        } else {
          const intpart = nr >> 24n; // arithmetic shift (floor), as in C
          const frac = nr % 16777216n; // truncating remainder, as in C
          buf = Buffer.alloc(3 + n);
          buf.writeUIntBE(Number(intpart + 0x800000n), 0, 3);
          if (n === 1) buf.writeInt8(Number(frac / 10000n), 3);
          if (n === 2) buf.writeInt16BE(Number(frac / 100n), 3);
        }
        const want = `${isNeg ? '-' : ''}${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${fracStr(us, fsp)}`;
        expect(time2Text(buf, 0, fsp)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });

  it('TIMESTAMP(fsp) is the UTC instant, whatever the process time zone', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 999999 }), fspArb, (secs, us0, fsp) => {
        const us = fracFor(us0, fsp);
        const head = Buffer.alloc(4);
        head.writeUInt32BE(secs);
        const iso = new Date(secs * 1000).toISOString();
        const want = `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fracStr(us, fsp)}`;
        expect(timestamp2Text(Buffer.concat([head, fracBytes(us, fsp)]), 0, fsp)).toBe(want);
      }),
    );
  });

  it('BIT(n) and SET decode from their bitmaps', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }).chain((n) => fc.tuple(fc.constant(n), fc.bigInt({ min: 0n, max: 2n ** BigInt(n) - 1n }))), ([n, v]) => {
        const bytes = (n + 7) >> 3;
        const b = Buffer.alloc(bytes);
        for (let i = 0; i < bytes; i++) b[bytes - 1 - i] = Number((v >> BigInt(8 * i)) & 0xffn);
        expect(bitText(b, 0, n)).toBe(v.toString(2).padStart(n, '0'));
        const members = Array.from({ length: n }, (_, i) => `m${i}`);
        const le = Buffer.from(b).reverse();
        expect(setText(le, 0, bytes, members)).toBe(members.filter((_, i) => (v >> BigInt(i)) & 1n).join(','));
      }),
    );
  });

  it('FLOAT text reads back to the same single-precision value', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (f) => {
        const b = Buffer.alloc(4);
        b.writeFloatLE(f);
        const stored = b.readFloatLE(0);
        expect(Math.fround(Number(floatText(b, 0)))).toBe(stored);
      }),
    );
  });

  it('utf8mb4 decodes as UTF-8 (other charsets: charsets.test.ts, against the server)', () => {
    const utf8 = unicodeDecoder('utf8mb4')!;
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (t) => {
        const b = Buffer.from(t, 'utf8');
        expect(utf8(b, 0, b.length)).toBe(t);
      }),
    );
  });
});

/** A small MySQL binary-JSON encoder (json_binary.cc layout) for the decoder's round trip. */
type J = null | boolean | bigint | string | J[] | { [k: string]: J };
function encodeJson(v: J): Buffer {
  const [t, body] = encValue(v);
  return Buffer.concat([Buffer.from([t]), body]);
}
function varlen(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}
function encValue(v: J): [number, Buffer] {
  if (v === null) return [0x04, Buffer.from([0])];
  if (v === true) return [0x04, Buffer.from([1])];
  if (v === false) return [0x04, Buffer.from([2])];
  if (typeof v === 'bigint') {
    const b = Buffer.alloc(8);
    if (v > 2n ** 63n - 1n) {
      b.writeBigUInt64LE(v);
      return [0x0a, b];
    }
    b.writeBigInt64LE(v);
    return [0x09, b];
  }
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    return [0x0c, Buffer.concat([varlen(s.length), s])];
  }
  // Large containers (4-byte offsets) keep the encoder simple.
  const isObj = !Array.isArray(v);
  const keys = isObj ? Object.keys(v).sort() : [];
  const vals = isObj ? keys.map((k) => (v as Record<string, J>)[k]) : (v as J[]);
  const n = vals.length;
  const headerLen = 8 + (isObj ? n * 6 : 0) + n * 5;
  const keyBufs = keys.map((k) => Buffer.from(k, 'utf8'));
  let off = headerLen + keyBufs.reduce((a, b) => a + b.length, 0);
  const head = Buffer.alloc(headerLen);
  head.writeUInt32LE(n, 0);
  let p = 8;
  let ko = headerLen;
  for (const kb of keyBufs) {
    head.writeUInt32LE(ko, p);
    head.writeUInt16LE(kb.length, p + 4);
    ko += kb.length;
    p += 6;
  }
  const bodies: Buffer[] = [];
  for (const x of vals) {
    const [t, b] = encValue(x);
    head[p] = t;
    if (t === 0x04) head.writeUInt32LE(b[0], p + 1);
    else {
      head.writeUInt32LE(off, p + 1);
      bodies.push(b);
      off += b.length;
    }
    p += 5;
  }
  const all = Buffer.concat([head, ...keyBufs, ...bodies]);
  all.writeUInt32LE(all.length, 4);
  return [isObj ? 0x01 : 0x03, all];
}
function mysqlText(v: J): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return JSON.stringify(v).replace(/\\u007f/g, '\u007f');
  if (Array.isArray(v)) return `[${v.map(mysqlText).join(', ')}]`;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}: ${mysqlText(v[k])}`)
    .join(', ')}}`;
}

describe('MySQL binary JSON', () => {
  it('decodes documents to MySQL text, keeping 64-bit integers exact', () => {
    const leaf = fc.oneof(fc.constant(null), fc.boolean(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), fc.string());
    const doc = fc.letrec<{ j: J }>((tie) => ({
      j: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('j'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('j'), { maxKeys: 4 })),
    })).j;
    fc.assert(
      fc.property(doc, (v) => {
        expect(jsonBinaryText(encodeJson(v))).toBe(mysqlText(v));
      }),
      { numRuns: 500 },
    );
  });
});

describe('positions and DDL parsing', () => {
  it('tells position kinds apart and detects a purged MariaDB position', () => {
    expect(positionKind('0-1-5,1-2-7')).toBe('mariadb-gtid');
    expect(positionKind('')).toBe('mariadb-gtid');
    expect(positionKind('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77')).toBe('mysql-gtid');
    expect(positionKind('binlog.000003:1542')).toBe('file');
    expect(mariadbPurged('0-1-4', '0-1-5')).toBe(true);
    expect(mariadbPurged('0-1-5', '0-1-5')).toBe(false);
    expect(mariadbPurged('0-1-9', '0-1-5')).toBe(false);
    expect(mariadbPurged('0-1-9', '0-1-5,1-1-3')).toBe(true);
  });

  it('measures binlog bytes between two positions across rotated files (the lag)', () => {
    const sizes = new Map([
      ['binlog.000001', 1000],
      ['binlog.000002', 500],
      ['binlog.000003', 300],
    ]);
    const at = (file: string, pos: number) => ({ file, pos });
    expect(binlogDistance(at('binlog.000003', 120), at('binlog.000003', 300), sizes)).toBe(180);
    expect(binlogDistance(at('binlog.000003', 300), at('binlog.000003', 300), sizes)).toBe(0);
    expect(binlogDistance(at('binlog.000003', 310), at('binlog.000003', 300), sizes)).toBe(0);
    expect(binlogDistance(at('binlog.000001', 900), at('binlog.000003', 50), sizes)).toBe(100 + 500 + 50);
    expect(binlogDistance(at('binlog.000000', 900), at('binlog.000003', 50), sizes)).toBe(null);
  });

  it('names the table a DDL statement targets', () => {
    expect(statementChange('test', 'ALTER TABLE evolve ADD c INT')).toMatchObject({ op: 'ddl', schema: 'test', table: 'evolve' });
    expect(statementChange('test', 'DROP TABLE IF EXISTS `other`.`we``ird` /* generated by server */')).toMatchObject({ schema: 'other', table: 'we`ird' });
    expect(statementChange('test', 'TRUNCATE t1')).toMatchObject({ op: 'truncate', table: 't1', truncate: { cascade: false, restartIdentity: true } });
    expect(statementChange('test', 'CREATE OR REPLACE TABLE x (id int)')).toMatchObject({ table: 'x' });
    expect(statementChange('test', 'CREATE DATABASE foo')).toMatchObject({ op: 'ddl', schema: 'test', table: '' });
  });
});
