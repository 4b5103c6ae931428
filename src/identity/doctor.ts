/**
 * Doctor lines for identity: is precise mode installed in the current version on the watched tables, can
 * the sampler see other sessions, and what share of transactions was attributed.
 */
import pg from 'pg';
import mysql from 'mysql2/promise';
import type { SourceConfig } from '../config/index.js';
import { ok, warn, fail, type Check } from '../sources/checks.js';
import type { ResolverStats } from './resolver.js';
import { preciseStatus, PRECISE_VERSION } from './postgres-precise.js';
import { activityVisibility } from './postgres-sampler.js';
import { historyAvailability } from './mysql-sampler.js';

/** Attribution counts: a live resolver's, or the store's (which does not know preciseMissing). */
export type AttributionStats = Omit<ResolverStats, 'preciseMissing'> & { preciseMissing?: number };

/** The attribution line from resolver stats (null when nothing was resolved yet). */
export function attributionCheck(stats: AttributionStats | null | undefined): Check | null {
  if (!stats) return null;
  const n = stats.exact + stats.inferred + stats.unknown;
  if (n === 0) return null;
  const pct = (x: number) => `${((100 * x) / n).toFixed(1)}%`;
  const missing = stats.preciseMissing ? `; ${stats.preciseMissing} changed a precise-mode table without its session message` : '';
  const msg = `attributed ${pct(stats.attributed)} of ${n} transactions (exact ${pct(stats.exact)}, inferred ${pct(stats.inferred)}, unknown ${pct(stats.unknown)})${missing}`;
  return stats.exact === n ? ok('identity_rate', msg) : warn('identity_rate', msg, 'identity: precise (PostgreSQL) for exact attribution; see rowtrail doctor identity lines');
}

/** Which tables precise mode should cover for this source (null = every table). */
export function preciseTablesOf(source: SourceConfig): string[] | null {
  return source.preciseTables ?? source.tables ?? null;
}

async function postgresChecks(source: SourceConfig, url: string): Promise<Check[]> {
  const c = new pg.Client({ connectionString: url, application_name: 'rowtrail-doctor' });
  await c.connect();
  try {
    const out: Check[] = [];
    const mode = source.identity ?? 'sampling';
    const st = await preciseStatus(c);
    if (mode === 'precise') {
      if (st.version === null) out.push(fail('identity_precise', 'identity: precise, but the precise-mode triggers are not installed', 'rowtrail setup'));
      else if (st.version !== PRECISE_VERSION)
        out.push(warn('identity_precise', `precise-mode triggers are version ${st.version}, this rowtrail installs ${PRECISE_VERSION}`, 'rowtrail setup (replaces the old version)'));
      else {
        const want = preciseTablesOf(source);
        const missing = want ? want.filter((t) => !st.tables.includes(t)) : [];
        if (missing.length) out.push(warn('identity_precise', `no identity trigger on ${missing.join(', ')}: those writes fall back to sampling`, 'rowtrail setup'));
        else if (!!source.preciseNative !== st.native)
          out.push(
            warn(
              'identity_precise',
              `the installed statement trigger is the ${st.native ? 'native (C)' : 'PL/pgSQL'} one, the config asks for ${source.preciseNative ? 'native' : 'PL/pgSQL'}`,
              'rowtrail setup (replaces it)',
            ),
          );
        else out.push(ok('identity_precise', `precise identity v${st.version}${st.native ? ' (native trigger)' : ''} on ${st.tables.length} table(s)`));
        if (!st.ddl) out.push(warn('identity_ddl', 'DDL event triggers missing: DDL is not attributed and new tables get no identity trigger', 'rowtrail setup as a superuser'));
      }
      if (st.publicCanEmit)
        out.push(
          warn(
            'identity_forgery',
            'PUBLIC may call pg_logical_emit_message: any role could emit a forged rowtrail identity message',
            'REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean,text,text) FROM PUBLIC (rowtrail setup does it as a superuser)',
          ),
        );
    } else if (st.version !== null) {
      out.push(warn('identity_precise', 'precise-mode triggers are installed but this source is in sampling mode', 'identity: precise, or rowtrail setup --uninstall'));
    }
    const limited = await activityVisibility(c);
    out.push(limited ? warn('identity_sampling', limited) : ok('identity_sampling', 'the sampler can see every session in pg_stat_activity'));
    return out;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function mysqlChecks(url: string): Promise<Check[]> {
  const c = await mysql.createConnection({ uri: url } as any);
  try {
    const out: Check[] = [];
    const [v] = (await c.query('SELECT VERSION() AS v')) as any;
    const maria = /mariadb/i.test(String(v[0]?.v));
    const h = await historyAvailability(c);
    if (!h.history) {
      out.push(
        warn(
          'identity_history',
          `${maria ? 'MariaDB logs no thread id for row events: ' : ''}statement history unavailable (performance_schema ${h.performanceSchema ? 'on, consumer off' : 'off'}); attribution relies on sampling the current statement`,
          h.performanceSchema
            ? "UPDATE performance_schema.setup_consumers SET ENABLED='YES' WHERE NAME IN ('events_statements_current', 'events_statements_history_long')"
            : 'start the server with --performance-schema=ON --performance-schema-consumer-events-statements-current=ON --performance-schema-consumer-events-statements-history-long=ON',
        ),
      );
    } else out.push(ok('identity_history', `statement history (${h.history}) is read for attribution`));
    const [g] = (await c.query("SHOW GRANTS")) as any;
    const grants = (g as any[]).map((r) => String(Object.values(r)[0])).join(' ');
    if (!/ALL PRIVILEGES ON \*\.\*|PROCESS/i.test(grants)) out.push(warn('identity_process', 'without the PROCESS privilege only this user\'s own sessions are visible', 'GRANT PROCESS ON *.* TO <rowtrail user>'));
    return out;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Identity doctor lines for one source. Connection failures become one `fail` line (the source's own
 * doctor reports connectivity in detail).
 */
export async function identityDoctor(source: SourceConfig, deps: { url: string; kind: 'postgres' | 'mysql'; stats?: AttributionStats | null }): Promise<Check[]> {
  let checks: Check[];
  try {
    checks = deps.kind === 'postgres' ? await postgresChecks(source, deps.url) : await mysqlChecks(deps.url);
  } catch (e: any) {
    checks = [fail('identity', `identity checks could not run: ${String(e?.message ?? e).split('\n')[0]}`)];
  }
  const rate = attributionCheck(deps.stats);
  if (rate) checks.push(rate);
  return checks;
}
