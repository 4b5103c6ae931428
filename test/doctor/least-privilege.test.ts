/**
 * The least-privilege roles of README "Set up on your database", created with exactly the documented grants:
 * a capture role (doctor clean, watch captures and attributes) and a separate undo role (undo --apply through
 * its own config on the same store), on MariaDB and on PostgreSQL, run as a user would (the CLI).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exited, runCli, spawnCli } from '../harness/cli.js';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { sharedPg } from '../harness/shared.js';
import type { ChangeEvent } from '../../src/model/index.js';
import { Store } from '../../src/store/index.js';
import mysql from 'mysql2/promise';
import { doctorJson, notOk, tempDir, writeConfig } from './helpers.js';

/** Waits until `n` changes are in the store (read-only peeks), then reads them as a user does: `changes --json`. */
async function changes(config: string, store: string, n: number, daemon: ReturnType<typeof spawnCli>): Promise<ChangeEvent[]> {
  for (let i = 0; ; i++) {
    let count = 0;
    try {
      const s = Store.open(store, { readonly: true });
      count = (s.db.prepare('SELECT count(*) AS n FROM changes').get() as { n: number }).n;
      s.close();
    } catch {
      /* not created yet */
    }
    if (count >= n) break;
    if (i > 300) throw new Error(`${count} of ${n} changes stored after 60 s\n${daemon.output()}`);
    await new Promise((res) => setTimeout(res, 200));
  }
  const r = await runCli(['changes', '--config', config, '--json']);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ChangeEvent);
}

/** Waits until the source stored its start position (MariaDB starts at the binlog's end: earlier writes are not its). */
async function started(store: string, daemon: ReturnType<typeof spawnCli>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const s = Store.open(store, { readonly: true });
      const p = s.position('app');
      s.close();
      if (p) return;
    } catch {
      /* not created yet */
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`watch did not start: ${daemon.output()}`);
}

/**
 * SIGTERM, then SIGKILL after 10 s: a MariaDB daemon may outlive its "stopped" (issue 11, fixed elsewhere);
 * a leftover with the same server id would kick the next test's stream off.
 */
async function stop(child: ReturnType<typeof spawnCli>): Promise<void> {
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited(child);
  clearTimeout(t);
}

/** Same store and source name, the undo role's url: how the README runs undo with its own role. */
function undoConfig(dir: string, kind: 'postgres' | 'mysql', url: string, extra = ''): string {
  const f = join(dir, 'rowtrail-undo.yaml');
  writeFileSync(f, `sources:\n  - name: app\n    kind: ${kind}\n    url: ${url}\n${extra}store:\n  path: ${join(dir, 'data')}\n`);
  return f;
}

describe('least-privilege roles on MariaDB', () => {
  let m: MariaServer;
  afterAll(async () => {
    await m?.destroy();
  });

  it('capture (doctor clean, watch attributes), then undo with the undo role only', { timeout: 120_000 }, async () => {
    m = await startMariadb({
      args: [
        '--performance-schema=ON',
        '--performance-schema-consumer-events-statements-current=ON',
        '--performance-schema-consumer-events-statements-history-long=ON',
      ],
    });
    await m.sql(`CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, v VARCHAR(20))`);
    // Exactly the README's grants.
    await m.sql(`CREATE USER 'rowtrail'@'%' IDENTIFIED BY 'cap';
      GRANT REPLICATION SLAVE, REPLICATION CLIENT, REPLICATION MASTER ADMIN, PROCESS ON *.* TO 'rowtrail'@'%';
      GRANT SELECT ON performance_schema.* TO 'rowtrail'@'%';
      GRANT SELECT ON shop.* TO 'rowtrail'@'%';
      CREATE USER 'rowtrail_undo'@'%' IDENTIFIED BY 'und';
      GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'rowtrail_undo'@'%';
      CREATE USER 'app'@'%' IDENTIFIED BY 'app';
      GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'%'`);
    const dir = tempDir('lp-maria');
    const config = writeConfig(dir, 'mysql', m.url('shop', 'rowtrail', 'cap'), '    tables: [shop.items]\n');
    const doc = await doctorJson(config);
    expect(notOk(doc.checks)).toEqual([]);
    expect((await runCli(['setup', '--config', config])).code).toBe(0);

    const daemon = spawnCli(['watch', '--config', config]);
    try {
      await started(join(dir, 'data'), daemon);
      // And the identity sampler is connected (its connection names itself in the connect attributes).
      for (let i = 0; i < 300; i++) {
        const n = await m.sql(
          `SELECT COUNT(*) FROM performance_schema.session_connect_attrs WHERE ATTR_NAME = 'program_name' AND ATTR_VALUE = 'rowtrail-sampler'`,
        );
        if (Number(n.trim()) > 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      // A connection that stays open, as an application's pool does (the sampler joins its statements to its session).
      const app = await mysql.createConnection({ uri: m.url('shop', 'app', 'app') });
      try {
        await app.query(`INSERT INTO shop.items VALUES (1, 'one'), (2, 'two')`);
        await app.query(`UPDATE shop.items SET v = 'ONE' WHERE id = 1`);
        await app.query(`DELETE FROM shop.items WHERE id = 2`);
        const evs = await changes(config, join(dir, 'data'), 4, daemon);
        expect(evs.map((e) => e.op)).toEqual(['insert', 'insert', 'update', 'delete']);
        // The capture role's grants are enough for the sampler: it sees other users' sessions and statement history
        // (MariaDB attribution is inferred and may miss a transaction; it must never name a wrong user).
        expect(daemon.output()).not.toContain('identity sampling limited');
        expect(
          evs.some((e) => e.actor.user === 'app'),
          JSON.stringify(evs.map((e) => e.actor)) + daemon.output(),
        ).toBe(true);
        for (const e of evs) expect([undefined, 'app']).toContain(e.actor.user);
      } finally {
        await app.end();
      }
    } finally {
      await stop(daemon);
    }
    const undo = await runCli([
      'undo',
      '--config',
      undoConfig(dir, 'mysql', m.url('shop', 'rowtrail_undo', 'und'), '    tables: [shop.items]\n'),
      // By table: MariaDB attribution is inferred and may leave a transaction unknown (undo by actor would then conflict).
      '--table',
      'shop.items',
      '--apply',
      '--yes',
    ]);
    expect(undo.code, undo.stderr).toBe(0);
    expect((await m.sql('SELECT COUNT(*) FROM shop.items')).trim()).toBe('0');
  });
});

describe('least-privilege roles on PostgreSQL', () => {
  const pg = sharedPg();
  it('a DBA runs setup; capture role (doctor clean, watch attributes), then undo with the undo role only', async () => {
    const db = await pg.freshDatabase('leastpriv');
    const rnd = db.slice(-6);
    const cap = `rt_cap_${rnd}`;
    const und = `rt_undo_${rnd}`;
    const app = `app_${rnd}`;
    await pg.psql(`CREATE TABLE items (id int PRIMARY KEY, v text)`, db);
    // Exactly the README's grants.
    await pg.psql(
      `CREATE ROLE ${cap} LOGIN REPLICATION; GRANT pg_read_all_stats TO ${cap};
      CREATE ROLE ${und} LOGIN; GRANT SELECT, INSERT, UPDATE, DELETE ON items TO ${und};
      CREATE ROLE ${app} LOGIN; GRANT SELECT, INSERT, UPDATE, DELETE ON items TO ${app}`,
      db,
    );
    const dir = tempDir('lp-pg');
    const extra = `    tables: [public.items]\n    identity: precise\n    slot: lp_${rnd}\n    publication: lp_${rnd}\n`;
    const dbaConfig = writeConfig(dir, 'postgres', pg.url(db), extra);
    const setup = await runCli(['setup', '--config', dbaConfig, '--replica-identity', 'full']);
    expect(setup.code, setup.stderr).toBe(0);
    const config = writeConfig(tempDir('lp-pg-cap'), 'postgres', pg.url(db, cap), extra);
    const store = join(dir, 'data');
    writeFileSync(config, (await import('node:fs')).readFileSync(config, 'utf8').replace(/path: .*/, `path: ${store}`));
    const doc = await doctorJson(config);
    expect(notOk(doc.checks)).toEqual([]);

    const daemon = spawnCli(['watch', '--config', config]);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const asApp = (sql: string) => pg.psql(`SET ROLE ${app}; ${sql}`, db);
      await asApp(`INSERT INTO items VALUES (1, 'one'), (2, 'two')`);
      await asApp(`UPDATE items SET v = 'ONE' WHERE id = 1`);
      await asApp(`DELETE FROM items WHERE id = 2`);
      const evs = await changes(config, store, 4, daemon);
      expect(evs.map((e) => e.op)).toEqual(['insert', 'insert', 'update', 'delete']);
      for (const e of evs) expect(e.actor).toMatchObject({ confidence: 'exact' });
    } finally {
      await stop(daemon);
    }
    const undoCfg = undoConfig(dir, 'postgres', pg.url(db, und), extra);
    const undo = await runCli(['undo', '--config', undoCfg, '--table', 'public.items', '--apply', '--yes']);
    expect(undo.code, undo.stderr).toBe(0);
    expect((await pg.psql('SELECT count(*) FROM items', db)).trim()).toBe('0');
    await pg.psql(`SELECT pg_drop_replication_slot('lp_${rnd}')`);
  });
});
