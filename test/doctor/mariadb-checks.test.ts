/**
 * MariaDB doctor and setup with accounts that lack something: the primary-key check never answers when it
 * cannot see, and is right when it can; a typo'd watched table is named; setup with a wrong password fails in
 * one line; the attribution advice is MariaDB's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { runCli } from '../harness/cli.js';
import { close, connect, parseUrl } from '../../src/sources/mysql/mysql-client.js';
import { missingTables, missingTablesWarning } from '../../src/sources/mysql/index.js';
import { attributionCheck } from '../../src/identity/doctor.js';
import { doctorJson, tempDir, writeConfig } from './helpers.js';

describe('MariaDB doctor with partial grants', () => {
  let m: MariaServer;
  beforeAll(async () => {
    m = await startMariadb();
    // Three tables with a primary key (one composite), two without (one has only a unique key).
    await m.sql(`CREATE TABLE test.a1 (id INT PRIMARY KEY); CREATE TABLE test.a2 (id INT PRIMARY KEY, v INT);
      CREATE TABLE test.a3 (id INT, v INT, PRIMARY KEY (id, v)); CREATE TABLE test.n1 (v INT); CREATE TABLE test.u1 (id INT NOT NULL, UNIQUE KEY (id));
      CREATE USER 'repl'@'%' IDENTIFIED BY 'pw'; GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%';
      CREATE USER 'sel'@'%' IDENTIFIED BY 'pw'; GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'sel'@'%'; GRANT SELECT ON test.* TO 'sel'@'%'`);
  });
  afterAll(async () => {
    await m?.destroy();
  });

  it('with replication grants only, says it cannot check primary keys and which grant lets it', async () => {
    const { byId } = await doctorJson(writeConfig(tempDir('pk-repl'), 'mysql', m.url('test', 'repl', 'pw')));
    expect(byId.primary_key).toHaveLength(1);
    expect(byId.primary_key[0].level).toBe('warn');
    expect(byId.primary_key[0].message).toMatch(
      /^cannot check primary keys of test\.\*: 'repl'@'%' may not read it; needs SELECT on test\.\*/,
    );
    expect(byId.primary_key[0].fix).toBe("GRANT SELECT ON `test`.* TO 'repl'@'%'");
  });

  it('with SELECT, names exactly the tables without a primary key', async () => {
    const { byId } = await doctorJson(writeConfig(tempDir('pk-sel'), 'mysql', m.url('test', 'sel', 'pw')));
    expect(byId.primary_key).toHaveLength(1);
    expect(byId.primary_key[0]).toMatchObject({
      level: 'warn',
      message: expect.stringMatching(/^2 watched table\(s\) without a primary key .*: test\.(n1|u1), test\.(n1|u1)$/),
    });
  });

  it("names a typo'd watched table, and tells a table it may not read from a missing one", async () => {
    const { byId } = await doctorJson(
      writeConfig(tempDir('typo'), 'mysql', m.url('test', 'sel', 'pw'), '    tables: [test.a1, test.a1x]\n'),
    );
    expect(byId.tables).toEqual([expect.objectContaining({ level: 'fail', message: 'watched table test.a1x does not exist' })]);
    // What the source calls at start to warn (missingTables): a user without SELECT cannot tell.
    for (const [user, want] of [
      ['sel', { readable: ['test.a1'], missing: ['test.a1x'], unknown: [] }],
      ['repl', { readable: [], missing: [], unknown: ['test.a1', 'test.a1x'] }],
    ] as const) {
      const info = parseUrl(m.url('test', user, 'pw'));
      const conn = await connect(info);
      try {
        const probe = await missingTables(conn, { tables: ['test.a1', 'test.a1x'] }, info.database);
        expect(probe).toEqual(want);
        expect(missingTablesWarning(probe, 'app')).toMatch(user === 'sel' ? /^watched table\(s\) test\.a1x do not exist/ : /^cannot tell whether test\.a1, test\.a1x exist/);
      } finally {
        close(conn);
      }
    }
  });

  it('setup connects and checks: a wrong password fails in one line with exit 1; a good account passes', async () => {
    const bad = await runCli(['setup', '--config', writeConfig(tempDir('pw'), 'mysql', m.url('test', 'sel', 'wrong'))]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^rowtrail: access denied for sel at 127\.0\.0\.1:\d+/);
    const good = await runCli(['setup', '--config', writeConfig(tempDir('pw-ok'), 'mysql', m.url('test', 'sel', 'pw'))]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain('nothing to create on MySQL/MariaDB; the binlog settings and grants are ready for capture');
    const typo = await runCli([
      'setup',
      '--config',
      writeConfig(tempDir('pw-typo'), 'mysql', m.url('test', 'sel', 'pw'), '    tables: [test.nope]\n'),
    ]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/watched table\(s\) not found: test\.nope/);
  });
});

describe('attribution advice', () => {
  const stats = { attributed: 144, exact: 0, inferred: 144, unknown: 20 };
  it('on MariaDB, advises what applies there (statement history, comments), never precise mode', () => {
    const c = attributionCheck(stats, { kind: 'mysql' })!;
    expect(c.level).toBe('warn');
    expect(c.fix).toMatch(/performance_schema statement history.*\/\*agent=/);
    expect(c.fix).not.toMatch(/precise/);
  });
  it('on PostgreSQL, names the mode in force and the window since precise mode was installed', () => {
    const since = Date.parse('2026-11-29T10:00:00Z');
    const c = attributionCheck(
      { attributed: 10, exact: 10, inferred: 0, unknown: 0 },
      { kind: 'postgres', mode: 'precise', sinceMs: since },
    )!;
    expect(c).toMatchObject({
      level: 'ok',
      message:
        'precise mode: attributed 100.0% of 10 transactions since precise mode was installed (2026-11-29T10:00:00.000Z) (exact 100.0%, inferred 0.0%, unknown 0.0%)',
    });
    expect(attributionCheck(stats, { kind: 'postgres', mode: 'sampling' })!.fix).toMatch(/identity: precise/);
  });
});
