/**
 * docker-compose.yml (Docker cannot run here): valid against the Compose Specification schema, wired as a
 * first `up` needs (every service healthy before rowtrail starts, rowtrail's config naming the services, the
 * passwords it reads set, its store a volume the image makes writable), and the databases' settings and grants
 * as `rowtrail doctor` requires them — checked by running doctor against MariaDB and PostgreSQL servers started
 * with the compose file's own settings and init scripts, and for MySQL 8.4 (not installed here) by doctor's
 * settings check on the server defaults plus the compose flags.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig, passwordEnvName } from '../../src/config/index.js';
import { settingProblems } from '../../src/sources/mysql/mysql-settings.js';
import type { ServerFacts } from '../../src/sources/mysql/mysql-client.js';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { doctorJson, notOk, tempDir } from '../doctor/helpers.js';
import { runCli } from '../harness/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const compose = parseYaml(read('docker-compose.yml')) as { services: Record<string, any>; volumes: Record<string, unknown> };
const S = compose.services;
const rtConfig = parseConfig(parseYaml(read('deploy/rowtrail.compose.yaml')), {});

/** `--binlog-format=ROW` → ['binlog_format', 'ROW'] (the server's variable names use _). */
function flags(cmd: string[]): Map<string, string> {
  return new Map(cmd.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=') as [string, string]).map(([k, v]) => [k.replace(/-/g, '_'), v ?? 'ON']));
}

const servers: { destroy(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of servers) await s.destroy();
});

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const require = createRequire(import.meta.url);
    const Ajv = require('ajv') as typeof import('ajv').default;
    const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;
    const schema = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'compose-spec.json'), 'utf8'));
    delete schema.$schema; // ajv does not know that draft-07 id (RECIPES.md)
    const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
  });

  it('starts rowtrail after every other service is healthy, with a restart policy and a healthcheck everywhere', () => {
    expect(Object.keys(S).sort()).toEqual(['elasticsearch', 'kibana', 'mariadb', 'mysql', 'postgres', 'rowtrail']);
    for (const [name, s] of Object.entries(S)) {
      expect(s.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      expect(s.restart, `${name} restart`).toBe('unless-stopped');
    }
    for (const dep of ['postgres', 'mariadb', 'mysql', 'elasticsearch', 'kibana']) expect(S.rowtrail.depends_on[dep]).toEqual({ condition: 'service_healthy' });
    for (const [name, s] of Object.entries(S)) for (const p of s.ports ?? []) expect(p, `${name} publishes on localhost only`).toMatch(/^127\.0\.0\.1:/);
  });

  it("rowtrail's config names the compose services, and every password it reads is set", () => {
    const hostPort = (u: string) => [new URL(u).hostname, new URL(u).port];
    const byHost: Record<string, string> = { postgres: '5432', mariadb: '3306', mysql: '3306' };
    expect(rtConfig.sources.map((s) => s.kind)).toEqual(['postgres', 'mysql', 'mysql']);
    for (const s of rtConfig.sources) {
      const [host, port] = hostPort(s.url);
      expect(S[host!], `${s.name} → ${host}`).toBeDefined();
      expect(port).toBe(byHost[host!]);
      expect(S.rowtrail.environment[passwordEnvName(s.name)], passwordEnvName(s.name)).toBeDefined();
    }
    // The database passwords the services create their accounts with are the ones rowtrail reads.
    expect(S.postgres.environment.POSTGRES_PASSWORD).toBe(S.rowtrail.environment.ROWTRAIL_APP_PG_PASSWORD);
    expect(S.mariadb.environment.MARIADB_PASSWORD).toBe(S.rowtrail.environment.ROWTRAIL_SHOP_PASSWORD);
    expect(S.mysql.environment.MYSQL_PASSWORD).toBe(S.rowtrail.environment.ROWTRAIL_INVENTORY_PASSWORD);
    expect(hostPort(rtConfig.elasticsearch!.node!)).toEqual(['elasticsearch', '9200']);
    expect(hostPort(rtConfig.elasticsearch!.kibanaUrl!)).toEqual(['kibana', '5601']);
    expect(rtConfig.http.host).toBe('0.0.0.0');
    expect(S.rowtrail.ports).toEqual([`127.0.0.1:${rtConfig.http.port}:${rtConfig.http.port}`]);
    // Every ${VAR} of the compose file is in .env.example.
    const vars = new Set([...read('docker-compose.yml').matchAll(/\$\{([A-Z_]+)[:}-]/g)].map((m) => m[1]));
    const example = new Set(read('.env.example').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]));
    for (const v of vars) expect(example.has(v!), `.env.example lacks ${v}`).toBe(true);
  });

  it("the rowtrail image runs setup, doctor and setup elastic before watch, and its store directory is the node user's", () => {
    const mounts = S.rowtrail.volumes as string[];
    expect(mounts).toContain(`rowtraildata:${rtConfig.store.path}`);
    expect(S.rowtrail.entrypoint).toEqual(['/app/deploy/rowtrail-entrypoint.sh']);
    const script = read('deploy/rowtrail-entrypoint.sh');
    const steps = script.split('\n').filter((l) => /^(rowtrail|exec) /.test(l));
    expect(steps).toEqual([
      'rowtrail setup --config "$CONFIG"',
      'rowtrail doctor --config "$CONFIG"',
      'rowtrail setup elastic --config "$CONFIG"',
      'exec node /app/bin/rowtrail.js watch --config "$CONFIG"',
    ]);
    expect(script).toMatch(/^set -eu$/m); // a failing step stops the container (and the restart policy retries)
    const docker = read('Dockerfile');
    expect(docker).toMatch(/mkdir -p \/var\/lib\/rowtrail && chown node:node \/var\/lib\/rowtrail/);
    expect(docker.indexOf('chown node:node /var/lib/rowtrail')).toBeLessThan(docker.indexOf('USER node'));
    expect(docker).toContain('COPY dashboards ./dashboards');
    expect(docker).toContain('COPY deploy/rowtrail-entrypoint.sh ./deploy/rowtrail-entrypoint.sh');
    // What the image's build copies must exist in a clean checkout.
    for (const m of docker.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) for (const f of m[1]!.split(' ')) expect(readdirSync(ROOT), f).toContain(f.split('/')[0]);
  });

  it('MySQL 8.4: its defaults plus the compose flags pass the settings doctor checks', () => {
    const f = flags(S.mysql.command);
    // MySQL 8.4's defaults for what the flags do not set.
    const facts: ServerFacts = {
      version: '8.4.3',
      mariadb: false,
      serverId: Number(f.get('server_id') ?? 1),
      logBin: (f.get('log_bin') ?? 'binlog') !== 'OFF',
      binlogFormat: f.get('binlog_format') ?? 'ROW',
      rowImage: f.get('binlog_row_image') ?? 'FULL',
      rowMetadata: f.get('binlog_row_metadata') ?? 'MINIMAL',
      checksum: true,
      gtidMode: f.get('gtid_mode') === 'ON',
      annotateRows: null,
      trxCompression: (f.get('binlog_transaction_compression') ?? 'OFF') === 'ON',
      logBinCompress: false,
      rowValueOptions: f.get('binlog_row_value_options') ?? '',
    };
    expect(settingProblems(facts)).toEqual([]);
    expect(facts.gtidMode).toBe(true);
    expect(rtConfig.sources.find((s) => s.name === 'inventory')!.serverId).not.toBe(facts.serverId);
    expect(read('deploy/mysql-init/10-rowtrail-grants.sql')).toMatch(/GRANT REPLICATION SLAVE, REPLICATION CLIENT, PROCESS ON \*\.\* TO 'rowtrail'@'%'/);
  });

  it('MariaDB started with the compose flags and init script: doctor finds nothing to fix', async () => {
    const m: MariaServer = await startMariadb({ bare: true, args: S.mariadb.command });
    servers.push(m);
    const env = S.mariadb.environment;
    // What the image's entrypoint does with MARIADB_DATABASE / MARIADB_USER, then the init scripts in order.
    await m.sql(`CREATE DATABASE ${env.MARIADB_DATABASE}; CREATE USER '${env.MARIADB_USER}'@'%' IDENTIFIED BY 'pw';
      GRANT ALL ON \`${env.MARIADB_DATABASE}\`.* TO '${env.MARIADB_USER}'@'%'`);
    for (const f of readdirSync(join(ROOT, 'deploy', 'mariadb-init')).sort()) await m.sql(read(`deploy/mariadb-init/${f}`));
    await m.sql(`CREATE TABLE ${env.MARIADB_DATABASE}.orders (id INT PRIMARY KEY, total DECIMAL(10,2))`);
    const shop = rtConfig.sources.find((s) => s.name === 'shop')!;
    const dir = tempDir('compose-maria');
    const cfg = join(dir, 'rowtrail.yaml');
    writeFileSync(cfg, JSON.stringify({ sources: [{ ...shop, url: m.url(env.MARIADB_DATABASE, env.MARIADB_USER, 'pw') }], store: { path: join(dir, 'data') } }));
    const { r, checks } = await doctorJson(cfg);
    expect(notOk(checks)).toEqual([]);
    expect(r.code).toBe(0);
  }, 120_000);

  it('PostgreSQL started with the compose settings: setup then doctor (as the container runs them) finds nothing to fix', async () => {
    const conf = Object.fromEntries(
      (S.postgres.command as string[]).filter((_, i, a) => a[i - 1] === '-c').map((kv) => kv.split('=') as [string, string]),
    );
    const pg: PgServer = await startPostgres({ bare: true, conf });
    servers.push(pg);
    const db = await pg.freshDatabase('compose');
    const app = rtConfig.sources.find((s) => s.name === 'app-pg')!;
    const dir = tempDir('compose-pg');
    const cfg = join(dir, 'rowtrail.yaml');
    writeFileSync(cfg, JSON.stringify({ sources: [{ ...app, url: pg.url(db) }], store: { path: join(dir, 'data') } }));
    const setup = await runCli(['setup', '--config', cfg]);
    expect(setup.code, setup.stderr).toBe(0);
    const { r, checks } = await doctorJson(cfg);
    expect(notOk(checks)).toEqual([]);
    expect(r.code).toBe(0);
  }, 120_000);
});
