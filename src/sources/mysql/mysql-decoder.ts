/**
 * Pure binlog decoding: one binlog event (bytes) → a typed event, and row events → RowChange with the
 * server's text values. No I/O: the stream (mysql-stream.ts) feeds it events and the server's collation
 * table.
 *
 * Schema: with `binlog_row_metadata=FULL` every TABLE_MAP event carries the column names, signedness,
 * character sets, ENUM/SET members, geometry types and primary key of the table *as it was when the rows
 * were written*. So rows logged before an ALTER decode with the old shape even when they are replayed after
 * it. The decoder keeps each table's shapes keyed by the binlog position where they first appeared
 * (`SchemaHistory`) rather than ever asking INFORMATION_SCHEMA, which only knows the current shape.
 */
import { inflateSync } from 'node:zlib';
import { changedColumns, type Row, type RowChange } from '../../model/index.js';
import { jsonBinaryText } from './mysql-json.js';
import { mapDecoder, needsServerMap, type CharsetMap } from './mysql-charsets.js';
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
  unicodeDecoder,
  time2Text,
  timeText,
  timestamp2Text,
  timestampText,
  yearText,
} from './mysql-values.js';

/** Binlog event type codes used here (MySQL `Log_event_type`, MariaDB additions from 160). */
export const E = {
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  INTVAR: 5,
  RAND: 13,
  USER_VAR: 14,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  TABLE_MAP: 19,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  INCIDENT: 26,
  HEARTBEAT: 27,
  IGNORABLE: 28,
  ROWS_QUERY: 29,
  WRITE_ROWS_V2: 30,
  UPDATE_ROWS_V2: 31,
  DELETE_ROWS_V2: 32,
  GTID: 33,
  ANONYMOUS_GTID: 34,
  PREVIOUS_GTIDS: 35,
  TRANSACTION_CONTEXT: 36,
  VIEW_CHANGE: 37,
  XA_PREPARE: 38,
  PARTIAL_UPDATE_ROWS: 39,
  TRANSACTION_PAYLOAD: 40,
  HEARTBEAT_V2: 41,
  GTID_TAGGED: 42,
  ANNOTATE_ROWS: 160,
  BINLOG_CHECKPOINT: 161,
  MARIADB_GTID: 162,
  MARIADB_GTID_LIST: 163,
  START_ENCRYPTION: 164,
  QUERY_COMPRESSED: 165,
  WRITE_ROWS_COMPRESSED_V1: 166,
  UPDATE_ROWS_COMPRESSED_V1: 167,
  DELETE_ROWS_COMPRESSED_V1: 168,
  WRITE_ROWS_COMPRESSED: 169,
  UPDATE_ROWS_COMPRESSED: 170,
  DELETE_ROWS_COMPRESSED: 171,
} as const;

const ROWS_OP: Record<number, { op: 'insert' | 'update' | 'delete'; v2: boolean; compressed: boolean }> = {
  [E.WRITE_ROWS_V1]: { op: 'insert', v2: false, compressed: false },
  [E.UPDATE_ROWS_V1]: { op: 'update', v2: false, compressed: false },
  [E.DELETE_ROWS_V1]: { op: 'delete', v2: false, compressed: false },
  [E.WRITE_ROWS_V2]: { op: 'insert', v2: true, compressed: false },
  [E.UPDATE_ROWS_V2]: { op: 'update', v2: true, compressed: false },
  [E.DELETE_ROWS_V2]: { op: 'delete', v2: true, compressed: false },
  [E.WRITE_ROWS_COMPRESSED_V1]: { op: 'insert', v2: false, compressed: true },
  [E.UPDATE_ROWS_COMPRESSED_V1]: { op: 'update', v2: false, compressed: true },
  [E.DELETE_ROWS_COMPRESSED_V1]: { op: 'delete', v2: false, compressed: true },
  [E.WRITE_ROWS_COMPRESSED]: { op: 'insert', v2: true, compressed: true },
  [E.UPDATE_ROWS_COMPRESSED]: { op: 'update', v2: true, compressed: true },
  [E.DELETE_ROWS_COMPRESSED]: { op: 'delete', v2: true, compressed: true },
};

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

export interface EventHeader {
  /** Seconds since the epoch. */
  timestamp: number;
  type: number;
  serverId: number;
  length: number;
  /** End position of this event in its binlog file (0 for some MariaDB events inside a transaction). */
  nextPos: number;
  flags: number;
}

export type BinlogEvent =
  | { kind: 'rotate'; file: string; position: number }
  | { kind: 'format' }
  | { kind: 'mariadb-gtid'; domain: number; server: number; seq: string; standalone: boolean; xa: boolean }
  | { kind: 'mysql-gtid'; gtid: string | null; commitMicros: bigint | null }
  | { kind: 'query'; threadId: number; db: string; sql: string; errorCode: number }
  | { kind: 'xid'; xid: string }
  | { kind: 'xa-prepare' }
  | { kind: 'table-map'; tableId: string; table: TableSchema | null }
  | { kind: 'rows'; tableId: string; table: TableSchema | null; changes: RowChange[] }
  | { kind: 'annotate'; sql: string }
  | { kind: 'ignored'; type: number }
  | { kind: 'stop' };

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

export interface Cursor {
  off: number;
}

/** Facts about the server the decoder needs: collation id → character set, and max bytes per char. */
export interface ServerCharsets {
  collations: Map<number, string>;
  maxLen: Map<string, number>;
  /** The server's decoding tables of the non-Unicode charsets loaded so far (the stream adds them). */
  maps: Map<string, CharsetMap>;
}

/** A watched column uses a charset whose table is not loaded yet: the stream loads it and decodes the event again. */
export class NeedCharset extends Error {
  readonly charset: string;
  constructor(charset: string) {
    super(`character set ${charset} is not loaded`);
    this.name = 'NeedCharset';
    this.charset = charset;
  }
}

export interface DecoderOptions {
  /** Events end with a 4-byte CRC32 (binlog_checksum=CRC32). */
  checksum: boolean;
  charsets: ServerCharsets;
  /** Whether changes of this table are wanted (unwatched tables are not decoded). */
  watch: (db: string, table: string) => boolean;
  /** Shapes seen so far (kept across reconnects by the stream). */
  history?: SchemaHistory;
}

/** Table shapes per `db.table`, each keyed by the binlog position where it first appeared. */
export class SchemaHistory {
  private readonly byTable = new Map<string, { position: string; schema: TableSchema }[]>();

  /** Records a shape seen at `position`; returns the canonical (shared) schema for it. */
  observe(schema: TableSchema, position: string): TableSchema {
    const k = `${schema.db}.${schema.table}`;
    let list = this.byTable.get(k);
    if (!list) this.byTable.set(k, (list = []));
    const known = list.find((v) => v.schema.signature === schema.signature);
    if (known) return known.schema;
    list.push({ position, schema });
    // Keep the history bounded: a table that flips between a few shapes reuses them.
    if (list.length > 64) list.shift();
    return schema;
  }

  /** Every shape of a table, oldest first, with the position where it appeared. */
  versions(db: string, table: string): { position: string; schema: TableSchema }[] {
    return [...(this.byTable.get(`${db}.${table}`) ?? [])];
  }
}

export class BinlogDecoder {
  readonly history: SchemaHistory;
  private readonly tables = new Map<string, TableSchema | null>();
  private readonly texts = new Map<string, (b: Buffer, start: number, end: number) => string>();
  /** Whether the stream comes from MariaDB (from the FORMAT_DESCRIPTION event's server version). */
  private mariadb = false;
  private readonly opts: DecoderOptions;
  private readonly tail: number;

  constructor(opts: DecoderOptions) {
    this.opts = opts;
    this.tail = opts.checksum ? 4 : 0;
    this.history = opts.history ?? new SchemaHistory();
  }

  static header(buf: Buffer, off: number): EventHeader {
    return {
      timestamp: buf.readUInt32LE(off),
      type: buf[off + 4],
      serverId: buf.readUInt32LE(off + 5),
      length: buf.readUInt32LE(off + 9),
      nextPos: buf.readUInt32LE(off + 13),
      flags: buf.readUInt16LE(off + 17),
    };
  }

  /**
   * Decodes the event in `buf[off, end)` (header included, checksum included when on). `position` names
   * where it is (for the schema history).
   */
  decode(buf: Buffer, off: number, end: number, h: EventHeader, position: string): BinlogEvent {
    const body = off + 19;
    const stop = end - this.tail;
    switch (h.type) {
      case E.ROTATE: {
        const pos = Number(buf.readBigUInt64LE(body));
        // The rotate event sent first on a dump may have no checksum; the name never contains NUL.
        let nameEnd = stop;
        const name = buf.toString('latin1', body + 8, nameEnd).replace(/\0.*$/s, '');
        return { kind: 'rotate', file: name, position: pos };
      }
      case E.FORMAT_DESCRIPTION:
        // Server version (50 bytes after the 2-byte binlog version): MariaDB lays out table-map charsets differently.
        this.mariadb = /MariaDB/i.test(buf.toString('latin1', body + 2, body + 52));
        return { kind: 'format' };
      case E.MARIADB_GTID: {
        const seq = buf.readBigUInt64LE(body).toString();
        const domain = buf.readUInt32LE(body + 8);
        const flags = buf[body + 12];
        // FL_STANDALONE=1 (no BEGIN/COMMIT: DDL), FL_PREPARED_XA=64, FL_COMPLETED_XA=128.
        return { kind: 'mariadb-gtid', domain, server: h.serverId, seq, standalone: (flags & 1) !== 0, xa: (flags & 192) !== 0 };
      }
      case E.GTID:
      case E.ANONYMOUS_GTID:
        return this.mysqlGtid(buf, body, stop, h.type === E.ANONYMOUS_GTID);
      case E.GTID_TAGGED:
        throw new DecodeError('tagged GTID events (MySQL 8.3+) are not decoded yet');
      case E.QUERY:
      case E.QUERY_COMPRESSED:
        return this.query(buf, body, stop, h.type === E.QUERY_COMPRESSED);
      case E.XID:
        return { kind: 'xid', xid: buf.readBigUInt64LE(body).toString() };
      case E.XA_PREPARE:
        return { kind: 'xa-prepare' };
      case E.TABLE_MAP:
        return this.tableMap(buf, body, stop, position);
      case E.ANNOTATE_ROWS:
        return { kind: 'annotate', sql: buf.toString('utf8', body, stop) };
      case E.ROWS_QUERY:
        // One length byte (truncated at 255, ignored), then the statement.
        return { kind: 'annotate', sql: buf.toString('utf8', body + 1, stop) };
      case E.STOP:
        return { kind: 'stop' };
      case E.TRANSACTION_PAYLOAD:
        throw new DecodeError(
          'compressed transaction payload (binlog_transaction_compression=ON) cannot be decoded; set binlog_transaction_compression=OFF',
          true,
        );
      case E.PARTIAL_UPDATE_ROWS:
        throw new DecodeError(
          'partial JSON update rows (binlog_row_value_options=PARTIAL_JSON) carry no full after image; set binlog_row_value_options=\'\'',
          true,
        );
      case E.INCIDENT:
        throw new DecodeError('INCIDENT event: the server reports that events may be missing from its binlog here');
      case E.START_ENCRYPTION:
        throw new DecodeError('START_ENCRYPTION event in the stream: encrypted binlog events cannot be decoded');
      default: {
        const rows = ROWS_OP[h.type];
        if (rows) return this.rows(buf, body, stop, rows.op, rows.v2, rows.compressed);
        return { kind: 'ignored', type: h.type };
      }
    }
  }

  private mysqlGtid(buf: Buffer, p: number, stop: number, anonymous: boolean): BinlogEvent {
    p += 1; // flags
    const sid = buf.subarray(p, p + 16).toString('hex');
    p += 16;
    const gno = buf.readBigInt64LE(p);
    p += 8;
    let commitMicros: bigint | null = null;
    if (p + 17 <= stop && buf[p] === 2) {
      p += 17; // logical clock: type code 2, last_committed, sequence_number
      if (p + 7 <= stop) {
        let ts = BigInt(buf.readUIntLE(p, 6)) | (BigInt(buf[p + 6]) << 48n);
        // The top bit says an original_commit_timestamp follows; the value is the low 55 bits.
        ts &= (1n << 55n) - 1n;
        commitMicros = ts;
      }
    }
    const uuid = `${sid.slice(0, 8)}-${sid.slice(8, 12)}-${sid.slice(12, 16)}-${sid.slice(16, 20)}-${sid.slice(20)}`;
    return { kind: 'mysql-gtid', gtid: anonymous ? null : `${uuid}:${gno}`, commitMicros };
  }

  private query(buf: Buffer, p: number, stop: number, compressed: boolean): BinlogEvent {
    const threadId = buf.readUInt32LE(p);
    const dbLen = buf[p + 8];
    const errorCode = buf.readUInt16LE(p + 9);
    const statusLen = buf.readUInt16LE(p + 11);
    p += 13 + statusLen;
    const db = buf.toString('utf8', p, p + dbLen);
    p += dbLen + 1;
    const raw = compressed ? uncompress(buf.subarray(p, stop)) : buf.subarray(p, stop);
    return { kind: 'query', threadId, db, sql: raw.toString('utf8'), errorCode };
  }

  // ---- TABLE_MAP ------------------------------------------------------------------------------------

  private tableMap(buf: Buffer, p: number, stop: number, position: string): BinlogEvent {
    const tableId = buf.readUIntLE(p, 6).toString();
    p += 8; // table id (6), flags (2)
    const dbLen = buf[p];
    const db = buf.toString('utf8', p + 1, p + 1 + dbLen);
    p += 1 + dbLen + 1;
    const tLen = buf[p];
    const table = buf.toString('utf8', p + 1, p + 1 + tLen);
    p += 1 + tLen + 1;
    if (!this.opts.watch(db, table)) {
      this.tables.set(tableId, null);
      return { kind: 'table-map', tableId, table: null };
    }
    const c: Cursor = { off: p };
    const n = lenenc(buf, c);
    const types = [...buf.subarray(c.off, c.off + n)];
    c.off += n;
    const metaLen = lenenc(buf, c);
    const metaEnd = c.off + metaLen;
    const meta: number[][] = [];
    for (const t of types) meta.push(readMeta(buf, c, t));
    c.off = metaEnd;
    c.off += (n + 7) >> 3; // nullable bitmap
    const opt = readOptionalMetadata(buf, c, stop, types, meta, this.mariadb);
    if (!opt.names) {
      throw new DecodeError(
        `table map for ${db}.${table} has no column names: binlog_row_metadata is not FULL; SET GLOBAL binlog_row_metadata=FULL (and in my.cnf)`,
        true,
      );
    }
    const columns: Column[] = [];
    const typeMap: Record<string, string> = {};
    for (let i = 0; i < n; i++) {
      const col = this.column(types[i], meta[i], opt, i, `${db}.${table}`);
      columns.push(col);
      typeMap[col.name] = col.typeName;
    }
    const signature = columns.map((x, i) => `${x.name}:${x.typeName}:${opt.charset[i] ?? ''}`).join(',') + `|${opt.pk.join(',')}`;
    let schema: TableSchema = { db, table, columns, pk: opt.pk, types: typeMap, signature };
    schema = this.history.observe(schema, position);
    this.tables.set(tableId, schema);
    return { kind: 'table-map', tableId, table: schema };
  }

  private column(type: number, meta: number[], opt: OptionalMetadata, i: number, where: string): Column {
    const name = opt.names![i];
    const unsigned = opt.unsigned[i] ?? false;
    const charset = opt.charset[i] !== undefined ? this.charsetOf(opt.charset[i]!, where, name) : 'binary';
    const text = charset === 'binary' ? null : this.textDecoder(charset);
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
        const chars = binary ? maxBytes : Math.floor(maxBytes / (this.opts.charsets.maxLen.get(charset) ?? 1));
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

  private charsetOf(collation: number, where: string, name: string): string {
    const cs = this.opts.charsets.collations.get(collation);
    if (!cs) throw new DecodeError(`column ${where}.${name}: unknown collation id ${collation}`);
    return cs;
  }

  private textDecoder(charset: string): (b: Buffer, start: number, end: number) => string {
    let d = this.texts.get(charset) ?? unicodeDecoder(charset);
    if (d) return d;
    if (!needsServerMap(charset)) throw new DecodeError(`character set ${charset} is not supported`);
    const map = this.opts.charsets.maps.get(charset);
    if (!map) throw new NeedCharset(charset);
    d = mapDecoder(map, charset);
    this.texts.set(charset, d);
    return d;
  }

  // ---- ROWS -----------------------------------------------------------------------------------------

  private rows(buf: Buffer, p: number, stop: number, op: 'insert' | 'update' | 'delete', v2: boolean, compressed: boolean): BinlogEvent {
    const tableId = buf.readUIntLE(p, 6).toString();
    p += 8;
    if (v2) p += buf.readUInt16LE(p); // extra data length includes its own 2 bytes
    const table = this.tables.get(tableId);
    if (table === undefined) throw new DecodeError(`row event for table id ${tableId} without its table map`);
    if (table === null) return { kind: 'rows', tableId, table: null, changes: [] };
    const c: Cursor = { off: p };
    const n = lenenc(buf, c);
    if (n !== table.columns.length) {
      throw new DecodeError(`row event for ${table.db}.${table.table} has ${n} columns, its table map ${table.columns.length}`);
    }
    const bmLen = (n + 7) >> 3;
    const present1 = buf.subarray(c.off, c.off + bmLen);
    c.off += bmLen;
    let present2 = present1;
    if (op === 'update') {
      present2 = buf.subarray(c.off, c.off + bmLen);
      c.off += bmLen;
    }
    let data = buf;
    let end = stop;
    if (compressed) {
      data = uncompress(buf.subarray(c.off, stop));
      c.off = 0;
      end = data.length;
    }
    const changes: RowChange[] = [];
    const full1 = allSet(present1, n);
    const full2 = op === 'update' ? allSet(present2, n) : full1;
    while (c.off < end) {
      const img1 = readImage(data, c, table, present1, full1);
      if (op === 'update') {
        const img2 = readImage(data, c, table, present2, full2);
        changes.push(makeChange(table, op, img1, img2, full1, full2));
      } else if (op === 'insert') changes.push(makeChange(table, op, null, img1, true, full1));
      else changes.push(makeChange(table, op, img1, null, full1, true));
    }
    return { kind: 'rows', tableId, table, changes };
  }
}

const GEOMETRY_NAMES = ['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection'];

function sqlQuote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function allSet(bm: Buffer, n: number): boolean {
  for (let i = 0; i < n; i++) if ((bm[i >> 3] & (1 << (i & 7))) === 0) return false;
  return true;
}

function readImage(buf: Buffer, c: Cursor, t: TableSchema, present: Buffer, full: boolean): Row {
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

function makeChange(t: TableSchema, op: 'insert' | 'update' | 'delete', before: Row | null, after: Row | null, fullBefore: boolean, fullAfter: boolean): RowChange {
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

function readMeta(buf: Buffer, c: Cursor, type: number): number[] {
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

interface OptionalMetadata {
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
function readOptionalMetadata(buf: Buffer, c: Cursor, stop: number, rawTypes: number[], meta: number[][], mariadb = false): OptionalMetadata {
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
    if (t === T.TINY || t === T.SHORT || t === T.INT24 || t === T.LONG || t === T.LONGLONG || t === T.NEWDECIMAL || t === T.FLOAT || t === T.DOUBLE || t === T.DECIMAL) numeric.push(i);
    // Why: MariaDB's Field_year is a Field_tiny and reports a signedness, so the signedness bitmap has a bit
    // for every YEAR column; MySQL's has none. Skipping it gave the next numeric column the YEAR's "unsigned"
    // (a BIGINT -1 read as 18446744073709551615).
    else if (mariadb && t === T.YEAR) numeric.push(i);
    else if (t === T.STRING || t === T.VARCHAR || t === T.VAR_STRING || t === T.BLOB || t === T.VARCHAR_COMPRESSED || t === T.BLOB_COMPRESSED) character.push(i);
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
