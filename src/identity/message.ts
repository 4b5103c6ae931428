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
 * DDL message: prefix `rowtrail.ddl`; its names, shape and parser live in model/precise.ts (the sources read it).
 */

import { jsonOrUndefined, textOrNull as str } from '../model/precise.js';

export { SESSION_PREFIX, DDL_PREFIX, parseDdlMessage, type DdlMessage } from '../model/precise.js';

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

/** Parses a session message; null when it is not one (wrong version, garbage). Never throws. */
export function parseSessionMessage(content: string): SessionMessage | null {
  const a = jsonOrUndefined(content);
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
