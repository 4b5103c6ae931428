/**
 * `rowtrail doctor` for a MySQL / MariaDB source: one line per check, the fix beside every problem.
 */
import type { SourceConfig } from '../../config/index.js';
import { fail, ok, warn, type Check } from '../checks.js';
import { oneLine } from '../../errors.js';
import { classify, close, connect, parseUrl, query, serverFacts, type Conn, type ServerFacts } from './mysql-client.js';
import { mariadbPurged, parseFilePos, positionKind } from './mysql-position.js';
import { defaultServerId, MY_CNF, oldestGtidState, settingProblems, watchFilter } from './mysql-settings.js';

export interface MysqlDoctorOptions {
  /** The source's stored position (from the store), to check it is still in the binlog. */
  position?: string | null;
}

export async function mysqlDoctor(url: string, cfg: SourceConfig, opts: MysqlDoctorOptions = {}): Promise<Check[]> {
  const checks: Check[] = [];
  let info;
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
    return [fail('connect', oneLine(err), err.code === 'AUTH' ? 'check the user and password (ROWTRAIL_<NAME>_PASSWORD or the url)' : `check that the server runs at ${info.host}:${info.port}`)];
  }
  try {
    const f = await serverFacts(conn);
    checks.push(ok('connect', `connected to ${f.mariadb ? 'MariaDB' : 'MySQL'} ${f.version} at ${info.host}:${info.port} as ${info.user}`));
    const [maj, min] = f.version.split(/[.-]/).map(Number);
    const supported = f.mariadb ? maj > 10 || (maj === 10 && min >= 6) : maj >= 8;
    checks.push(supported ? ok('version', `server version ${f.version} is supported`) : warn('version', `server version ${f.version} is older than supported (MySQL 8.0+, MariaDB 10.6+)`, 'upgrade the server'));

    const problems = settingProblems(f);
    checks.push(...problems);
    const has = (id: string) => problems.some((p) => p.id === id);
    if (f.logBin) {
      checks.push(ok('log_bin', 'the binary log is on'));
      for (const [id, msg] of [
        ['binlog_format', 'binlog_format=ROW'],
        ['binlog_row_image', 'binlog_row_image=FULL'],
        ['binlog_row_metadata', 'binlog_row_metadata=FULL'],
      ] as const)
        if (!has(id)) checks.push(ok(id, msg));
      if (!has('binlog_transaction_compression'))
        checks.push(ok('binlog_compression', f.logBinCompress ? 'log_bin_compress=ON: MariaDB compressed row events are decoded' : 'binlog transaction compression is off'));
      if (!has('binlog_row_value_options')) checks.push(ok('binlog_row_value_options', 'binlog_row_value_options is empty (full JSON images)'));
      if (f.mariadb) {
        checks.push(
          f.annotateRows
            ? ok('binlog_annotate_row_events', 'binlog_annotate_row_events=ON (statements available for attribution)')
            : warn('binlog_annotate_row_events', 'binlog_annotate_row_events=OFF: DML carries no statement text, attribution degrades', `SET GLOBAL binlog_annotate_row_events=ON; ${MY_CNF}`),
        );
      }
    }

    checks.push(...(await grantChecks(conn, info.user)));
    checks.push(...(await serverIdChecks(conn, f, cfg)));
    if (f.logBin) checks.push(...(await retentionChecks(conn, f, opts.position ?? null)));
    checks.push(...(await tableChecks(conn, cfg, info.database)));
  } catch (e) {
    checks.push(fail('doctor', `doctor could not finish: ${oneLine(classify(e, info))}`));
  } finally {
    close(conn);
  }
  return checks;
}

async function grantChecks(conn: Conn, user: string): Promise<Check[]> {
  let grants: string[];
  try {
    grants = (await query<Record<string, string>>(conn, 'SHOW GRANTS FOR CURRENT_USER()')).map((r) => String(Object.values(r)[0]));
  } catch (e) {
    return [warn('grants', `cannot read the user's grants: ${oneLine(e)}`)];
  }
  const global = grants.filter((g) => /\bON\s+\*\.\*\s+TO\b/i.test(g)).join(' ').toUpperCase();
  const all = /GRANT ALL PRIVILEGES ON \*\.\*/.test(global);
  const slave = all || /REPLICATION (SLAVE|REPLICA)\b/.test(global);
  const client = all || /REPLICATION CLIENT|BINLOG MONITOR|SUPER\b/.test(global);
  const missing = [!slave && 'REPLICATION SLAVE', !client && 'REPLICATION CLIENT'].filter(Boolean) as string[];
  if (!missing.length) return [ok('grants', `${user} has REPLICATION SLAVE and REPLICATION CLIENT`)];
  return [fail('grants', `${user} lacks ${missing.join(' and ')}`, `GRANT ${missing.join(', ')} ON *.* TO '${user}'@'%'`)];
}

async function serverIdChecks(conn: Conn, f: ServerFacts, cfg: SourceConfig): Promise<Check[]> {
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
    } catch {
      return [ok('server_id', `serverId ${id} (replica list not readable, clash with other replicas not checked)`)];
    }
  }
  const clash = hosts.find((h) => Number(h.Server_id) === id && !String(h.Host ?? '').startsWith(`rowtrail-${cfg.name}`));
  if (clash) {
    return [fail('server_id', `serverId ${id} is already used by replica ${String(clash.Host ?? '?')}`, `set sources[].serverId of ${cfg.name} to a number no other replica uses`)];
  }
  return [ok('server_id', `serverId ${id} is unique among the server's replicas`)];
}

async function retentionChecks(conn: Conn, f: ServerFacts, position: string | null): Promise<Check[]> {
  const out: Check[] = [];
  const v = await query<{ Variable_name: string; Value: string }>(
    conn,
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('expire_logs_days','binlog_expire_logs_seconds')`,
  );
  const m = new Map(v.map((r) => [r.Variable_name, Number(r.Value)]));
  const secs = m.get('binlog_expire_logs_seconds') || (m.get('expire_logs_days') ?? 0) * 86400;
  if (secs > 0 && secs < 86400) out.push(warn('binlog_retention', `binlogs are kept ${Math.round(secs / 3600)} h: a longer stop of rowtrail loses its position`, 'SET GLOBAL binlog_expire_logs_seconds=604800 (7 days)'));
  else out.push(ok('binlog_retention', secs > 0 ? `binlogs are kept ${Math.round(secs / 86400)} days` : 'binlogs are kept until purged by hand'));
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
    out.push(warn('position', `cannot check the stored position ${position}: ${oneLine(e)}`));
    return out;
  }
  out.push(
    purged
      ? fail('position', `the binlog holding the stored position ${position} was purged: a restart cannot resume`, "reset this source's stored position to capture from now (changes in the gap are lost), and raise binlog retention")
      : ok('position', `the stored position ${position} is still in the binlog`),
  );
  void f;
  return out;
}

async function tableChecks(conn: Conn, cfg: SourceConfig, database: string | null): Promise<Check[]> {
  const out: Check[] = [];
  const rows = await query<{ db: string; t: string; pk: number | string }>(
    conn,
    `SELECT t.TABLE_SCHEMA AS db, t.TABLE_NAME AS t,
        EXISTS (SELECT 1 FROM information_schema.TABLE_CONSTRAINTS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA
          AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = 'PRIMARY KEY') AS pk
     FROM information_schema.TABLES t WHERE t.TABLE_TYPE = 'BASE TABLE'
       AND t.TABLE_SCHEMA NOT IN ('mysql','sys','information_schema','performance_schema')`,
  );
  const watch = watchFilter(cfg.tables, database);
  const present = new Set(rows.map((r) => `${r.db}.${r.t}`));
  for (const t of cfg.tables ?? []) {
    if (!present.has(t)) out.push(fail('tables', `watched table ${t} does not exist`, `create it, or remove it from sources[].tables of ${cfg.name}`));
  }
  const noPk = rows.filter((r) => watch(r.db, r.t) && Number(r.pk) !== 1).map((r) => `${r.db}.${r.t}`);
  if (noPk.length) {
    out.push(
      warn(
        'primary_key',
        `${noPk.length} watched table(s) without a primary key (undo cannot target their rows): ${noPk.slice(0, 5).join(', ')}${noPk.length > 5 ? ', …' : ''}`,
        `ALTER TABLE ${noPk[0]} ADD PRIMARY KEY (…)`,
      ),
    );
  } else out.push(ok('primary_key', 'every watched table has a primary key'));
  return out;
}
