/**
 * A MariaDB as a DBA finds it (default settings: no binlog, no performance_schema) and a capture account
 * with no grants: one `doctor` run names every problem at once, and its closing settings block and GRANT
 * statements, applied exactly as printed with one restart, give a clean doctor.
 */
import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { doctorJson, notOk, tempDir, writeConfig } from './helpers.js';

describe('doctor on a fresh MariaDB', () => {
  let m: MariaServer;
  let dir: string;
  beforeAll(async () => {
    m = await startMariadb({ bare: true });
    dir = tempDir('doctor-maria');
    await m.sql(`CREATE TABLE test.keyed (id INT PRIMARY KEY, v INT); CREATE TABLE test.also (a INT, b INT, PRIMARY KEY (a, b))`);
    await m.sql(`CREATE USER 'rt'@'%' IDENTIFIED BY 'pw'`);
  });
  afterAll(async () => {
    await m?.destroy();
  });

  it('lists every problem in one run; its settings and grants, applied once with one restart, give a clean doctor', async () => {
    const config = writeConfig(dir, 'mysql', m.url('test', 'rt', 'pw'), '    tables: [test.keyed, test.also]\n');
    const first = await doctorJson(config);
    expect(first.r.code).toBe(1);
    const level = (id: string) => first.byId[id]?.map((c) => c.level);
    // Everything at once: settings that need a restart, dynamic ones, grants, the sampler's needs.
    expect(level('log_bin')).toEqual(['fail']);
    expect(level('binlog_format')).toEqual(['fail']);
    expect(level('binlog_row_metadata')).toEqual(['fail']);
    expect(level('grants')).toEqual(['fail']);
    expect(level('identity_process')).toEqual(['warn']);
    expect(level('identity_ps_grant')).toEqual(['warn']);
    expect(level('identity_history')).toEqual(['warn']);
    // No SELECT: the primary-key check says it cannot see, never "every table has a primary key".
    expect(first.byId.primary_key).toHaveLength(1);
    expect(first.byId.primary_key[0].message).toMatch(/^cannot check primary keys .*test\.keyed.*needs SELECT/);
    expect(first.summary.restartFor).toEqual(expect.arrayContaining(['log_bin', 'performance_schema']));
    expect(first.summary.settings).toEqual(
      expect.arrayContaining(['log_bin=binlog', 'binlog_format=ROW', 'binlog_row_metadata=FULL', 'performance_schema=ON']),
    );
    expect(first.summary.grants.length).toBeGreaterThan(0);

    // What a DBA does with it: the block into my.cnf, the grants as root, one restart.
    appendFileSync(m.cnf!, first.summary.settings.join('\n') + '\n');
    await m.sql(first.summary.grants.join('\n'));
    await m.restart();

    const second = await doctorJson(config);
    expect(notOk(second.checks)).toEqual([]);
    expect(second.r.code).toBe(0);
    expect(second.byId.primary_key[0].message).toBe('every watched table has a primary key (2 checked)');
    expect(second.summary.settings).toEqual([]);
    expect(second.summary.grants).toEqual([]);
  });
});
