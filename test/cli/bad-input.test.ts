/**
 * Bad input gets a one-line reason naming what to fix and a non-zero exit where it is fatal; never a stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../harness/cli.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { sharedPg } from '../harness/shared.js';
import { freePort } from '../harness/ports.js';

let dir: string;
let locked: PgServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rowtrail-bad-'));
  // A server that wants a password and is not set up for logical decoding.
  locked = await startPostgres({ password: 's3cret-pw', conf: { wal_level: 'replica' } });
});

afterAll(async () => {
  await locked?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function config(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

function pgConfig(name: string, url: string, extra = ''): string {
  return config(name, `sources:\n  - name: app\n    kind: postgres\n    url: ${url}\n${extra}store:\n  path: ${join(dir, name + '.data')}\n`);
}

/** One line on stderr, starting with `rowtrail:`, and no stack trace. */
function expectOneLine(stderr: string, re: RegExp): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^rowtrail: /);
  expect(lines[0]).toMatch(re);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('bad config', () => {
  it('names a missing config file', async () => {
    const r = await runCli(['changes', '--config', join(dir, 'nope.yaml')]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /nope\.yaml: file not found.*rowtrail init/);
  });

  it('names an unknown key (a typo must not silently disable something)', async () => {
    const f = config('typo.yaml', `sources:\n  - name: app\n    kind: postgres\n    url: postgres://x@h/db\n    tabels: [public.a]\n`);
    const r = await runCli(['doctor', '--config', f]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /sources\[0\].*tabels/);
  });

  it('names a wrong type and a wrong kind', async () => {
    const f = config('type.yaml', `sources:\n  - name: app\n    kind: oracle\n    url: postgres://x@h/db\nhttp:\n  port: lots\n`);
    // No ROWTRAIL_HTTP_PORT here: the env override would replace the bad http.port of the file.
    const r = await runCli(['watch', '--config', f], { env: { ROWTRAIL_HTTP_PORT: '' } });
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /sources\[0\]\.kind.*http\.port/);
  });

  it('rejects invalid YAML and a config without sources', async () => {
    expectOneLine((await runCli(['changes', '--config', config('y.yaml', 'sources: [')])).stderr, /not valid YAML/);
    expectOneLine((await runCli(['changes', '--config', config('e.yaml', 'store: {path: x}\n')])).stderr, /sources/);
  });
});

describe('bad servers', () => {
  it('reports an unreachable server as a doctor FAIL line and exit 1', async () => {
    const port = await freePort();
    const f = pgConfig('down.yaml', `postgres://postgres@127.0.0.1:${port}/postgres`);
    const r = await runCli(['doctor', '--config', f]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`FAIL app: .*cannot connect to 127.0.0.1:${port} \\(connection refused\\)`));
  });

  it('stops watch on a wrong password with one line, and never prints the password', async () => {
    const f = pgConfig('pw.yaml', `postgres://postgres:wrong-pw@127.0.0.1:${locked.port}/postgres`);
    const r = await runCli(['watch', '--config', f], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rowtrail: .*authentication failed/);
    expect(r.stderr + r.stdout).not.toContain('wrong-pw');
  });

  it('takes the password from ROWTRAIL_<SOURCE>_PASSWORD, and says wal_level is wrong with the fix', async () => {
    const f = pgConfig('wal.yaml', `postgres://postgres@127.0.0.1:${locked.port}/postgres`);
    const env = { ROWTRAIL_APP_PASSWORD: 's3cret-pw' };
    const doctor = await runCli(['doctor', '--config', f], { env });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL app: wal_level is 'replica'.*fix: ALTER SYSTEM SET wal_level = logical/);
    const setup = await runCli(['setup', '--config', f], { env });
    expect(setup.code).toBe(1);
    expectOneLine(setup.stderr, /wal_level is 'replica'/);
    const watch = await runCli(['watch', '--config', f], { env, timeoutMs: 30_000 });
    expect(watch.code).toBe(1);
    expect(watch.stderr).toMatch(/rowtrail: wal_level is replica.*ALTER SYSTEM SET wal_level = logical/);
  });

  it('stops watch when the slot is missing, telling to run setup', async () => {
    const pg = sharedPg();
    const db = await pg.freshDatabase('noslot');
    const f = pgConfig('noslot.yaml', pg.url(db), `    slot: never_created\n`);
    const r = await runCli(['watch', '--config', f], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rowtrail: replication slot 'never_created' does not exist; run `rowtrail setup`/);
  });

  it('doctor names a watched table that was dropped, and a table without a primary key', async () => {
    const pg = sharedPg();
    const db = await pg.freshDatabase('dropped');
    await pg.psql(`CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY); CREATE TABLE nokey (v text)`, db);
    const f = pgConfig('dropped.yaml', pg.url(db), `    tables: [public.a, public.b, public.nokey]\n    slot: dropped_slot\n    publication: dropped_pub\n`);
    const refused = await runCli(['setup', '--config', f]);
    expect(refused.code).toBe(1);
    expectOneLine(refused.stderr, /without a primary key: public\.nokey.*--replica-identity full/);
    const setup = await runCli(['setup', '--config', f, '--replica-identity', 'full']);
    expect(setup.code, setup.stderr).toBe(0);
    await pg.psql(`DROP TABLE b`, db);
    const r = await runCli(['doctor', '--config', f]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL app: watched table public\.b does not exist/);
    await pg.psql(`SELECT pg_drop_replication_slot('dropped_slot')`);
  });
});
