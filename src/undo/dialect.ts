/**
 * What the undo planner, renderer, conflict check and runner need from a database dialect. Every
 * difference between PostgreSQL and MySQL/MariaDB (quoting, literals, casts, NULL-safe comparison,
 * statement shapes, the script wrapper, catalog queries) lives in the dialect objects
 * (postgres-dialect.ts, mysql-dialect.ts); the rest of src/undo is dialect-free.
 *
 * Every method that turns a value or a name into SQL text is pure and total over its input: a value can
 * never leave its literal, a name never its quoted identifier (see test/undo/injection.test.ts).
 */
import type { SystemKind, Value } from '../model/index.js';
import { ROWTRAIL_UNDO } from '../identity/rules.js';

/** A table as `schema` + `table` (MySQL: schema = database). */
export interface TableRef {
  schema: string;
  table: string;
}

/** One statement of an undo, ready for the script wrapper. */
export interface ScriptStatement {
  /** The SQL of the statement (without a trailing `;`), comment included. */
  sql: string;
  /** Rows it must affect; anything else aborts the whole undo. */
  expected: number;
  /** One-line description for the script (already safe for a comment: see `commentText`). */
  label: string;
}

/** Facts shown in a script's header. */
export interface ScriptMeta {
  runId: string;
  source: string;
  database: string;
  changes: number;
  /** Extra header lines (refusals, skipped conflicts); escaped with commentText when rendered. */
  notes: string[];
}

export interface Dialect {
  readonly system: SystemKind;
  /** A quoted identifier. */
  ident(name: string): string;
  /** A quoted, schema-qualified table name. */
  table(t: TableRef): string;
  /** Why a value of this type cannot be rendered exactly, or null when it can. */
  typeProblem(type: string | undefined, value: Value): string | null;
  /** The value as a literal of the column's type (NULL for null). */
  literal(value: Value, type: string): string;
  /** Predicate: column equals the value exactly, NULL-safe (`IS NULL` for null). Used for guards. */
  same(column: string, value: Value, type: string): string;
  /** Predicate: column equals a non-null key value (plain equality, so an index can serve it). */
  locate(column: string, value: string, type: string): string;
  insertSql(t: TableRef, columns: string[], literals: string[]): string;
  /** `where` locates exactly the row (keyed) or any one row equal to the image (keyless: `limitOne`). */
  updateSql(t: TableRef, sets: [string, string][], where: string, limitOne: boolean): string;
  deleteSql(t: TableRef, where: string, limitOne: boolean): string;
  /** The sqlcommenter-style comment every undo statement carries, so capture attributes the undo. */
  runComment(runId: string): string;
  /**
   * Session settings run on the undo's connection right after connecting, before the conflict check reads
   * anything: every literal and guard is written for them (UTC for MySQL TIMESTAMP, standard strings).
   */
  connectStatements: string[];
  /**
   * Statements that open the undo transaction and mark the session (the runner executes them in order);
   * `osUser`, the OS user running `undo --apply`, goes into the run's context where the dialect can carry it.
   */
  beginStatements(runId: string, osUser?: string): string[];
  commitStatement: string;
  rollbackStatement: string;
  /**
   * The printable script: one atomic unit that checks each statement's affected-row count. Written in pieces
   * to `emit` (a large undo need not sit in memory twice); `statements` may be iterated more than once.
   */
  script(statements: () => Iterable<ScriptStatement>, meta: ScriptMeta, emit: (text: string) => void): void;
  /** Columns of the tables in these schemas: rows `{schema, tbl, col}`. */
  columnsSql(schemas: string[]): string;
  /** Foreign keys touching these schemas: rows `{id, child_schema, child_table, child_col, parent_schema, parent_table, parent_col, ord}`. */
  foreignKeysSql(schemas: string[]): string;
}

/**
 * Text that is safe inside a `--` line comment and a block comment of either dialect: control characters,
 * line and paragraph separators, `*` + `/`, and `$` (dollar quotes, PostgreSQL) are escaped.
 */
export function commentText(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029$\\]|\*\//g, (c) => (c === '*/' ? '*\\/' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** Undo run ids: what `runComment` embeds; anything else is refused so the comment stays inert. */
export const RUN_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** `u-<time>-<random>`: sortable, and safe in a comment and a session variable. */
export function newRunId(now = Date.now()): string {
  return `u-${now.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The agent name the undo's statements carry (`/*agent='rowtrail-undo',run='…'*\/`). */
export const UNDO_AGENT = ROWTRAIL_UNDO;

/** The run id, checked against RUN_ID (so it is inert inside quotes and comments). */
export function checkRunId(runId: string): string {
  if (!RUN_ID.test(runId)) throw new Error(`undo run id '${runId}' is not of the form u-…`);
  return runId;
}

export function sqlComment(runId: string): string {
  return `/*agent='${UNDO_AGENT}',run='${checkRunId(runId)}'*/`;
}

/** Header lines shared by both dialects' scripts. */
export function header(meta: ScriptMeta): string[] {
  return [
    `-- rowtrail undo ${checkRunId(meta.runId)}: reverts ${meta.changes} change(s) of source ${commentText(meta.source)} ` +
      `(database ${commentText(meta.database)}), newest first.`,
    '-- Every statement applies only where the row still equals the recorded image (NULL-safe).',
    ...meta.notes.map((n) => `-- ${commentText(n)}`),
  ];
}
