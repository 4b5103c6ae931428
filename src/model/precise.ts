/**
 * The names PostgreSQL precise mode puts on the server and in the WAL, and the shape of its DDL message: the
 * contract between the objects `rowtrail setup` installs (identity/postgres-precise.ts), the stream that
 * reads them (sources/postgres) and the resolver (identity). They live here, at the bottom layer, so that
 * sources and identity both import them downwards and neither imports the other's internals.
 *
 * Session message: prefix SESSION_PREFIX, format in identity/message.ts.
 * DDL message: prefix DDL_PREFIX, JSON `{"tag","schema","table","object","statement","key"}`, one per object.
 * `key` (since precise v4) is the table's primary key columns as of the DDL (null: no primary key; absent:
 * an older trigger, or not a table), so a stream that reads the change later still knows the key of a table
 * that was dropped or altered since.
 */

/** Prefix of the once-per-transaction session message. */
export const SESSION_PREFIX = 'rowtrail';
/** Prefix of the DDL messages of the event triggers. */
export const DDL_PREFIX = 'rowtrail.ddl';
/** Name of the statement trigger on every watched table. */
export const TRIGGER_NAME = 'rowtrail_session';
/** Schema of rowtrail's own objects; its tables are published (FOR ALL TABLES) but are not user changes. */
export const PRECISE_SCHEMA = 'rowtrail';

export interface DdlMessage {
  tag: string;
  schema: string | null;
  table: string | null;
  object: string | null;
  statement: string | null;
  /** Primary key columns as of the DDL: [] when the table has none, undefined when the message does not say. */
  key?: string[];
}

/** A JSON string or number as text, else null (message fields). */
export const textOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);

/** JSON text → value, or undefined when it is not JSON (message contents). Never throws. */
export function jsonOrUndefined(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return undefined;
  }
}

/** Parses a DDL message (prefix DDL_PREFIX); null for garbage. Never throws. */
export function parseDdlMessage(content: string): DdlMessage | null {
  const o = jsonOrUndefined(content) as any;
  if (!o || typeof o !== 'object' || typeof o.tag !== 'string') return null;
  const d: DdlMessage = {
    tag: o.tag,
    schema: textOrNull(o.schema),
    table: textOrNull(o.table),
    object: textOrNull(o.object),
    statement: textOrNull(o.statement),
  };
  if (o.key === null) d.key = [];
  else if (Array.isArray(o.key) && o.key.every((k: unknown) => typeof k === 'string')) d.key = o.key;
  return d;
}
