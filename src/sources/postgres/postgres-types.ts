/**
 * Type names of relation columns, as PostgreSQL's format_type(oid, typmod) prints them, so undo can cast
 * text literals back exactly (`'12.30'::numeric(12,2)`, `'0101'::bit(4)`). pgoutput sends only OIDs for
 * built-in types and a Type message (schema, name) for the others.
 */

const BUILTIN: Record<number, string> = {
  16: 'boolean', 17: 'bytea', 18: '"char"', 19: 'name', 20: 'bigint', 21: 'smallint', 23: 'integer',
  24: 'regproc', 25: 'text', 26: 'oid', 27: 'tid', 28: 'xid', 29: 'cid', 114: 'json', 142: 'xml',
  600: 'point', 601: 'lseg', 602: 'path', 603: 'box', 604: 'polygon', 628: 'line', 650: 'cidr',
  700: 'real', 701: 'double precision', 718: 'circle', 774: 'macaddr8', 790: 'money', 829: 'macaddr',
  869: 'inet', 1033: 'aclitem', 1042: 'character', 1043: 'character varying', 1082: 'date',
  1083: 'time without time zone', 1114: 'timestamp without time zone', 1184: 'timestamp with time zone',
  1186: 'interval', 1266: 'time with time zone', 1560: 'bit', 1562: 'bit varying', 1700: 'numeric',
  2202: 'regprocedure', 2205: 'regclass', 2206: 'regtype', 2950: 'uuid', 3220: 'pg_lsn', 3614: 'tsvector',
  3615: 'tsquery', 3802: 'jsonb', 4072: 'jsonpath', 3904: 'int4range', 3906: 'numrange', 3908: 'tsrange',
  3910: 'tstzrange', 3912: 'daterange', 3926: 'int8range', 4451: 'int4multirange', 4532: 'nummultirange',
  4533: 'tsmultirange', 4534: 'tstzmultirange', 4535: 'datemultirange', 4536: 'int8multirange',
  5038: 'pg_snapshot', 5069: 'xid8', 2249: 'record', 705: 'unknown',
};

/** Array type OID → element type OID. */
const ARRAY_OF: Record<number, number> = {
  1000: 16, 1001: 17, 1002: 18, 1003: 19, 1016: 20, 1005: 21, 1007: 23, 1008: 24, 1009: 25, 1028: 26,
  1010: 27, 1011: 28, 1012: 29, 199: 114, 143: 142, 1017: 600, 1018: 601, 1019: 602, 1020: 603, 1027: 604,
  629: 628, 651: 650, 1021: 700, 1022: 701, 719: 718, 775: 774, 791: 790, 1040: 829, 1041: 869, 1014: 1042,
  1015: 1043, 1182: 1082, 1183: 1083, 1115: 1114, 1185: 1184, 1187: 1186, 1270: 1266, 1561: 1560,
  1563: 1562, 1231: 1700, 2951: 2950, 3221: 3220, 3643: 3614, 3645: 3615, 3807: 3802, 3905: 3904,
  3907: 3906, 3909: 3908, 3911: 3910, 3913: 3912, 3927: 3926, 271: 5069, 2287: 2249,
};

/** Adds the typmod the way format_type does for the types that have one. */
function withMod(oid: number, name: string, mod: number): string {
  if (mod < 0) return name;
  switch (oid) {
    case 1042: // character(n)
    case 1043: // character varying(n)
      return `${name}(${mod - 4})`;
    case 1560: // bit(n)
    case 1562: // bit varying(n)
      return `${name}(${mod})`;
    case 1700: {
      const m = mod - 4;
      return `numeric(${(m >> 16) & 0xffff},${m & 0xffff})`;
    }
    case 1083:
      return `time(${mod}) without time zone`;
    case 1266:
      return `time(${mod}) with time zone`;
    case 1114:
      return `timestamp(${mod}) without time zone`;
    case 1184:
      return `timestamp(${mod}) with time zone`;
    default:
      // interval fields/precision and other exotic typmods: the plain name casts the text exactly too.
      return name;
  }
}

const SIMPLE_IDENT = /^[a-z_][a-z0-9_]*$/;

/** Quotes an identifier the way quote_ident does (only where needed). */
export function quoteIdentIfNeeded(s: string): string {
  return SIMPLE_IDENT.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
}

export interface CustomType {
  schema: string;
  name: string;
}

/**
 * format_type for a column. `custom` holds types announced by Type messages (enums, domains, composite,
 * and their arrays, whose names start with `_`). Unknown OIDs come back as `oid:<n>` (undo refuses them).
 */
export function typeName(oid: number, mod: number, custom: ReadonlyMap<number, CustomType>): string {
  const b = BUILTIN[oid];
  if (b !== undefined) return withMod(oid, b, mod);
  const elem = ARRAY_OF[oid];
  if (elem !== undefined) return `${withMod(elem, BUILTIN[elem], mod)}[]`;
  const c = custom.get(oid);
  if (c) {
    const isArray = c.name.startsWith('_');
    const base = isArray ? c.name.slice(1) : c.name;
    // pgoutput sends an empty schema for pg_catalog, and a domain as its base type (e.g. int4).
    const qualified = c.schema === '' || c.schema === 'pg_catalog' ? quoteIdentIfNeeded(base) : `${quoteIdentIfNeeded(c.schema)}.${quoteIdentIfNeeded(base)}`;
    return isArray ? `${qualified}[]` : qualified;
  }
  return `oid:${oid}`;
}
