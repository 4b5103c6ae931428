/** What `rowtrail doctor` prints: one line per check, with the fix where something is wrong. */
export interface Check {
  /** `ok`: fine; `warn`: works but degraded, or could not be checked; `fail`: capture cannot work. */
  level: 'ok' | 'warn' | 'fail';
  /** Short id, e.g. `wal_level`, `replica_identity`. */
  id: string;
  /** One line: what is wrong (or what is fine). Starts with `cannot check` when the check could not see. */
  message: string;
  /** One line: how to fix it (SQL, a config line, or a rowtrail command). */
  fix?: string;
  /**
   * Server settings that fix it, as config-file lines (`name=value` for my.cnf, `name = value` for
   * postgresql.conf); doctor gathers them into one block.
   */
  settings?: string[];
  /** Whether those settings take effect only after a server restart. */
  restart?: boolean;
  /**
   * Privileges that fix it: MySQL privilege names on `*.*` (`PROCESS`), or `priv ON object` for a narrower
   * object (`SELECT ON performance_schema.*`); PostgreSQL whole statements (`ALTER ROLE … REPLICATION`).
   * Doctor gathers them into one block of GRANT statements.
   */
  grants?: string[];
}

/** What every source kind's doctor takes besides the url and the source's config. */
export interface DoctorOptions {
  /** The source's stored position (from the store), to check the server still has it. */
  position?: string | null;
}

/** Optional parts of a Check: settings, restart, grants. */
export type CheckFix = Pick<Check, 'settings' | 'restart' | 'grants'>;

export function ok(id: string, message: string): Check {
  return { level: 'ok', id, message };
}
export function warn(id: string, message: string, fix?: string, extra: CheckFix = {}): Check {
  return { level: 'warn', id, message, fix, ...extra };
}
export function fail(id: string, message: string, fix?: string, extra: CheckFix = {}): Check {
  return { level: 'fail', id, message, fix, ...extra };
}

/** A check that could not look: a warning, never an `ok`. `why` is the reason; `extra` says what grants it. */
export function cannot(id: string, what: string, why: string, fix?: string, extra: CheckFix = {}): Check {
  return warn(id, `cannot check ${what}: ${why}`, fix, extra);
}

/** What doctor prints after the checks: every fix gathered, so one round of changes satisfies all of them. */
export interface FixSummary {
  /** Config-file lines, in first-seen order, without duplicates. */
  settings: string[];
  /** Settings among them that need a restart (names only). */
  restartFor: string[];
  /** GRANT (and on PostgreSQL ALTER ROLE) statements that grant everything the checks asked for. */
  grants: string[];
}

/** Gathers the settings and grants of every non-ok check (see `grantStatements` for how grants render). */
export function fixSummary(checks: readonly Check[], grantStatements: (grants: string[]) => string[]): FixSummary {
  const settings: string[] = [];
  const restartFor: string[] = [];
  const grants: string[] = [];
  for (const c of checks) {
    if (c.level === 'ok') continue;
    for (const s of c.settings ?? []) {
      if (!settings.includes(s)) settings.push(s);
      const name = s.split('=')[0].trim();
      if (c.restart && !restartFor.includes(name)) restartFor.push(name);
    }
    for (const g of c.grants ?? []) if (!grants.includes(g)) grants.push(g);
  }
  return { settings, restartFor, grants: grants.length ? grantStatements(grants) : [] };
}
