/**
 * Doctor lines for identity: is precise mode installed in the current version on the watched tables, can
 * the sampler see other sessions, and what share of transactions was attributed.
 */
import pg from 'pg';
import type { SourceConfig } from '../config/index.js';
import { oneLine } from '../errors.js';
import { cannot, ok, warn, fail, type Check } from '../sources/checks.js';
import { classify, close, connect, parseUrl, query } from '../sources/mysql/mysql-client.js';
import { accountOf, globalGrants, grantOn } from '../sources/mysql/mysql-grants.js';
import { preciseSince } from './precise-scope.js';
import type { ResolverStats } from './resolver.js';
import { preciseStatus, PRECISE_VERSION } from './postgres-precise.js';
import { activityVisibility } from './postgres-sampler.js';

/** Attribution counts: a live resolver's, or the store's (which does not know preciseMissing). */
export type AttributionStats = Omit<ResolverStats, 'preciseMissing'> & { preciseMissing?: number };

/** What the attribution advice depends on: the database and the identity mode in force. */
export interface AttributionContext {
  kind: 'postgres' | 'mysql';
  /** PostgreSQL: the mode in force (precise only when its triggers are installed). */
  mode?: 'precise' | 'sampling';
  /** Since when the counted transactions run (ms), when it is not the default last 24 hours. */
  sinceMs?: number | null;
}

/** The attribution line from resolver stats (null when nothing was resolved yet). */
export function attributionCheck(stats: AttributionStats | null | undefined, ctx: AttributionContext = { kind: 'postgres' }): Check | null {
  if (!stats) return null;
  const n = stats.exact + stats.inferred + stats.unknown;
  if (n === 0) return null;
  const pct = (x: number) => `${((100 * x) / n).toFixed(1)}%`;
  const missing = stats.preciseMissing ? `; ${stats.preciseMissing} changed a precise-mode table without its session message` : '';
  const window = ctx.sinceMs ? ` since precise mode was installed (${new Date(ctx.sinceMs).toISOString()})` : '';
  const mode = ctx.kind === 'postgres' ? `${ctx.mode ?? 'sampling'} mode: ` : '';
  const split = `exact ${pct(stats.exact)}, inferred ${pct(stats.inferred)}, unknown ${pct(stats.unknown)}`;
  const msg = `${mode}attributed ${pct(stats.attributed)} of ${n} transactions${window} (${split})${missing}`;
  if (ctx.kind === 'mysql') {
    // MariaDB logs no thread id with row events: inferred (statement text matched in the history) is its best.
    if (stats.unknown === 0) return ok('identity_rate', msg);
    return warn(
      'identity_rate',
      msg,
      'enable the performance_schema statement history (see identity_history) and PROCESS; for the agent behind a shared ' +
        "account, add a comment to its statements: /*agent='deploy-bot',run='r-17'*/",
    );
  }
  if (stats.exact === n) return ok('identity_rate', msg);
  return warn(
    'identity_rate',
    msg,
    ctx.mode === 'precise'
      ? 'writes without a session message: check the identity_precise line (tables without the trigger) and preciseMissing'
      : 'identity: precise in the source config, then rowtrail setup (exact attribution under any concurrency)',
  );
}

/** Which tables precise mode should cover for this source (null = every table). */
export function preciseTablesOf(source: SourceConfig): string[] | null {
  return source.preciseTables ?? source.tables ?? null;
}

interface IdentityLines {
  checks: Check[];
  ctx: AttributionContext;
}

async function postgresChecks(source: SourceConfig, url: string): Promise<IdentityLines> {
  const c = new pg.Client({ connectionString: url, application_name: 'rowtrail-doctor' });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const out: Check[] = [];
    const mode = source.identity ?? 'sampling';
    const st = await preciseStatus(c);
    if (mode === 'precise') {
      if (st.version === null)
        out.push(fail('identity_precise', 'identity: precise, but the precise-mode triggers are not installed', 'rowtrail setup'));
      else if (st.version !== PRECISE_VERSION)
        out.push(
          warn(
            'identity_precise',
            `precise-mode triggers are version ${st.version}, this rowtrail installs ${PRECISE_VERSION}`,
            'rowtrail setup (replaces the old version)',
          ),
        );
      else {
        const want = preciseTablesOf(source);
        const missing = want ? want.filter((t) => !st.tables.includes(t)) : [];
        if (missing.length)
          out.push(
            warn('identity_precise', `no identity trigger on ${missing.join(', ')}: those writes fall back to sampling`, 'rowtrail setup'),
          );
        else if (!!source.preciseNative !== st.native)
          out.push(
            warn(
              'identity_precise',
              `the installed statement trigger is the ${st.native ? 'native (C)' : 'PL/pgSQL'} one, ` +
                `the config asks for ${source.preciseNative ? 'native' : 'PL/pgSQL'}`,
              'rowtrail setup (replaces it)',
            ),
          );
        else
          out.push(
            ok(
              'identity_precise',
              `precise identity v${st.version}${st.native ? ' (native trigger)' : ''} on ${st.tables.length} table(s)`,
            ),
          );
        if (!st.ddl)
          out.push(
            warn(
              'identity_ddl',
              'DDL event triggers missing: DDL is not attributed and new tables get no identity trigger',
              'rowtrail setup as a superuser',
            ),
          );
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
      out.push(
        warn(
          'identity_precise',
          'precise-mode triggers are installed but this source is in sampling mode',
          'identity: precise, or rowtrail setup --uninstall',
        ),
      );
    }
    const limited = await activityVisibility(c);
    const me = (await c.query('SELECT current_user AS u')).rows[0].u as string;
    out.push(
      limited
        ? warn('identity_sampling', limited, undefined, { grants: [`GRANT pg_read_all_stats TO "${me.replace(/"/g, '""')}";`] })
        : ok('identity_sampling', 'the sampler can see every session in pg_stat_activity'),
    );
    const inForce = mode === 'precise' && st.version !== null ? 'precise' : 'sampling';
    return {
      checks: out,
      ctx: { kind: 'postgres', mode: inForce, sinceMs: inForce === 'precise' ? await preciseSince(c, source.name) : null },
    };
  } finally {
    await c.end().catch(() => undefined);
  }
}

const HISTORY_SETTINGS = [
  'performance_schema_consumer_events_statements_current=ON',
  'performance_schema_consumer_events_statements_history_long=ON',
];

/**
 * What the MySQL/MariaDB sampler needs: PROCESS (other users' sessions), performance_schema on, its statement
 * history consumers on, and SELECT on performance_schema (threads, statement history, connect attributes).
 * Each is checked on its own; one it cannot read says so with the grant.
 */
async function mysqlChecks(url: string): Promise<IdentityLines> {
  const info = parseUrl(url);
  const c = await connect(info);
  try {
    const out: Check[] = [];
    const account = await accountOf(c, info.user);
    const psGrant = grantOn('SELECT', 'performance_schema.*', account);
    const g = await globalGrants(c).catch(() => null);
    if (!g) out.push(cannot('identity_process', 'the PROCESS privilege', 'SHOW GRANTS failed'));
    else if (g.all || g.has(/\bPROCESS\b/)) out.push(ok('identity_process', `${account} has PROCESS (the sampler sees every session)`));
    else
      out.push(
        warn(
          'identity_process',
          `${account} lacks PROCESS: only its own sessions are visible, other users' transactions stay unknown`,
          `GRANT PROCESS ON *.* TO ${account}`,
          {
            grants: [grantOn('PROCESS', '*.*', account)],
          },
        ),
      );
    const psOn = Number((await query<{ ps: string }>(c, 'SELECT @@performance_schema AS ps'))[0]?.ps) === 1;
    const psRead = !!g && (g.all || g.onSchema('performance_schema', 'SELECT'));
    if (!psRead)
      out.push(
        warn(
          'identity_ps_grant',
          `${account} may not read performance_schema (statement history, threads)`,
          `GRANT SELECT ON performance_schema.* TO ${account}`,
          {
            grants: [psGrant],
          },
        ),
      );
    if (!psOn) {
      out.push(
        warn(
          'identity_history',
          'performance_schema is off: no statement history, attribution relies on sampling the current statement (MariaDB logs no thread id for row events)',
          'start the server with performance_schema=ON and the statement history consumers (restart)',
          { settings: ['performance_schema=ON', ...HISTORY_SETTINGS], restart: true },
        ),
      );
    } else {
      try {
        const rows = await query<{ NAME: string; ENABLED: string }>(
          c,
          "SELECT NAME, ENABLED FROM performance_schema.setup_consumers WHERE NAME IN ('events_statements_current', 'events_statements_history_long')",
        );
        // events_statements_history_long records nothing while events_statements_current is off (mysql-sampler.ts).
        const on = rows.filter((r) => r.ENABLED === 'YES').length === 2;
        out.push(
          on
            ? ok('identity_history', 'statement history (history_long) is read for attribution')
            : warn(
                'identity_history',
                'the performance_schema statement history consumers are off: attribution relies on sampling the current statement',
                "UPDATE performance_schema.setup_consumers SET ENABLED='YES' " +
                  "WHERE NAME IN ('events_statements_current', 'events_statements_history_long') (and in my.cnf)",
                { settings: HISTORY_SETTINGS },
              ),
        );
      } catch (e) {
        out.push(
          cannot(
            'identity_history',
            'the statement history consumers',
            oneLine(classify(e, info)),
            `GRANT SELECT ON performance_schema.* TO ${account}`,
            { grants: [psGrant] },
          ),
        );
      }
    }
    return { checks: out, ctx: { kind: 'mysql' } };
  } finally {
    close(c);
  }
}

/**
 * Identity doctor lines for one source. Connection failures become one `fail` line (the source's own
 * doctor reports connectivity in detail). `attribution(sinceMs)` reads the counts (the store's), over the last
 * 24 hours or, in precise mode, since precise mode was installed.
 */
export async function identityDoctor(
  source: SourceConfig,
  deps: { url: string; kind: 'postgres' | 'mysql'; attribution?: (sinceMs: number) => AttributionStats | null },
): Promise<Check[]> {
  let lines: IdentityLines;
  try {
    lines = deps.kind === 'postgres' ? await postgresChecks(source, deps.url) : await mysqlChecks(deps.url);
  } catch (e) {
    return [cannot('identity', 'identity', oneLine(e))];
  }
  const day = Date.now() - 86_400_000;
  const since = lines.ctx.sinceMs && lines.ctx.sinceMs > day ? lines.ctx.sinceMs : null;
  const rate = attributionCheck(deps.attribution?.(since ?? day), { ...lines.ctx, sinceMs: since });
  if (rate) lines.checks.push(rate);
  return lines.checks;
}
