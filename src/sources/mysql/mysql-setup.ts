/**
 * `rowtrail setup` for a MySQL / MariaDB source. The binlog needs no objects on the server, but setup still
 * connects and checks what capture needs (credentials, binlog settings, replication grants, watched tables),
 * so that "setup passed" means the source can start; `rowtrail doctor` gives the full list with every fix.
 */
import type { SourceConfig } from '../../config/index.js';
import { RowtrailError } from '../../errors.js';
import type { SetupOptions, SetupResult } from '../setup.js';
import { classify, close, connect, parseUrl, serverFacts, type Conn } from './mysql-client.js';
import { missingTables, settingProblems } from './mysql-settings.js';
import { accountOf, globalGrants } from './mysql-grants.js';

export async function mysqlSetup(url: string, cfg: SourceConfig, opts: SetupOptions = {}): Promise<SetupResult> {
  const info = parseUrl(url);
  let conn: Conn | null = null;
  try {
    conn = await connect(info);
  } catch (e) {
    throw classify(e, info);
  }
  try {
    const res: SetupResult = { statements: [], notes: [], problems: [] };
    if (opts.uninstall) {
      res.notes.push('nothing to remove on MySQL/MariaDB (rowtrail creates no objects there)');
      return res;
    }
    const f = await serverFacts(conn);
    const problems = settingProblems(f).map((p) => `${p.message} (fix: ${p.fix})`);
    const g = await globalGrants(conn).catch(() => null);
    const account = await accountOf(conn, info.user);
    if (g && !(g.all || (g.has(/REPLICATION (SLAVE|REPLICA)\b/) && g.has(/REPLICATION CLIENT|BINLOG MONITOR|SUPER\b/)))) {
      problems.push(
        `${account} lacks REPLICATION SLAVE / REPLICATION CLIENT (fix: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO ${account})`,
      );
    }
    const probe = await missingTables(conn, cfg, info.database);
    if (probe.missing.length)
      problems.push(`watched table(s) not found: ${probe.missing.join(', ')} (fix: create them or correct sources[].tables)`);
    if (probe.unknown.length)
      res.notes.push(
        `cannot tell whether ${probe.unknown.join(', ')} exist: ${account} may not read them (GRANT SELECT to let doctor check)`,
      );
    res.problems = problems;
    if (problems.length && !opts.dryRun) {
      throw new RowtrailError(
        'SERVER_SETTING',
        `${cfg.name}: capture cannot start: ${problems.join('; ')}; run rowtrail doctor for the settings block and GRANT`,
      );
    }
    res.notes.push(
      'nothing to create on MySQL/MariaDB; ' +
        (problems.length ? `${problems.length} problem(s) to fix first (rowtrail doctor)` : 'the binlog settings and grants are ready for capture'),
    );
    return res;
  } finally {
    close(conn);
  }
}
