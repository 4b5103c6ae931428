/**
 * `rowtrail doctor` for a MySQL / MariaDB source: one line per check, the fix beside every problem. Every
 * check runs on its own: one that cannot read what it needs says `cannot check …` with the grant, and the
 * others still run, so one run shows everything to fix (and doctor gathers the settings and grants).
 */
import type { SourceConfig } from '../../config/index.js';
import { cannot, fail, ok, warn, type Check } from '../checks.js';
import { oneLine } from '../../errors.js';
import { classify, close, connect, parseUrl, query, serverFacts, type Conn, type ConnInfo, type ServerFacts } from './mysql-client.js';
import { mariadbPurged, parseFilePos, positionKind } from './mysql-position.js';
import { binlogRetentionSeconds, defaultServerId, missingTables, MY_CNF, oldestGtidState, settingProblems, watchFilter } from './mysql-settings.js';
import { accountOf, globalGrants, grantOn } from './mysql-grants.js';

export interface MysqlDoctorOptions {
  /** The source's stored position (from the store), to check it is still in the binlog. */
  position?: string | null;
}

/** The server's own words for a refused query (classify() would add the replication GRANT to every 1227). */
function reason(e: unknown, info?: ConnInfo): string {
  const m = (e as { sqlMessage?: string }).sqlMessage;
  return m ? m : oneLine(classify(e, info));
}

/** Runs one check; a query it may not run becomes `cannot check` with the reason, never an exception. */
async function guarded(id: string, what: string, info: ConnInfo, fn: () => Promise<Check[]>): Promise<Check[]> {
  try {
    return await fn();
  } catch (e) {
    return [cannot(id, what, reason(e, info))];
  }
}

export async function mysqlDoctor(url: string, cfg: SourceConfig, opts: MysqlDoctorOptions = {}): Promise<Check[]> {
  let info: ConnInfo;
  try {
    info = parseUrl(url);
  } catch (e) {
    return [fail('url', oneLine(e), 'use mysql://user@host:3306/db')];
  }
  let conn: Conn | null = null;
  try {
    conn = await connect(info);
  } catch (e) {
    const err = classify(e, info);
    return [
      fail(
        'connect',
        oneLine(err),
        err.code === 'AUTH'
          ? 'check the user and password (ROWTRAIL_<NAME>_PASSWORD or the url)'
          : `check that the server runs at ${info.host}:${info.port}`,
      ),
    ];
  }
  const c = conn;
  try {
    const checks: Check[] = [];
    // SHOW GLOBAL VARIABLES needs no privilege: the settings can always be checked.
    const f = await serverFacts(c);
    const account = await accountOf(c, info.user);
    checks.push(ok('connect', `connected to ${f.mariadb ? 'MariaDB' : 'MySQL'} ${f.version} at ${info.host}:${info.port} as ${account}`));
    const [maj, min] = f.version.split(/[.-]/).map(Number);
    const supported = f.mariadb ? maj > 10 || (maj === 10 && min >= 6) : maj >= 8;
    checks.push(
      supported
        ? ok('version', `server version ${f.version} is supported`)
        : warn('version', `server version ${f.version} is older than supported (MySQL 8.0+, MariaDB 10.6+)`, 'upgrade the server'),
    );
    checks.push(...settingChecks(f));
    checks.push(...(await guarded('grants', 'replication grants', info, () => grantChecks(c, info.user, account))));
    checks.push(...(await guarded('server_id', 'the server id', info, () => serverIdChecks(c, f, cfg, account))));
    if (f.logBin)
      checks.push(...(await guarded('binlog_retention', 'binlog retention', info, () => retentionChecks(c, opts.position ?? null))));
    checks.push(...(await guarded('tables', 'the watched tables', info, () => tableChecks(c, cfg, info.database, account))));
    return checks;
  } finally {
    close(conn);
  }
}

/** settingProblems, plus an `ok` line for each setting that is right. */
function settingChecks(f: ServerFacts): Check[] {
  const problems = settingProblems(f);
  const out = [...problems];
  const has = (id: string) => problems.some((p) => p.id === id);
  if (f.logBin) out.push(ok('log_bin', 'the binary log is on'));
  for (const [id, msg] of [
    ['binlog_format', 'binlog_format=ROW'],
    ['binlog_row_image', 'binlog_row_image=FULL'],
    ['binlog_row_metadata', 'binlog_row_metadata=FULL'],
  ] as const)
    if (!has(id)) out.push(ok(id, msg));
  if (!has('binlog_transaction_compression'))
    out.push(
      ok(
        'binlog_compression',
        f.logBinCompress ? 'log_bin_compress=ON: MariaDB compressed row events are decoded' : 'binlog transaction compression is off',
      ),
    );
  if (!has('binlog_row_value_options')) out.push(ok('binlog_row_value_options', 'binlog_row_value_options is empty (full JSON images)'));
  if (f.mariadb) {
    out.push(
      f.annotateRows
        ? ok('binlog_annotate_row_events', 'binlog_annotate_row_events=ON (statements available for attribution)')
        : warn(
            'binlog_annotate_row_events',
            'binlog_annotate_row_events=OFF: DML carries no statement text, attribution degrades',
            `SET GLOBAL binlog_annotate_row_events=ON; ${MY_CNF}`,
            {
              settings: ['binlog_annotate_row_events=ON'],
            },
          ),
    );
  }
  return out;
}

async function grantChecks(conn: Conn, user: string, account: string): Promise<Check[]> {
  const g = await globalGrants(conn);
  const slave = g.all || g.has(/REPLICATION (SLAVE|REPLICA)\b/);
  // MariaDB 10.5+ shows REPLICATION CLIENT as BINLOG MONITOR (same privilege).
  const client = g.all || g.has(/REPLICATION CLIENT|BINLOG MONITOR|SUPER\b/);
  const missing = [!slave && 'REPLICATION SLAVE', !client && 'REPLICATION CLIENT'].filter(Boolean) as string[];
  if (!missing.length) return [ok('grants', `${user} has REPLICATION SLAVE and REPLICATION CLIENT`)];
  return [
    fail('grants', `${user} lacks ${missing.join(' and ')}`, `GRANT ${missing.join(', ')} ON *.* TO ${account}`, {
      grants: missing.map((p) => grantOn(p, '*.*', account)),
    }),
  ];
}

async function serverIdChecks(conn: Conn, f: ServerFacts, cfg: SourceConfig, account: string): Promise<Check[]> {
  const id = cfg.serverId ?? defaultServerId(cfg.name);
  if (id === f.serverId) {
    return [fail('server_id', `serverId ${id} is the server's own server_id`, `set sources[].serverId of ${cfg.name} to another number`)];
  }
  let hosts: Record<string, unknown>[] = [];
  try {
    hosts = await query(conn, f.mariadb ? 'SHOW SLAVE HOSTS' : 'SHOW REPLICAS');
  } catch {
    try {
      hosts = await query(conn, 'SHOW SLAVE HOSTS');
    } catch (e) {
      // MariaDB 10.5+ shows replica hosts only to REPLICATION MASTER ADMIN (MySQL: REPLICATION SLAVE).
      const priv = f.mariadb ? 'REPLICATION MASTER ADMIN' : 'REPLICATION SLAVE';
      return [
        cannot('server_id', `that serverId ${id} is unique among the server's replicas`, reason(e), `GRANT ${priv} ON *.* TO ${account}`, {
          grants: [grantOn(priv, '*.*', account)],
        }),
      ];
    }
  }
  const clash = hosts.find((h) => Number(h.Server_id) === id && !String(h.Host ?? '').startsWith(`rowtrail-${cfg.name}`));
  if (clash) {
    return [
      fail(
        'server_id',
        `serverId ${id} is already used by replica ${String(clash.Host ?? '?')}`,
        `set sources[].serverId of ${cfg.name} to a number no other replica uses`,
      ),
    ];
  }
  return [ok('server_id', `serverId ${id} is unique among the server's replicas`)];
}

async function retentionChecks(conn: Conn, position: string | null): Promise<Check[]> {
  const out: Check[] = [];
  const secs = await binlogRetentionSeconds(conn);
  if (secs > 0 && secs < 86400)
    out.push(
      warn(
        'binlog_retention',
        `binlogs are kept ${Math.round(secs / 3600)} h: a longer stop of rowtrail loses its position`,
        'SET GLOBAL binlog_expire_logs_seconds=604800 (7 days)',
        {
          settings: ['binlog_expire_logs_seconds=604800'],
        },
      ),
    );
  else
    out.push(
      ok('binlog_retention', secs > 0 ? `binlogs are kept ${Math.round(secs / 86400)} days` : 'binlogs are kept until purged by hand'),
    );
  if (!position) return out;
  let purged = false;
  try {
    const kind = positionKind(position);
    if (kind === 'mariadb-gtid') {
      const oldest = await oldestGtidState(conn);
      purged = oldest !== null && mariadbPurged(position, oldest);
    } else if (kind === 'file') {
      const logs = await query<{ Log_name: string }>(conn, 'SHOW BINARY LOGS');
      purged = !logs.some((l) => l.Log_name === parseFilePos(position).file);
    } else {
      const r = await query<{ ok: number | string }>(conn, 'SELECT GTID_SUBSET(@@GLOBAL.gtid_purged, ?) AS ok', [position]);
      purged = Number(r[0].ok) !== 1;
    }
  } catch (e) {
    out.push(cannot('position', `the stored position ${position}`, reason(e)));
    return out;
  }
  out.push(
    purged
      ? fail(
          'position',
          `the binlog holding the stored position ${position} was purged: a restart cannot resume`,
          "reset this source's stored position to capture from now (changes in the gap are lost), and raise binlog retention",
        )
      : ok('position', `the stored position ${position} is still in the binlog`),
  );
  return out;
}

/**
 * Watched tables exist, and have a primary key. Why information_schema.STATISTICS and not TABLE_CONSTRAINTS:
 * MariaDB 10.11 shows TABLE_CONSTRAINTS rows only to users with a privilege other than SELECT on the table
 * (measured: a SELECT-only user saw no primary key on any table), while STATISTICS follows SELECT. Tables the
 * user may not read are invisible there: that is `cannot check`, never "every table has a primary key".
 */
async function tableChecks(conn: Conn, cfg: SourceConfig, database: string | null, account: string): Promise<Check[]> {
  const out: Check[] = [];
  const readable: { db: string; t: string }[] = [];
  const blind: string[] = [];
  if (cfg.tables?.length) {
    const probe = await missingTables(conn, cfg, database);
    for (const t of probe.missing)
      out.push(fail('tables', `watched table ${t} does not exist`, `create it, or remove it from sources[].tables of ${cfg.name}`));
    blind.push(...probe.unknown);
    for (const t of probe.readable) readable.push({ db: t.slice(0, t.indexOf('.')), t: t.slice(t.indexOf('.') + 1) });
  } else {
    // Every table of the url's database (or of every database): the user must be allowed to list them all.
    const scope = database ?? '*';
    const priv = await query<{ n: number | string }>(
      conn,
      `SELECT (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT')
            + (SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT' AND TABLE_SCHEMA = ?) AS n`,
      [database ?? ''],
    );
    if (Number(priv[0]?.n) === 0) blind.push(`${scope}.*`);
    const watch = watchFilter(undefined, database);
    const rows = await query<{ db: string; t: string }>(
      conn,
      `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'
         AND TABLE_SCHEMA NOT IN ('mysql','sys','information_schema','performance_schema')`,
    );
    readable.push(...rows.filter((r) => watch(r.db, r.t)));
  }
  if (blind.length) {
    // Why the database and not each table: MariaDB refuses a table-level GRANT on a table that does not exist
    // (a typo'd name would make the whole block fail), and new tables are covered.
    const schemas = [...new Set(blind.map((t) => (t.includes('.') ? t.slice(0, t.indexOf('.')) : (database ?? '*'))))];
    const grants = schemas.map((d) => grantOn('SELECT', d === '*' ? '*.*' : `\`${d.replace(/`/g, '``')}\`.*`, account));
    out.push(
      cannot(
        'primary_key',
        `primary keys${cfg.tables?.length ? ' (nor whether the table exists)' : ''} of ${blind.join(', ')}`,
        `${account} may not read ${blind.length > 1 ? 'them' : 'it'}; ` +
          `needs SELECT on ${schemas.map((d) => `${d}.*`).join(', ')} (the binlog already carries every row)`,
        grants.map((g) => `GRANT ${g}`).join('; '),
        { grants },
      ),
    );
    if (!readable.length) return out;
  }
  const keyed = new Set(
    (
      await query<{ db: string; t: string }>(
        conn,
        `SELECT DISTINCT TABLE_SCHEMA AS db, TABLE_NAME AS t FROM information_schema.STATISTICS WHERE INDEX_NAME = 'PRIMARY'
           AND TABLE_SCHEMA NOT IN ('mysql','sys','information_schema','performance_schema')`,
      )
    ).map((r) => `${r.db}.${r.t}`),
  );
  const noPk = readable.map((r) => `${r.db}.${r.t}`).filter((t) => !keyed.has(t));
  if (noPk.length) {
    out.push(
      warn(
        'primary_key',
        `${noPk.length} watched table(s) without a primary key (undo cannot target their rows): ${noPk.slice(0, 5).join(', ')}${noPk.length > 5 ? ', …' : ''}`,
        `ALTER TABLE ${noPk[0]} ADD PRIMARY KEY (…)`,
      ),
    );
  } else if (!blind.length) out.push(ok('primary_key', `every watched table has a primary key (${readable.length} checked)`));
  return out;
}
