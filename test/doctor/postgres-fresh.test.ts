/**
 * A PostgreSQL as a DBA finds it (wal_level=replica) and a capture role with only LOGIN: one `doctor` run
 * names every problem, and its postgresql.conf block and GRANT / ALTER ROLE statements, applied exactly as
 * printed with one restart (plus the SQL of `setup --dry-run`, run by the DBA), give a clean doctor.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { runCli } from '../harness/cli.js';
import { doctorJson, notOk, tempDir, writeConfig } from './helpers.js';

const run = promisify(execFile);

/** As a DBA runs a script: `psql -f`, one statement at a time (a slot cannot be created in a transaction that wrote). */
async function psqlFile(pg: PgServer, sql: string, db: string): Promise<void> {
  const f = join(tempDir('sql'), 'setup.sql');
  writeFileSync(f, sql);
  await run(join(pg.bin, 'psql'), [
    '-X',
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    '127.0.0.1',
    '-p',
    String(pg.port),
    '-U',
    'postgres',
    '-d',
    db,
    '-f',
    f,
  ]);
}

describe('doctor on a fresh PostgreSQL', () => {
  let pg: PgServer;
  let dir: string;
  beforeAll(async () => {
    pg = await startPostgres({ bare: true });
    dir = tempDir('doctor-pg');
    await pg.psql(`CREATE DATABASE app`);
    await pg.psql(`CREATE TABLE public.keyed (id int PRIMARY KEY, v text); CREATE ROLE rt LOGIN`, 'app');
  });
  afterAll(async () => {
    await pg?.destroy();
  });

  it('lists every problem in one run; settings and grants applied once, one restart, setup SQL by the DBA: clean', async () => {
    const config = writeConfig(dir, 'postgres', pg.url('app', 'rt'), '    tables: [public.keyed]\n');
    const first = await doctorJson(config);
    expect(first.r.code).toBe(1);
    expect(first.byId.wal_level[0]).toMatchObject({ level: 'fail' });
    expect(first.byId.replication_role[0]).toMatchObject({ level: 'fail' });
    expect(first.byId.identity_sampling[0]).toMatchObject({ level: 'warn' });
    expect(first.byId.slot[0].fix).toContain('rowtrail setup --dry-run');
    expect(first.summary.settings).toEqual(['wal_level = logical']);
    expect(first.summary.restartFor).toEqual(['wal_level']);
    expect(first.summary.grants).toEqual(['ALTER ROLE "rt" REPLICATION;', 'GRANT pg_read_all_stats TO "rt";']);

    // The preview prints even before the restart, with the blocking problem first.
    const preview = await runCli(['setup', '--config', config, '--dry-run', '--replica-identity', 'full']);
    expect(preview.code).toBe(0);
    const lines = preview.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^-- BLOCKING: wal_level is 'replica'/);
    expect(preview.stdout).toContain(`pg_create_logical_replication_slot('rowtrail_app', 'pgoutput');`);

    appendFileSync(join(pg.dir, 'data', 'postgresql.conf'), first.summary.settings.join('\n') + '\n');
    await pg.psql(first.summary.grants.join('\n'), 'app');
    await pg.restart();

    // The capture role owns nothing: setup says everything it lacks at once and points to --dry-run.
    const refused = await runCli(['setup', '--config', config, '--replica-identity', 'full']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(
      /role rt cannot run setup of app: .*CREATE on database app.*table owner or a superuser: public\.keyed.*rowtrail setup --dry-run --source app/,
    );

    // The DBA runs the preview's SQL as a superuser.
    const sql = (await runCli(['setup', '--config', config, '--dry-run', '--replica-identity', 'full'])).stdout;
    expect(sql).not.toContain('BLOCKING');
    await psqlFile(pg, sql, 'app');

    const second = await doctorJson(config);
    expect(notOk(second.checks)).toEqual([]);
    expect(second.r.code).toBe(0);
    expect(second.summary.grants).toEqual([]);
  });
});
