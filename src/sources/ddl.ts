/**
 * The one shape of a schema change in the change stream, for every source: `op: ddl`, no key and no images,
 * the statement (or, where the stream only shows the new shape, a description of it) in `ddl`.
 * PostgreSQL builds it from the precise-mode DDL message and from RELATION messages; MySQL from the query event.
 */
import type { RowChange } from '../model/index.js';

/**
 * A schema change of `schema.table` (`table` is '' where the statement names no table, e.g. CREATE DATABASE).
 * `types`: the table's column types after the change, where the stream gives them.
 */
export function ddlChange(schema: string, table: string, statement: string, types?: Record<string, string>): RowChange {
  const c: RowChange = { schema, table, op: 'ddl', key: null, before: null, after: null, changed: [], ddl: statement };
  if (types) c.types = types;
  return c;
}
