/**
 * PostgreSQL dialect of undo SQL.
 *
 * Values are rendered as text literals with an explicit cast to the column's recorded type
 * (`'12.30'::numeric(10,2)`, `'\x00ff'::bytea`, `'{a,"b c"}'::text[]`): the text form rowtrail stores is
 * exactly what the type's input function reads back, so no precision is lost.
 */
import type { Value } from '../model/index.js';
import { formatComment } from '../identity/comment.js';
import { checkRunId, commentText, header, sqlComment, UNDO_AGENT, type Dialect, type ScriptMeta, type ScriptStatement, type TableRef } from './dialect.js';

/** One identifier as format_type prints it: bare, or double-quoted with `""` for a quote. */
const IDENT = String.raw`(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*|"(?:[^"]|"")+")`;
/**
 * A type name as `format_type()` prints it: `integer`, `character varying(20)`, `timestamp(3) with time zone`,
 * `numeric(10,2)[]`, `public."My Type"`. Anything else is refused, so a type name can never carry SQL.
 */
const TYPE_NAME = new RegExp(String.raw`^${IDENT}(?:\.${IDENT})?(?: [a-z]+)*(?:\(\d+(?:,\s?-?\d+)?\))?(?: [a-z]+)*(?:\[\d*\])*$`);

/**
 * Base types without a btree equality operator: guards compare their text form instead.
 * Why: `json = json` does not exist, and geometric `=` compares areas, not values.
 */
const NO_EQUALITY = new Set(['json', 'xml', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle', 'txid_snapshot', 'pg_snapshot']);

function baseType(type: string): string {
  return type.replace(/\[\d*\]/g, '').replace(/\(.*\)/, '').replace(/^.*\./, '').replace(/"/g, '').trim().toLowerCase();
}

function quoteText(s: string): string {
  // standard_conforming_strings is on (the script and the runner set it): only ' needs doubling.
  return `'${s.replace(/'/g, "''")}'`;
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function literal(value: Value, type: string): string {
  if (value === null) return 'NULL';
  if (!TYPE_NAME.test(type)) throw new Error(`type '${type}' is not a PostgreSQL type name`);
  return `${quoteText(value)}::${type}`;
}

/** A dollar-quote tag that occurs in no statement (labels are escaped by commentText: they hold no `$`). */
function dollarTag(statements: () => Iterable<ScriptStatement>): string {
  const used = new Set<string>();
  for (const s of statements()) for (const m of s.sql.matchAll(/\$rowtrail_undo(?:_\d+)?\$/g)) used.add(m[0]);
  let tag = '$rowtrail_undo$';
  for (let n = 1; used.has(tag); n++) tag = `$rowtrail_undo_${n}$`;
  return tag;
}

function countOf(statements: () => Iterable<ScriptStatement>): number {
  let n = 0;
  for (const _ of statements()) n++;
  return n;
}

export const postgresDialect: Dialect = {
  system: 'postgresql',
  ident,
  table: (t: TableRef) => `${ident(t.schema)}.${ident(t.table)}`,
  typeProblem(type, value) {
    if (type === undefined) return 'no column type recorded';
    if (!TYPE_NAME.test(type)) return `type '${commentText(type)}' is not understood`;
    if (value?.includes('\u0000')) return 'value contains a NUL character';
    return null;
  },
  literal,
  same(column, value, type) {
    if (value === null) return `${ident(column)} IS NULL`;
    if (NO_EQUALITY.has(baseType(type))) return `${ident(column)}::text = ${quoteText(value)}`;
    return `${ident(column)} IS NOT DISTINCT FROM ${literal(value, type)}`;
  },
  locate(column, value, type) {
    return `${ident(column)} = ${literal(value, type)}`;
  },
  insertSql(t, columns, literals) {
    // OVERRIDING SYSTEM VALUE: GENERATED ALWAYS identity columns must get their old value back.
    return `INSERT INTO ${this.table(t)} (${columns.map(ident).join(', ')}) OVERRIDING SYSTEM VALUE VALUES (${literals.join(', ')})`;
  },
  updateSql(t, sets, where, limitOne) {
    const set = sets.map(([c, v]) => `${ident(c)} = ${v}`).join(', ');
    // Why ctid: PostgreSQL has no UPDATE … LIMIT; a keyless table's identical rows are interchangeable.
    const w = limitOne ? `ctid = (SELECT ctid FROM ${this.table(t)} WHERE ${where} LIMIT 1)` : where;
    return `UPDATE ${this.table(t)} SET ${set} WHERE ${w}`;
  },
  deleteSql(t, where, limitOne) {
    const w = limitOne ? `ctid = (SELECT ctid FROM ${this.table(t)} WHERE ${where} LIMIT 1)` : where;
    return `DELETE FROM ${this.table(t)} WHERE ${w}`;
  },
  runComment: sqlComment,
  // Why: the conflict check's literals double only quotes, which is right only with standard strings.
  connectStatements: ['SET standard_conforming_strings = on'],
  beginStatements(runId, osUser) {
    // Pairs, not a bare name: identity lets rowtrail.actor override the statement comment, so the run
    // must be in it too, or `rowtrail changes --agent-run <run id>` finds nothing. The OS user is encoded
    // as any context value (formatComment), then quoted as a literal.
    const pairs: Record<string, string> = { agent: UNDO_AGENT, run: checkRunId(runId) };
    if (osUser !== undefined) pairs.os_user = osUser;
    const actor = formatComment(pairs).slice(2, -2).replace(/'/g, "''");
    return [
      'BEGIN',
      'SET LOCAL standard_conforming_strings = on',
      "SET LOCAL application_name = 'rowtrail-undo'",
      `SET LOCAL rowtrail.actor = '${actor}'`,
      `SET LOCAL rowtrail.run = '${checkRunId(runId)}'`,
    ];
  },
  commitStatement: 'COMMIT',
  rollbackStatement: 'ROLLBACK',
  script(statements, meta: ScriptMeta, emit) {
    const tag = dollarTag(statements);
    const count = countOf(statements);
    emit(
      [
        ...header(meta),
        '-- One transaction; the DO block checks the affected-row count of every statement and raises (rolling',
        '-- everything back) on a mismatch.',
        ...this.beginStatements(meta.runId).map((s) => `${s};`),
        `${sqlComment(meta.runId)} DO ${tag}`,
        'DECLARE n bigint;',
        'BEGIN',
        '',
      ].join('\n'),
    );
    let k = 0;
    for (const s of statements()) {
      k++;
      emit(
        `  -- [${k}/${count}] ${s.label}; expect ${s.expected} row(s)\n  ${s.sql};\n  GET DIAGNOSTICS n = ROW_COUNT;\n` +
          `  IF n <> ${s.expected} THEN RAISE EXCEPTION ` +
          `'rowtrail undo ${meta.runId}: statement ${k} affected % rows instead of ${s.expected}; nothing was applied', n; END IF;\n`,
      );
    }
    emit(`END\n${tag};\nCOMMIT;\n`);
  },
  columnsSql(schemas) {
    return `SELECT n.nspname AS schema, c.relname AS tbl, a.attname AS col
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
        AND n.nspname IN (${schemas.map(quoteText).join(', ')})`;
  },
  foreignKeysSql(schemas) {
    const list = schemas.map(quoteText).join(', ');
    return `SELECT con.oid::text AS id, cn.nspname AS child_schema, cc.relname AS child_table, ca.attname AS child_col,
        pn.nspname AS parent_schema, pc.relname AS parent_table, pa.attname AS parent_col, k.ord
      FROM pg_constraint con
      CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(ck, pk, ord)
      JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
      JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.ck
      JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.pk
      WHERE con.contype = 'f' AND (cn.nspname IN (${list}) OR pn.nspname IN (${list}))
      ORDER BY 1, k.ord`;
  },
};
