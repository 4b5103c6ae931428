/**
 * The binlog's building blocks below an event: length-encoded integers, MariaDB's compressed payloads, and
 * the TABLE_MAP column metadata (per-type metadata and the optional metadata of binlog_row_metadata=FULL).
 */
import { inflateSync } from 'node:zlib';
import { T } from './mysql-values.js';

/** Why an event cannot be decoded; the stream stops with this reason and the position. */
export class DecodeError extends Error {
  /** True when the cause is a server setting (the fix is a setting, not a bug report). */
  readonly setting: boolean;
  constructor(message: string, setting = false) {
    super(message);
    this.name = 'DecodeError';
    this.setting = setting;
  }
}

/** A read position in a buffer, advanced by the readers. */
export interface Cursor {
  off: number;
}

/** MariaDB compressed event payload (log_bin_compress): header, big-endian original length, zlib. */
export function uncompress(b: Buffer): Buffer {
  const h = b[0];
  const algorithm = (h & 0x70) >> 4;
  const lenBytes = h & 0x07;
  if ((h & 0x80) === 0 || algorithm !== 0 || lenBytes < 1 || lenBytes > 4) {
    throw new DecodeError(`compressed binlog event with an unknown header 0x${h.toString(16)}`);
  }
  const len = b.readUIntBE(1, lenBytes);
  const out = inflateSync(b.subarray(1 + lenBytes));
  if (out.length !== len) throw new DecodeError(`compressed binlog event inflated to ${out.length} bytes, expected ${len}`);
  return out;
}

export function lenenc(buf: Buffer, c: Cursor): number {
  const f = buf[c.off++];
  if (f < 251) return f;
  if (f === 252) {
    c.off += 2;
    return buf.readUInt16LE(c.off - 2);
  }
  if (f === 253) {
    c.off += 3;
    return buf.readUIntLE(c.off - 3, 3);
  }
  if (f === 254) {
    c.off += 8;
    return Number(buf.readBigUInt64LE(c.off - 8));
  }
  throw new DecodeError('bad length-encoded integer');
}

export function readMeta(buf: Buffer, c: Cursor, type: number): number[] {
  switch (type) {
    case T.FLOAT:
    case T.DOUBLE:
    case T.BLOB:
    case T.BLOB_COMPRESSED:
    case T.JSON:
    case T.GEOMETRY:
    case T.TIME2:
    case T.DATETIME2:
    case T.TIMESTAMP2:
      return [buf[c.off++]];
    case T.VARCHAR:
    case T.VAR_STRING:
    case T.VARCHAR_COMPRESSED: {
      const v = buf.readUInt16LE(c.off);
      c.off += 2;
      return [v];
    }
    case T.BIT:
    case T.NEWDECIMAL:
    case T.ENUM:
    case T.SET: {
      const v = [buf[c.off], buf[c.off + 1]];
      c.off += 2;
      return v;
    }
    case T.STRING: {
      // Real type and length packed into 2 bytes (sql/field.cc Field_string::do_save_field_metadata).
      const b0 = buf[c.off];
      const b1 = buf[c.off + 1];
      c.off += 2;
      if ((b0 & 0x30) !== 0x30) return [b0 | 0x30, b1 | (((b0 & 0x30) ^ 0x30) << 4)];
      return [b0, b1];
    }
    default:
      return [];
  }
}

export interface OptionalMetadata {
  names: string[] | null;
  unsigned: boolean[];
  /** Collation id per column (character, ENUM and SET columns). */
  charset: (number | undefined)[];
  enums: Map<number, string[]>;
  sets: Map<number, string[]>;
  geometry: Map<number, number>;
  pk: number[];
}

/**
 * The optional metadata of TABLE_MAP (binlog_row_metadata): TLV fields. Columns are counted per class:
 * numeric (signedness), character (charsets), ENUM/SET, geometry.
 */
export function readOptionalMetadata(buf: Buffer, c: Cursor, stop: number, rawTypes: number[], meta: number[][], mariadb = false): OptionalMetadata {
  const n = rawTypes.length;
  // Resolve STRING to its real type, and fix the meta of resolved types so column() sees one shape.
  for (let i = 0; i < n; i++) {
    if (rawTypes[i] === T.STRING) {
      const real = meta[i][0];
      if (real === T.ENUM || real === T.SET) rawTypes[i] = real;
    }
  }
  const numeric: number[] = [];
  const character: number[] = [];
  const enumCols: number[] = [];
  const setCols: number[] = [];
  const geoCols: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = rawTypes[i];
    if (
      t === T.TINY || t === T.SHORT || t === T.INT24 || t === T.LONG || t === T.LONGLONG ||
      t === T.NEWDECIMAL || t === T.FLOAT || t === T.DOUBLE || t === T.DECIMAL
    )
      numeric.push(i);
    // Why: MariaDB's Field_year is a Field_tiny and reports a signedness, so the signedness bitmap has a bit
    // for every YEAR column; MySQL's has none. Skipping it gave the next numeric column the YEAR's "unsigned"
    // (a BIGINT -1 read as 18446744073709551615).
    else if (mariadb && t === T.YEAR) numeric.push(i);
    else if (t === T.STRING || t === T.VARCHAR || t === T.VAR_STRING || t === T.BLOB || t === T.VARCHAR_COMPRESSED || t === T.BLOB_COMPRESSED)
      character.push(i);
    else if (t === T.ENUM) enumCols.push(i);
    else if (t === T.SET) setCols.push(i);
    else if (t === T.GEOMETRY) {
      geoCols.push(i);
      // Why: MariaDB's Field_geom reports a charset (binary) in its binlog type info, so MariaDB lists GEOMETRY
      // columns among the character columns of the charset metadata; MySQL does not. Skipping it shifted every
      // later column's charset by one (a BLOB decoded as latin1 text, a latin1 VARCHAR as hex).
      if (mariadb) character.push(i);
    }
  }
  const out: OptionalMetadata = { names: null, unsigned: [], charset: new Array(n), enums: new Map(), sets: new Map(), geometry: new Map(), pk: [] };
  const strList = (end: number): string[] => {
    const v: string[] = [];
    while (c.off < end) {
      const l = lenenc(buf, c);
      v.push(buf.toString('utf8', c.off, c.off + l));
      c.off += l;
    }
    return v;
  };
  const applyCharsets = (cols: number[], end: number, isDefault: boolean) => {
    if (isDefault) {
      const def = lenenc(buf, c);
      for (const i of cols) out.charset[i] = def;
      while (c.off < end) {
        const idx = lenenc(buf, c);
        const coll = lenenc(buf, c);
        if (cols[idx] !== undefined) out.charset[cols[idx]] = coll;
      }
    } else {
      let k = 0;
      while (c.off < end) {
        const coll = lenenc(buf, c);
        if (cols[k] !== undefined) out.charset[cols[k]] = coll;
        k++;
      }
    }
  };
  const typeValues = (cols: number[], target: Map<number, string[]>, end: number) => {
    let k = 0;
    while (c.off < end) {
      const count = lenenc(buf, c);
      const vals: string[] = [];
      for (let j = 0; j < count; j++) {
        const l = lenenc(buf, c);
        vals.push(buf.toString('utf8', c.off, c.off + l));
        c.off += l;
      }
      if (cols[k] !== undefined) target.set(cols[k], vals);
      k++;
    }
  };
  while (c.off < stop) {
    const type = buf[c.off++];
    const len = lenenc(buf, c);
    const end = c.off + len;
    switch (type) {
      case 1: {
        // SIGNEDNESS: one bit per numeric column, most significant bit first.
        for (let k = 0; k < numeric.length; k++) out.unsigned[numeric[k]] = (buf[c.off + (k >> 3)] & (0x80 >> (k & 7))) !== 0;
        break;
      }
      case 2:
        applyCharsets(character, end, true);
        break;
      case 3:
        applyCharsets(character, end, false);
        break;
      case 4:
        out.names = strList(end);
        break;
      case 5:
        typeValues(setCols, out.sets, end);
        break;
      case 6:
        typeValues(enumCols, out.enums, end);
        break;
      case 7: {
        let k = 0;
        while (c.off < end) {
          const g = lenenc(buf, c);
          if (geoCols[k] !== undefined) out.geometry.set(geoCols[k], g);
          k++;
        }
        break;
      }
      case 8:
        while (c.off < end) out.pk.push(lenenc(buf, c));
        break;
      case 9:
        while (c.off < end) {
          out.pk.push(lenenc(buf, c));
          lenenc(buf, c); // prefix length
        }
        break;
      case 10:
        applyCharsets([...enumCols, ...setCols].sort((a, b) => a - b), end, true);
        break;
      case 11:
        applyCharsets([...enumCols, ...setCols].sort((a, b) => a - b), end, false);
        break;
      default:
        break;
    }
    c.off = end;
  }
  return out;
}
