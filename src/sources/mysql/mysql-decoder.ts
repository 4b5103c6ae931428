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
import type { RowChange } from '../../model/index.js';
import { mapDecoder, needsServerMap, type CharsetMap } from './mysql-charsets.js';
import { allSet, columnReader, makeChange, readImage, type Column, type ColumnContext, type TableSchema } from './mysql-columns.js';
import { DecodeError, lenenc, readMeta, readOptionalMetadata, uncompress, type Cursor } from './mysql-metadata.js';
import { unicodeDecoder } from './mysql-values.js';

export { DecodeError, lenenc, uncompress, type Cursor } from './mysql-metadata.js';
export type { Column, TableSchema } from './mysql-columns.js';

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
  private readonly columns: ColumnContext = {
    charsetOf: (collation, where, name) => this.charsetOf(collation, where, name),
    text: (charset) => this.textDecoder(charset),
    maxLen: (charset) => this.opts.charsets.maxLen.get(charset) ?? 1,
  };

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
        const nameEnd = stop;
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
      const col = columnReader(this.columns, types[i], meta[i], opt, i, `${db}.${table}`);
      columns.push(col);
      typeMap[col.name] = col.typeName;
    }
    const signature = columns.map((x, i) => `${x.name}:${x.typeName}:${opt.charset[i] ?? ''}`).join(',') + `|${opt.pk.join(',')}`;
    let schema: TableSchema = { db, table, columns, pk: opt.pk, types: typeMap, signature };
    schema = this.history.observe(schema, position);
    this.tables.set(tableId, schema);
    return { kind: 'table-map', tableId, table: schema };
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

