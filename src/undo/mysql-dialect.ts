/**
 * MySQL / MariaDB dialect of undo SQL.
 *
 * Literals by type (the column type as the source recorded it, e.g. `decimal(30,10)`, `bigint(20) unsigned`,
 * `varbinary(16)`, `datetime(6)`):
 * - integers, decimals, floating point, YEAR: the validated number itself (exact decimal literal);
 * - BIT(n): capture records the n-digit bit string (`0101`), written back as `b'0101'`;
 * - BINARY/VARBINARY/BLOB: the stored hex as `X'…'` (capture records binary values as hex);
 * - GEOMETRY (and its subtypes): capture records the hex of the server's value, a 4-byte little-endian SRID
 *   then WKB; written back as `ST_GeomFromWKB(X'<wkb>', <srid>)` and compared as `HEX(col)`;
 * - DATE/DATETIME/TIMESTAMP/TIME: the validated text in quotes, read with `time_zone = '+00:00'` (capture
 *   records TIMESTAMP in UTC);
 * - strings (CHAR/VARCHAR/TEXT/ENUM/SET, MariaDB JSON): `'…'`, or `_utf8mb4 X'…'` when the text holds a
 *   backslash or a control character, so the literal means the same under any sql_mode (NO_BACKSLASH_ESCAPES).
 * Unknown types are refused.
 */
import type { SystemKind, Value } from '../model/index.js';
import { checkRunId, commentText, header, sqlComment, type Dialect, type ScriptMeta, type TableRef } from './dialect.js';

type Kind = 'int' | 'decimal' | 'float' | 'bit' | 'binary' | 'geometry' | 'temporal' | 'string' | 'json';

const KINDS: Record<string, Kind> = {
  tinyint: 'int', smallint: 'int', mediumint: 'int', int: 'int', integer: 'int', bigint: 'int', year: 'int',
  decimal: 'decimal', numeric: 'decimal', dec: 'decimal', fixed: 'decimal',
  float: 'float', double: 'float', real: 'float',
  bit: 'bit',
  binary: 'binary', varbinary: 'binary', tinyblob: 'binary', blob: 'binary', mediumblob: 'binary', longblob: 'binary',
  date: 'temporal', datetime: 'temporal', timestamp: 'temporal', time: 'temporal',
  char: 'string', varchar: 'string', tinytext: 'string', text: 'string', mediumtext: 'string', longtext: 'string',
  enum: 'string', set: 'string', json: 'json',
  geometry: 'geometry', point: 'geometry', linestring: 'geometry', polygon: 'geometry', multipoint: 'geometry',
  multilinestring: 'geometry', multipolygon: 'geometry', geometrycollection: 'geometry', geomcollection: 'geometry',
};

/** What each kind's text must look like to be pasted as a number or put in quotes. */
const SHAPES: Partial<Record<Kind, RegExp>> = {
  int: /^-?\d+$/,
  decimal: /^-?\d+(?:\.\d+)?$/,
  float: /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/,
  // Why bits, not digits: capture records BIT(n) as its n-digit bit string; `0101` pasted as a number is 101.
  bit: /^[01]+$/,
  binary: /^(?:0x|\\x)?(?:[0-9a-fA-F]{2})*$/,
  // 4-byte SRID + WKB (at least its byte-order byte and 4-byte type).
  geometry: /^(?:[0-9a-fA-F]{2}){9,}$/,
  temporal: /^-?[0-9]{1,4}(?:[-: .][0-9]{1,6})*$/,
};

function kindOf(type: string): Kind | undefined {
  const m = /^\s*([a-zA-Z]+)/.exec(type);
  return m ? KINDS[m[1].toLowerCase()] : undefined;
}

function ident(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

function stringLiteral(s: string): string {
  // Why hex for backslashes and control characters: their meaning in '…' depends on NO_BACKSLASH_ESCAPES.
  if (/[\\\u0000-\u001f\u007f]/.test(s)) return `_utf8mb4 X'${Buffer.from(s, 'utf8').toString('hex').toUpperCase()}'`;
  return `'${s.replace(/'/g, "''")}'`;
}

function hexOf(v: string): string {
  return v.replace(/^(?:0x|\\x)/, '').toUpperCase();
}

/** `ST_GeomFromWKB(X'<wkb>', srid)` from the server's value as hex (4-byte little-endian SRID, then WKB). */
function geometryLiteral(v: string): string {
  const h = hexOf(v);
  return `ST_GeomFromWKB(X'${h.slice(8)}', ${Buffer.from(h.slice(0, 8), 'hex').readUInt32LE(0)})`;
}

/**
 * A FLOAT's value as the exact decimal of its double widening. Why: MySQL compares a FLOAT column with a
 * literal as doubles, so `f = 0.1` is false for the FLOAT 0.1 (0.100000001490116…); capture records the
 * shortest text that reads back to the FLOAT, this is the text of the double the comparison sees.
 */
function floatAsDouble(v: string): string {
  const d = Math.fround(Number(v));
  if (!Number.isFinite(d)) throw new Error(`'${v}' is not a float value`);
  return Object.is(d, -0) ? '-0e0' : String(d);
}

/** A MySQL dialect; `mariadb` keeps JSON as text (MariaDB's JSON is LONGTEXT), `mysql` compares JSON as JSON. */
export function mysqlDialect(system: Extract<SystemKind, 'mysql' | 'mariadb'>): Dialect {
  const jsonAsText = system === 'mariadb';

  /** The value, after checking it has the text form of its type (throws otherwise). */
  function checked(value: string, type: string): string {
    const kind = kindOf(type);
    if (!kind) throw new Error(`type '${type}' is not supported by undo`);
    const shape = SHAPES[kind];
    if (shape && !shape.test(value)) throw new Error(`'${value}' is not a ${type} value`);
    return value;
  }

  function literal(value: Value, type: string): string {
    if (value === null) return 'NULL';
    checked(value, type);
    const kind = kindOf(type)!;
    switch (kind) {
      case 'int':
      case 'decimal':
      case 'float':
        return value;
      case 'bit':
        return `b'${value}'`;
      case 'binary':
        return `X'${hexOf(value)}'`;
      case 'geometry':
        return geometryLiteral(value);
      default:
        return stringLiteral(value);
    }
  }

  return {
    system,
    ident,
    table: (t: TableRef) => `${ident(t.schema)}.${ident(t.table)}`,
    typeProblem(type, value) {
      if (type === undefined) return 'no column type recorded';
      const kind = kindOf(type);
      if (!kind) return `type '${commentText(type)}' is not supported by undo`;
      const shape = SHAPES[kind];
      if (value !== null && shape && !shape.test(value)) return `value is not in the text form of ${commentText(type)}`;
      if (value !== null && kind === 'float' && !Number.isFinite(/^\s*float/i.test(type) ? Math.fround(Number(value)) : Number(value))) {
        return `value is out of the range of ${commentText(type)}`;
      }
      return null;
    },
    literal,
    same(column, value, type) {
      const c = ident(column);
      if (value === null) return `${c} IS NULL`;
      const kind = kindOf(type);
      if (kind === 'json' && !jsonAsText) return `${c} <=> CAST(${literal(value, type)} AS JSON)`;
      // Geometry has no exact `=` (ST_Equals is spatial equality); its bytes are what capture recorded.
      if (kind === 'geometry') return `HEX(${c}) <=> '${hexOf(checked(value, type))}'`;
      if (kind === 'float' && /^\s*float/i.test(type)) return `${c} <=> ${floatAsDouble(checked(value, type))}`;
      if (kind === 'string' || kind === 'json') {
        // Why bytes: a _ci collation calls 'a' and 'A' equal and PAD SPACE ignores trailing spaces; a guard
        // must see those changes. CONVERT(… USING utf8mb4) makes any column charset comparable to the literal.
        return `CAST(CONVERT(${c} USING utf8mb4) AS BINARY) <=> CAST(${literal(value, type)} AS BINARY)`;
      }
      return `${c} <=> ${literal(value, type)}`;
    },
    locate(column, value, type) {
      return `${ident(column)} = ${literal(value, type)}`;
    },
    insertSql(t, columns, literals) {
      return `INSERT INTO ${this.table(t)} (${columns.map(ident).join(', ')}) VALUES (${literals.join(', ')})`;
    },
    updateSql(t, sets, where, limitOne) {
      return `UPDATE ${this.table(t)} SET ${sets.map(([c, v]) => `${ident(c)} = ${v}`).join(', ')} WHERE ${where}${limitOne ? ' LIMIT 1' : ''}`;
    },
    deleteSql(t, where, limitOne) {
      return `DELETE FROM ${this.table(t)} WHERE ${where}${limitOne ? ' LIMIT 1' : ''}`;
    },
    runComment: sqlComment,
    // Why at connect: the conflict check compares TIMESTAMP guards too; in the server's zone it saw changes
    // that were not there (capture records UTC).
    connectStatements: ['SET NAMES utf8mb4', "SET time_zone = '+00:00'"],
    beginStatements(runId) {
      checkRunId(runId);
      return [
        'SET NAMES utf8mb4',
        // Why UTC: capture records TIMESTAMP values in UTC; read back in any other zone they would shift.
        "SET time_zone = '+00:00'",
        `SET @rowtrail_agent = 'rowtrail-undo', @rowtrail_run = '${runId}'`,
        'START TRANSACTION',
      ];
    },
    commitStatement: 'COMMIT',
    rollbackStatement: 'ROLLBACK',
    script(statements, meta: ScriptMeta, emit) {
      let count = 0;
      for (const _ of statements()) count++;
      emit(
        [
          ...header(meta),
          '-- MySQL has no anonymous block to check row counts in: `rowtrail undo --apply` runs these statements in one',
          '-- transaction and rolls back when a count differs from its "expect" line. Run by hand, check every count',
          '-- and ROLLBACK on any difference.',
          ...this.beginStatements(meta.runId).map((s) => `${s};`),
          '',
        ].join('\n'),
      );
      let k = 0;
      for (const s of statements()) emit(`-- [${++k}/${count}] ${s.label}; expect ${s.expected} row(s)\n${s.sql};\n`);
      emit('COMMIT;\n');
    },
    columnsSql(schemas) {
      return `SELECT TABLE_SCHEMA AS \`schema\`, TABLE_NAME AS tbl, COLUMN_NAME AS col FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA IN (${schemas.map(stringLiteral).join(', ')})`;
    },
    foreignKeysSql(schemas) {
      const list = schemas.map(stringLiteral).join(', ');
      return `SELECT CONCAT(CONSTRAINT_SCHEMA, '.', TABLE_NAME, '.', CONSTRAINT_NAME) AS id, TABLE_SCHEMA AS child_schema,
          TABLE_NAME AS child_table, COLUMN_NAME AS child_col, REFERENCED_TABLE_SCHEMA AS parent_schema,
          REFERENCED_TABLE_NAME AS parent_table, REFERENCED_COLUMN_NAME AS parent_col, ORDINAL_POSITION AS ord
        FROM information_schema.KEY_COLUMN_USAGE
        WHERE REFERENCED_TABLE_NAME IS NOT NULL AND (TABLE_SCHEMA IN (${list}) OR REFERENCED_TABLE_SCHEMA IN (${list}))
        ORDER BY 1, ORDINAL_POSITION`;
    },
  };
}
