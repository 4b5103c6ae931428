/**
 * The pgoutput decoder against an independent encoder of the protocol (written from the PostgreSQL docs'
 * "Logical Replication Message Formats"): random messages must decode to exactly what was encoded.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PgoutputDecoder, type TupleValues } from '../../src/sources/postgres/postgres-decoder.js';
import { formatLsn, parseLsn, pgTimeToIso, lsnFromBigInt, compareLsn } from '../../src/sources/postgres/postgres-position.js';

class Enc {
  private parts: Buffer[] = [];
  u8(v: number) { const b = Buffer.alloc(1); b.writeUInt8(v); this.parts.push(b); return this; }
  u16(v: number) { const b = Buffer.alloc(2); b.writeUInt16BE(v); this.parts.push(b); return this; }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32BE(v); this.parts.push(b); return this; }
  i32(v: number) { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); return this; }
  i64(v: bigint) { const b = Buffer.alloc(8); b.writeBigInt64BE(v); this.parts.push(b); return this; }
  u64(v: bigint) { const b = Buffer.alloc(8); b.writeBigUInt64BE(v); this.parts.push(b); return this; }
  str(s: string) { this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0])); return this; }
  bytes(b: Buffer) { this.parts.push(b); return this; }
  tuple(vals: TupleValues) {
    this.u16(vals.length);
    for (const v of vals) {
      if (v === null) this.u8(0x6e);
      else if (v === undefined) this.u8(0x75);
      else { const b = Buffer.from(v, 'utf8'); this.u8(0x74).u32(b.length).bytes(b); }
    }
    return this;
  }
  done() { return Buffer.concat(this.parts); }
}

const lsn = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const pgTime = fc.bigInt({ min: -(10n ** 15n), max: 10n ** 16n });
const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\u0000'));
const value = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.string({ unit: 'binary', maxLength: 50 }).filter((s) => !s.includes('\u0000')),
  fc.bigInt().map(String),
);
const tuple = fc.array(value, { maxLength: 12 }) as fc.Arbitrary<TupleValues>;
const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('pgoutput decoder', () => {
  it('decodes BEGIN and COMMIT positions and times exactly', () => {
    fc.assert(
      fc.property(lsn, pgTime, u32, lsn, lsn, (l, t, xid, c, e) => {
        const d = new PgoutputDecoder();
        const b = d.decode(new Enc().u8(0x42).u64(l).i64(t).u32(xid).done());
        expect(b).toEqual({ tag: 'begin', finalLsn: lsnFromBigInt(l), commitTime: pgTimeToIso(t), xid });
        const cm = d.decode(new Enc().u8(0x43).u8(0).u64(c).u64(e).i64(t).done());
        expect(cm).toEqual({ tag: 'commit', flags: 0, commitLsn: lsnFromBigInt(c), endLsn: lsnFromBigInt(e), commitTime: pgTimeToIso(t) });
      }),
    );
  });

  it('decodes relations, inserts, updates and deletes with text, NULL and unchanged-TOAST values', () => {
    fc.assert(
      fc.property(u32, name, name, fc.array(fc.record({ name, key: fc.boolean(), oid: u32, mod: fc.integer({ min: -1, max: 100000 }) }), { maxLength: 8 }), tuple, tuple, (relid, ns, rel, cols, a, b) => {
        const d = new PgoutputDecoder();
        const e = new Enc().u8(0x52).u32(relid).str(ns).str(rel).u8(0x66).u16(cols.length);
        for (const c of cols) e.u8(c.key ? 1 : 0).str(c.name).u32(c.oid).i32(c.mod);
        expect(d.decode(e.done())).toEqual({
          tag: 'relation', xid: undefined, relid, schema: ns, table: rel, replicaIdentity: 'f',
          columns: cols.map((c) => ({ name: c.name, isKey: c.key, typeOid: c.oid, typeMod: c.mod })),
        });
        expect(d.decode(new Enc().u8(0x49).u32(relid).u8(0x4e).tuple(a).done())).toEqual({ tag: 'insert', xid: undefined, relid, new: a });
        expect(d.decode(new Enc().u8(0x55).u32(relid).u8(0x4f).tuple(a).u8(0x4e).tuple(b).done())).toEqual({ tag: 'update', xid: undefined, relid, oldKind: 'O', old: a, new: b });
        expect(d.decode(new Enc().u8(0x55).u32(relid).u8(0x4e).tuple(b).done())).toEqual({ tag: 'update', xid: undefined, relid, oldKind: null, old: null, new: b });
        expect(d.decode(new Enc().u8(0x44).u32(relid).u8(0x4b).tuple(a).done())).toEqual({ tag: 'delete', xid: undefined, relid, oldKind: 'K', old: a });
      }),
    );
  });

  it('reads the xid prefix only inside streamed blocks', () => {
    fc.assert(
      fc.property(u32, u32, u32, tuple, fc.boolean(), lsn, lsn, pgTime, (xid, sub, relid, vals, first, c, e, t) => {
        const d = new PgoutputDecoder();
        expect(d.decode(new Enc().u8(0x53).u32(xid).u8(first ? 1 : 0).done())).toEqual({ tag: 'stream_start', xid, firstSegment: first });
        expect(d.decode(new Enc().u8(0x49).u32(sub).u32(relid).u8(0x4e).tuple(vals).done())).toEqual({ tag: 'insert', xid: sub, relid, new: vals });
        expect(d.decode(new Enc().u8(0x45).done())).toEqual({ tag: 'stream_stop' });
        expect(d.decode(new Enc().u8(0x49).u32(relid).u8(0x4e).tuple(vals).done())).toEqual({ tag: 'insert', xid: undefined, relid, new: vals });
        expect(d.decode(new Enc().u8(0x63).u32(xid).u8(0).u64(c).u64(e).i64(t).done())).toEqual({
          tag: 'stream_commit', xid, flags: 0, commitLsn: lsnFromBigInt(c), endLsn: lsnFromBigInt(e), commitTime: pgTimeToIso(t),
        });
        expect(d.decode(new Enc().u8(0x41).u32(xid).u32(sub).done())).toEqual({ tag: 'stream_abort', xid, subxid: sub });
      }),
    );
  });

  it('decodes TRUNCATE flags and logical messages', () => {
    fc.assert(
      fc.property(fc.array(u32, { maxLength: 5 }), fc.integer({ min: 0, max: 3 }), name, fc.uint8Array({ maxLength: 64 }), lsn, (relids, opts, prefix, content, l) => {
        const d = new PgoutputDecoder();
        const t = new Enc().u8(0x54).u32(relids.length).u8(opts);
        for (const r of relids) t.u32(r);
        expect(d.decode(t.done())).toEqual({ tag: 'truncate', xid: undefined, cascade: (opts & 1) === 1, restartIdentity: (opts & 2) === 2, relids });
        const m = d.decode(new Enc().u8(0x4d).u8(1).u64(l).str(prefix).u32(content.length).bytes(Buffer.from(content)).done());
        expect(m).toEqual({ tag: 'message', xid: undefined, transactional: true, lsn: lsnFromBigInt(l), prefix, content: Buffer.from(content) });
      }),
    );
  });

  it('rejects truncated and unknown messages with a DECODE error, never a wrong value', () => {
    fc.assert(
      fc.property(u32, tuple, fc.nat(), (relid, vals, cut) => {
        const full = new Enc().u8(0x49).u32(relid).u8(0x4e).tuple(vals).done();
        const n = cut % full.length;
        if (n === full.length) return;
        const d = new PgoutputDecoder();
        expect(() => d.decode(full.subarray(0, n))).toThrow(/pgoutput/);
      }),
    );
    expect(() => new PgoutputDecoder().decode(Buffer.from([0x21]))).toThrow(/unknown pgoutput message type/);
  });

  it('prints LSNs as PostgreSQL does and orders them numerically', () => {
    expect(formatLsn(0, 0x16b6c50)).toBe('0/16B6C50');
    fc.assert(fc.property(lsn, lsn, (a, b) => {
      expect(parseLsn(lsnFromBigInt(a))).toBe(a);
      expect(Math.sign(compareLsn(lsnFromBigInt(a), lsnFromBigInt(b)))).toBe(a < b ? -1 : a > b ? 1 : 0);
    }));
  });

  it('turns PostgreSQL microsecond timestamps into ISO-8601 with all six digits', () => {
    expect(pgTimeToIso(0n)).toBe('2000-01-01T00:00:00.000000Z');
    expect(pgTimeToIso(-1n)).toBe('1999-12-31T23:59:59.999999Z');
    expect(pgTimeToIso(848_052_000_123_456n)).toBe('2026-11-15T10:00:00.123456Z');
    fc.assert(fc.property(pgTime, (t) => {
      const iso = pgTimeToIso(t);
      const ms = Date.parse(iso);
      expect(BigInt(ms) * 1000n + BigInt(Number(iso.slice(23, 26)))).toBe(t + 946_684_800_000_000n);
    }));
  });
});
