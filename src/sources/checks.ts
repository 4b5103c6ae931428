/** What `rowtrail doctor` prints: one line per check, with the fix where something is wrong. */
export interface Check {
  /** `ok`: fine; `warn`: works but degraded (e.g. no full before image); `fail`: capture cannot work. */
  level: 'ok' | 'warn' | 'fail';
  /** Short id, e.g. `wal_level`, `replica_identity`. */
  id: string;
  /** One line: what is wrong (or what is fine). */
  message: string;
  /** One line: how to fix it (SQL, a config line, or a rowtrail command). */
  fix?: string;
}

export function ok(id: string, message: string): Check {
  return { level: 'ok', id, message };
}
export function warn(id: string, message: string, fix?: string): Check {
  return { level: 'warn', id, message, fix };
}
export function fail(id: string, message: string, fix?: string): Check {
  return { level: 'fail', id, message, fix };
}
