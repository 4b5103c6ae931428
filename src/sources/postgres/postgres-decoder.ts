/**
 * pgoutput decoder (protocol versions 1–4), pure: bytes in, typed messages out. Values stay in
 * PostgreSQL's text output form (the publication is read without `binary`), so int8, numeric, µs
 * timestamps and jsonb survive exactly; nothing goes through pg-types.
 *
 * Reference: PostgreSQL docs, "Logical Replication Message Formats".
 */
import { RowtrailError } from '../../errors.js';
import { formatLsn, pgTimeToIso } from './postgres-position.js';

/** Unchanged TOASTed value: pgoutput does not resend it ('u'). */
export const UNCHANGED = undefined;

/** A tuple's column values: text, null (SQL NULL) or undefined (unchanged TOAST, value not sent). */
export type TupleValues = (string | null | undefined)[];

export interface RelationColumn {
  name: string;
  /** Part of the replica identity (all columns under REPLICA IDENTITY FULL). */
  isKey: boolean;
  typeOid: number;
  typeMod: number;
}

export interface RelationMessage {
  tag: 'relation';
  xid?: number;
  relid: number;
  schema: string;
  table: string;
  /** `d` default, `n` nothing, `f` full, `i` index. */
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  columns: RelationColumn[];
}

export type PgMessage =
  | { tag: 'begin'; finalLsn: string; commitTime: string; xid: number }
  | { tag: 'commit'; flags: number; commitLsn: string; endLsn: string; commitTime: string }
  | { tag: 'origin'; lsn: string; name: string }
  | RelationMessage
  | { tag: 'type'; xid?: number; oid: number; schema: string; name: string }
  | { tag: 'insert'; xid?: number; relid: number; new: TupleValues }
  | { tag: 'update'; xid?: number; relid: number; oldKind: 'K' | 'O' | null; old: TupleValues | null; new: TupleValues }
  | { tag: 'delete'; xid?: number; relid: number; oldKind: 'K' | 'O'; old: TupleValues }
  | { tag: 'truncate'; xid?: number; cascade: boolean; restartIdentity: boolean; relids: number[] }
  | { tag: 'message'; xid?: number; transactional: boolean; lsn: string; prefix: string; content: Buffer }
  | { tag: 'stream_start'; xid: number; firstSegment: boolean }
  | { tag: 'stream_stop' }
  | { tag: 'stream_commit'; xid: number; flags: number; commitLsn: string; endLsn: string; commitTime: string }
  | { tag: 'stream_abort'; xid: number; subxid: number };

/** Reads one pgoutput message. Stateful only in whether it is inside a streamed block (xid prefix). */
export class PgoutputDecoder {
  private inStream = false;

  decode(buf: Buffer): PgMessage {
    const r = new Reader(buf);
    const type = r.u8();
    switch (type) {
      case 0x42 /* B */:
        return { tag: 'begin', finalLsn: r.lsn(), commitTime: r.time(), xid: r.u32() };
      case 0x43 /* C */:
        return { tag: 'commit', flags: r.u8(), commitLsn: r.lsn(), endLsn: r.lsn(), commitTime: r.time() };
      case 0x4f /* O */:
        return { tag: 'origin', lsn: r.lsn(), name: r.cstring() };
      case 0x52 /* R */: {
        const xid = this.streamXid(r);
        const relid = r.u32();
        const schema = r.cstring();
        const table = r.cstring();
        const ri = String.fromCharCode(r.u8()) as RelationMessage['replicaIdentity'];
        const n = r.u16();
        const columns: RelationColumn[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const flags = r.u8();
          const name = r.cstring();
          columns[i] = { name, isKey: (flags & 1) === 1, typeOid: r.u32(), typeMod: r.i32() };
        }
        return { tag: 'relation', xid, relid, schema, table, replicaIdentity: ri, columns };
      }
      case 0x59 /* Y */: {
        const xid = this.streamXid(r);
        return { tag: 'type', xid, oid: r.u32(), schema: r.cstring(), name: r.cstring() };
      }
      case 0x49 /* I */: {
        const xid = this.streamXid(r);
        const relid = r.u32();
        r.expect(0x4e, 'N');
        return { tag: 'insert', xid, relid, new: r.tuple() };
      }
      case 0x55 /* U */: {
        const xid = this.streamXid(r);
        const relid = r.u32();
        let kind = r.u8();
        let oldKind: 'K' | 'O' | null = null;
        let old: TupleValues | null = null;
        if (kind === 0x4b || kind === 0x4f) {
          oldKind = kind === 0x4b ? 'K' : 'O';
          old = r.tuple();
          kind = r.u8();
        }
        if (kind !== 0x4e) throw r.error(`update: expected 'N', got 0x${kind.toString(16)}`);
        return { tag: 'update', xid, relid, oldKind, old, new: r.tuple() };
      }
      case 0x44 /* D */: {
        const xid = this.streamXid(r);
        const relid = r.u32();
        const kind = r.u8();
        if (kind !== 0x4b && kind !== 0x4f) throw r.error(`delete: expected 'K' or 'O', got 0x${kind.toString(16)}`);
        return { tag: 'delete', xid, relid, oldKind: kind === 0x4b ? 'K' : 'O', old: r.tuple() };
      }
      case 0x54 /* T */: {
        const xid = this.streamXid(r);
        const n = r.u32();
        const options = r.u8();
        const relids: number[] = new Array(n);
        for (let i = 0; i < n; i++) relids[i] = r.u32();
        return { tag: 'truncate', xid, cascade: (options & 1) === 1, restartIdentity: (options & 2) === 2, relids };
      }
      case 0x4d /* M */: {
        const xid = this.streamXid(r);
        const flags = r.u8();
        const lsn = r.lsn();
        const prefix = r.cstring();
        const len = r.u32();
        return { tag: 'message', xid, transactional: (flags & 1) === 1, lsn, prefix, content: r.bytes(len) };
      }
      case 0x53 /* S */: {
        const xid = r.u32();
        const firstSegment = r.u8() === 1;
        this.inStream = true;
        return { tag: 'stream_start', xid, firstSegment };
      }
      case 0x45 /* E */:
        this.inStream = false;
        return { tag: 'stream_stop' };
      case 0x63 /* c */:
        return { tag: 'stream_commit', xid: r.u32(), flags: r.u8(), commitLsn: r.lsn(), endLsn: r.lsn(), commitTime: r.time() };
      case 0x41 /* A */:
        // v4 (parallel streaming) appends abort lsn and time; we read what we use.
        return { tag: 'stream_abort', xid: r.u32(), subxid: r.u32() };
      default:
        throw r.error(`unknown pgoutput message type 0x${type.toString(16)} ('${String.fromCharCode(type)}')`);
    }
  }

  private streamXid(r: Reader): number | undefined {
    return this.inStream ? r.u32() : undefined;
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  error(msg: string): RowtrailError {
    return new RowtrailError('DECODE', `pgoutput: ${msg} at byte ${this.pos} of ${this.buf.length}`);
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw this.error(`message truncated (need ${n} more bytes)`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  expect(byte: number, what: string): void {
    const b = this.u8();
    if (b !== byte) throw this.error(`expected '${what}', got 0x${b.toString(16)}`);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  lsn(): string {
    this.need(8);
    const s = formatLsn(this.buf.readUInt32BE(this.pos), this.buf.readUInt32BE(this.pos + 4));
    this.pos += 8;
    return s;
  }
  time(): string {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return pgTimeToIso(v);
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw this.error('unterminated string');
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  tuple(): TupleValues {
    const n = this.u16();
    const out: TupleValues = new Array(n);
    const buf = this.buf;
    for (let i = 0; i < n; i++) {
      this.need(1);
      const kind = buf[this.pos++];
      if (kind === 0x74 /* t */) {
        this.need(4);
        const len = buf.readUInt32BE(this.pos);
        this.pos += 4;
        this.need(len);
        out[i] = buf.toString('utf8', this.pos, this.pos + len);
        this.pos += len;
      } else if (kind === 0x6e /* n */) {
        out[i] = null;
      } else if (kind === 0x75 /* u */) {
        out[i] = UNCHANGED;
      } else if (kind === 0x62 /* b */) {
        throw this.error('binary tuple data received; rowtrail reads text form only (do not set binary=true)');
      } else {
        throw this.error(`unknown tuple column kind 0x${kind.toString(16)}`);
      }
    }
    return out;
  }
}
