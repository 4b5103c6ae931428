/**
 * Precise mode's logical messages (what the PostgreSQL triggers emit, what the resolver parses).
 *
 * Session message: prefix `rowtrail`, transactional, once per transaction (the first write to a watched
 * table, or the first DDL), content a JSON array, version first:
 *
 *     [1, pid, backend_start|null, session_user, role, application_name, client_addr|null, actor|null, query|null]
 *
 * - `backend_start` is sent only in the first transaction of a session (the trigger reads it once from
 *   pg_stat_get_activity and remembers it in the session GUC `rowtrail.session`); the resolver remembers it
 *   per pid from then on.
 * - `role` is `current_setting('role')` (`none` unless SET ROLE): inside the SECURITY DEFINER trigger
 *   current_user is the trigger owner, and the role GUC is what SET ROLE changed.
 * - `actor` is `current_setting('rowtrail.actor', true)` (`SET LOCAL rowtrail.actor = '…'`).
 * - `query` is current_query() (cut to the context limit) only when it contains `/*`: the agent context
 *   lives in its comment; plain statements are not copied into the WAL.
 *
 * A positional array is used (not an object) to keep the per-transaction WAL record and the work inside the
 * trigger small; the version number allows the format to grow.
 *
 * DDL message: prefix `rowtrail.ddl`, JSON `{"tag","schema","table","object","statement"}` (one per object).
 */

export const SESSION_PREFIX = 'rowtrail';
export const DDL_PREFIX = 'rowtrail.ddl';

export interface SessionMessage {
  pid: string;
  backendStart: string | null;
  sessionUser: string | null;
  /** The role SET ROLE chose, or null (`none`). */
  role: string | null;
  application: string | null;
  clientAddr: string | null;
  actorSetting: string | null;
  query: string | null;
}

export interface DdlMessage {
  tag: string;
  schema: string | null;
  table: string | null;
  object: string | null;
  statement: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);

/** Parses a session message; null when it is not one (wrong version, garbage). Never throws. */
export function parseSessionMessage(content: string): SessionMessage | null {
  let a: unknown;
  try {
    a = JSON.parse(content);
  } catch {
    return null;
  }
  if (!Array.isArray(a) || a[0] !== 1 || a.length < 9) return null;
  const pid = str(a[1]);
  if (!pid || !/^\d+$/.test(pid)) return null;
  const role = str(a[4]);
  return {
    pid,
    backendStart: str(a[2]),
    sessionUser: str(a[3]),
    role: role && role !== 'none' ? role : null,
    application: str(a[5]) || null,
    clientAddr: str(a[6]),
    actorSetting: str(a[7]) || null,
    query: str(a[8]),
  };
}

/** Parses a DDL message (prefix `rowtrail.ddl`); null for garbage. */
export function parseDdlMessage(content: string): DdlMessage | null {
  let o: any;
  try {
    o = JSON.parse(content);
  } catch {
    return null;
  }
  if (!o || typeof o !== 'object' || typeof o.tag !== 'string') return null;
  return { tag: o.tag, schema: str(o.schema), table: str(o.table), object: str(o.object), statement: str(o.statement) };
}
