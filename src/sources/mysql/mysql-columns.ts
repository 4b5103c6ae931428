/**
 * Columns and row images: the reader of each column of a table map (binlog bytes → the server's text form,
 * with the type name as the server shows it), and the before/after images of a row event.
 */
import { changedColumns, type Row, type RowChange } from '../../model/index.js';
import { jsonBinaryText } from './mysql-json.js';
import { DecodeError, type Cursor, type OptionalMetadata } from './mysql-metadata.js';
import {
  T,
  bitText,
  dateText,
  datetime2Text,
  datetimeText,
  decimalSize,
  decimalText,
  doubleText,
  enumText,
  floatText,
  fracBytes,
  hex,
  intText,
  setText,
  time2Text,
  timeText,
  timestamp2Text,
  timestampText,
  yearText,
} from './mysql-values.js';

export interface Column {
  name: string;
  /** Binlog type code, with STRING resolved to its real type (ENUM, SET, STRING). */
  type: number;
  /** Type name as the server shows it (`decimal(12,2)`, `varbinary(16)`, `bigint unsigned`). */
  typeName: string;
  read: (buf: Buffer, c: Cursor) => string;
}

export interface TableSchema {
  db: string;
  table: string;
  columns: Column[];
  /** Indexes of the primary key columns (empty when the table has none). */
  pk: number[];
  /** Column name → type name; one object per shape, shared by every change of that shape. */
  types: Record<string, string>;
  /** Identity of the shape (column names and types). */
  signature: string;
}

/** What a column reader needs from the decoder: the charset of a collation, and a text decoder per charset. */
export interface ColumnContext {
charsetOf(collation: number, where: string, name: string): string;
text(charset: string): (b: Buffer, start: number, end: number) => string;
/** Most bytes per character of a charset. */
maxLen(charset: string): number;
}

/** The reader of column `i` of a table map: its name, type name and a function from row bytes to text. */
export function columnReader(cx: ColumnContext, type: number, meta: number[], opt: OptionalMetadata, i: number, where: string): Column {
  const name = opt.names![i];
  const unsigned = opt.unsigned[i] ?? false;
  const charset = opt.charset[i] !== undefined ? cx.charsetOf(opt.charset[i]!, where, name) : 'binary';
  const text = charset === 'binary' ? null : cx.text(charset);
  const u = unsigned ? ' unsigned' : '';
  const int = (size: 1 | 2 | 3 | 4 | 8, tn: string): Column => ({
    name,
    type,
    typeName: tn + u,
    read: (b, c) => {
      const v = intText(b, c.off, size, unsigned);
      c.off += size;
      return v;
    },
  });
  const fixed = (size: number, tn: string, f: (b: Buffer, o: number) => string): Column => ({
    name,
    type,
    typeName: tn,
    read: (b, c) => {
      const v = f(b, c.off);
      c.off += size;
      return v;
    },
  });
  const fspName = (tn: string, fsp: number) => (fsp > 0 ? `${tn}(${fsp})` : tn);
  switch (type) {
    case T.TINY:
      return int(1, 'tinyint');
    case T.SHORT:
      return int(2, 'smallint');
    case T.INT24:
      return int(3, 'mediumint');
    case T.LONG:
      return int(4, 'int');
    case T.LONGLONG:
      return int(8, 'bigint');
    case T.FLOAT:
      return fixed(4, 'float' + u, floatText);
    case T.DOUBLE:
      return fixed(8, 'double' + u, doubleText);
    case T.NEWDECIMAL: {
      const [prec, scale] = meta;
      return fixed(decimalSize(prec, scale), `decimal(${prec},${scale})${u}`, (b, o) => decimalText(b, o, prec, scale));
    }
    case T.YEAR:
      return fixed(1, 'year', yearText);
    case T.DATE:
    case T.NEWDATE:
      return fixed(3, 'date', dateText);
    case T.TIME:
      return fixed(3, 'time', timeText);
    case T.TIME2: {
      const fsp = meta[0];
      return fixed(3 + fracBytes(fsp), fspName('time', fsp), (b, o) => time2Text(b, o, fsp));
    }
    case T.DATETIME:
      return fixed(8, 'datetime', datetimeText);
    case T.DATETIME2: {
      const fsp = meta[0];
      return fixed(5 + fracBytes(fsp), fspName('datetime', fsp), (b, o) => datetime2Text(b, o, fsp));
    }
    case T.TIMESTAMP:
      return fixed(4, 'timestamp', timestampText);
    case T.TIMESTAMP2: {
      const fsp = meta[0];
      return fixed(4 + fracBytes(fsp), fspName('timestamp', fsp), (b, o) => timestamp2Text(b, o, fsp));
    }
    case T.BIT: {
      const bits = meta[1] * 8 + meta[0];
      return fixed((bits + 7) >> 3, `bit(${bits})`, (b, o) => bitText(b, o, bits));
    }
    case T.ENUM: {
      const size = meta[1];
      const members = opt.enums.get(i) ?? [];
      return {
        name,
        type,
        typeName: `enum(${members.map(sqlQuote).join(',')})`,
        read: (b, c) => {
          const idx = size === 1 ? b[c.off] : b.readUInt16LE(c.off);
          c.off += size;
          return enumText(idx, members);
        },
      };
    }
    case T.SET: {
      const size = meta[1];
      const members = opt.sets.get(i) ?? [];
      return fixed(size, `set(${members.map(sqlQuote).join(',')})`, (b, o) => setText(b, o, size, members));
    }
    case T.VARCHAR:
    case T.VAR_STRING:
    case T.STRING: {
      const maxBytes = type === T.STRING ? meta[1] : meta[0];
      const lenBytes = maxBytes > 255 ? 2 : 1;
      const binary = charset === 'binary';
      const chars = binary ? maxBytes : Math.floor(maxBytes / cx.maxLen(charset));
      const tn = type === T.STRING ? (binary ? `binary(${chars})` : `char(${chars})`) : binary ? `varbinary(${chars})` : `varchar(${chars})`;
      const padTo = type === T.STRING && binary ? maxBytes : 0;
      return {
        name,
        type,
        typeName: tn,
        read: (b, c) => {
          const len = lenBytes === 1 ? b[c.off] : b.readUInt16LE(c.off);
          const s = c.off + lenBytes;
          c.off = s + len;
          if (binary) {
            // BINARY(n) is right-padded with 0x00 to n bytes; the binlog may hold it trimmed.
            const h = hex(b, s, s + len);
            return padTo > len ? h + '00'.repeat(padTo - len) : h;
          }
          return text!(b, s, s + len);
        },
      };
    }
    case T.BLOB:
    case T.JSON:
    case T.GEOMETRY: {
      const lenBytes = meta[0];
      const sizes = ['tiny', '', 'medium', 'long'];
      let tn: string;
      let kind: 'hex' | 'text' | 'json';
      if (type === T.JSON) {
        tn = 'json';
        kind = 'json';
      } else if (type === T.GEOMETRY) {
        tn = GEOMETRY_NAMES[opt.geometry.get(i) ?? 0] ?? 'geometry';
        kind = 'hex';
      } else if (charset === 'binary') {
        tn = `${sizes[lenBytes - 1] ?? ''}blob`;
        kind = 'hex';
      } else {
        tn = `${sizes[lenBytes - 1] ?? ''}text`;
        kind = 'text';
      }
      return {
        name,
        type,
        typeName: tn,
        read: (b, c) => {
          const len = b.readUIntLE(c.off, lenBytes);
          const s = c.off + lenBytes;
          c.off = s + len;
          if (kind === 'hex') return hex(b, s, s + len);
          if (kind === 'json') return jsonBinaryText(b.subarray(s, s + len));
          return text!(b, s, s + len);
        },
      };
    }
    case T.VARCHAR_COMPRESSED:
    case T.BLOB_COMPRESSED:
      throw new DecodeError(`column ${where}.${name} uses MariaDB column compression (COMPRESSED), which is not decoded yet`);
    default:
      throw new DecodeError(`column ${where}.${name} has binlog type ${type}, which is not decoded`);
  }
}

const GEOMETRY_NAMES = ['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection'];

function sqlQuote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export function allSet(bm: Buffer, n: number): boolean {
  for (let i = 0; i < n; i++) if ((bm[i >> 3] & (1 << (i & 7))) === 0) return false;
  return true;
}

export function readImage(buf: Buffer, c: Cursor, t: TableSchema, present: Buffer, full: boolean): Row {
  const cols = t.columns;
  const n = cols.length;
  let count = n;
  if (!full) {
    count = 0;
    for (let i = 0; i < n; i++) if (present[i >> 3] & (1 << (i & 7))) count++;
  }
  const nulls = c.off;
  c.off += (count + 7) >> 3;
  const row: Row = {};
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (!full && (present[i >> 3] & (1 << (i & 7))) === 0) continue;
    if (buf[nulls + (k >> 3)] & (1 << (k & 7))) row[cols[i].name] = null;
    else row[cols[i].name] = cols[i].read(buf, c);
    k++;
  }
  return row;
}

export function makeChange(
  t: TableSchema,
  op: 'insert' | 'update' | 'delete',
  before: Row | null,
  after: Row | null,
  fullBefore: boolean,
  fullAfter: boolean,
): RowChange {
  const keyFrom = after ?? before!;
  let key: Row | null = null;
  if (t.pk.length) {
    key = {};
    for (const i of t.pk) {
      const name = t.columns[i].name;
      key[name] = (name in keyFrom ? keyFrom[name] : before?.[name]) ?? null;
    }
  }
  const ch: RowChange = {
    schema: t.db,
    table: t.table,
    op,
    key,
    before,
    after,
    changed: changedColumns(before, after),
    types: t.types,
  };
  if (!fullBefore || !fullAfter) {
    // binlog_row_image MINIMAL/NOBLOB: say what is missing, never guess.
    const inc: ('before' | 'after')[] = [];
    const missing: { before?: string[]; after?: string[] } = {};
    if (before && !fullBefore) {
      inc.push('before');
      missing.before = t.columns.map((x) => x.name).filter((x) => !(x in before));
    }
    if (after && !fullAfter) {
      inc.push('after');
      missing.after = t.columns.map((x) => x.name).filter((x) => !(x in after));
    }
    if (inc.length) {
      ch.incomplete = inc;
      ch.missing = missing;
      if (before && after) ch.changed = Object.keys(after).filter((k) => !(k in before) || before[k] !== after[k]);
    }
  }
  return ch;
}

