/**
 * `rowtrail doctor` lines for guards: can they act on this source (PostgreSQL 14+ streaming, precise identity,
 * the privilege to signal other backends and to see their transactions), and how early they see a transaction
 * (the `logical_decoding_work_mem` rowtrail sets on its replication connection). MySQL/MariaDB: nothing to stop.
 */
import pg from 'pg';
import { decodingWorkMem, guardsFor, type Config, type SourceConfig } from '../config/index.js';
import { oneLine } from '../errors.js';
import { cannot, ok, warn, type Check } from '../sources/checks.js';

const quote = (s: string): string => '"' + s.replace(/"/g, '""') + '"';

export async function guardDoctor(cfg: Config, source: SourceConfig, url: string): Promise<Check[]> {
  if (!cfg.guards.length) return [];
  if (source.kind !== 'postgres') {
    return [
      ok(
        'guards',
        'guards do not watch MySQL/MariaDB: the binlog is written at commit, so there is nothing in flight to stop ' +
          '(bound runaway statements with max_execution_time / max_statement_time or a proxy instead)',
      ),
    ];
  }
  const guards = guardsFor(cfg, source);
  if (!guards.length) return [];
  const acting = guards.filter((g) => g.action !== 'alert');
  const checks: Check[] = [];
  const mem = decodingWorkMem(cfg, source) ?? 'the server default';
  checks.push(
    ok(
      'guards_threshold',
      `${guards.length} guard(s); a transaction streams to rowtrail before commit once its decoded changes pass ${mem} ` +
        `(logical_decoding_work_mem of rowtrail's replication connection): a guard fires at most that much after its line`,
    ),
  );
  if (!acting.length) {
    checks.push(ok('guards_act', 'every guard is a dry run (action: alert): no session is ever ended'));
    return checks;
  }
  if (source.identity !== 'precise') {
    checks.push(
      warn(
        'guards_precise',
        `guards ${acting.map((g) => g.name).join(', ')} act only on exact actors named by precise identity; ` +
          'this source is in sampling mode, so they only alert',
        `set identity: precise on source '${source.name}' and run rowtrail setup`,
      ),
    );
  }
  const client = new pg.Client({ connectionString: url, application_name: 'rowtrail-doctor', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = (
      await client.query(
        `SELECT current_user AS me, current_setting('server_version_num')::int AS version,
                r.rolsuper AS superuser,
                pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS can_signal,
                pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS can_see
           FROM pg_roles r WHERE r.rolname = current_user`,
      )
    ).rows[0];
    if (r.version < 140000) {
      const msg = 'PostgreSQL before 14 does not stream in-progress transactions: guards see a transaction only once it committed';
      checks.push(warn('guards_stream', msg, 'upgrade to PostgreSQL 14 or newer'));
    }
    const names = acting.map((g) => g.name).join(', ');
    if (r.superuser) checks.push(ok('guards_act', `${r.me} is a superuser: guards can cancel and terminate sessions (${names})`));
    else {
      if (!r.can_signal) {
        checks.push(
          warn('guards_act', `${r.me} cannot signal other sessions: guards ${names} will alert but not act`, undefined, {
            grants: [`GRANT pg_signal_backend TO ${quote(r.me)};`],
          }),
        );
      } else checks.push(ok('guards_act', `${r.me} has pg_signal_backend: guards can cancel and terminate non-superuser sessions`));
      if (!r.can_see) {
        checks.push(
          warn('guards_see', `${r.me} cannot see other roles' transactions in pg_stat_activity: a guard cannot confirm whom to end`, undefined, {
            grants: [`GRANT pg_read_all_stats TO ${quote(r.me)};`],
          }),
        );
      }
    }
  } catch (e) {
    checks.push(cannot('guards_act', 'whether guards can act', oneLine(e)));
  } finally {
    await client.end().catch(() => undefined);
  }
  return checks;
}
