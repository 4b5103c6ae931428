/** Undo on MariaDB: conflicts naming the later actor, --skip-conflicts, foreign keys, runner rollback. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { mariaDb, Recorder, type Db, type TableSpec } from './fixture.js';
import { undo } from './helpers.js';
import { applyUndo, prepareUndo } from '../../src/undo/index.js';

let m: MariaServer;
let db: Db;
let rec: Recorder;

const orgs: TableSpec = { schema: 'shop', name: 'orgs', columns: [{ name: 'id', type: 'int' }, { name: 'name', type: 'varchar(20)' }], key: ['id'] };
const members: TableSpec = {
  schema: 'shop',
  name: 'members',
  columns: [{ name: 'id', type: 'int' }, { name: 'org_id', type: 'int' }, { name: 'note', type: 'varchar(20)' }],
  key: ['id'],
  extra: ['FOREIGN KEY (org_id) REFERENCES shop.orgs (id)'],
};
const dumpAll = async () => [await db.dump(orgs), await db.dump(members)];

beforeAll(async () => {
  m = await startMariadb();
  await m.sql('CREATE DATABASE fx');
  db = await mariaDb(m.url('fx'), 'fx');
  rec = new Recorder(db);
  for (const t of [orgs, members]) {
    await db.createTable(t);
    rec.watch(t);
  }
  await db.tx('seed', 'seeder', async () => {
    await db.exec("INSERT INTO shop.orgs VALUES (1, 'one'), (2, 'two')");
    await db.exec("INSERT INTO shop.members VALUES (10, 1, 'a'), (20, 2, 'b'), (30, 2, 'c')");
  });
});
afterAll(async () => {
  rec?.close();
  await db?.close();
  await m?.destroy();
});

describe('undo on MariaDB', () => {
  it('refuses on a later change naming the actor; --skip-conflicts reverts only the other rows', async () => {
    await db.tx('bot1', 'deploy-bot', () => db.exec("UPDATE shop.members SET note = 'zapped'").then(() => undefined));
    // A case-only change: a _ci collation calls it equal, the guard must not.
    await db.tx('alice1', 'alice', () => db.exec("UPDATE shop.members SET note = 'ZAPPED' WHERE id = 20").then(() => undefined));
    await rec.ingest();
    const refused = await undo(rec, { actor: 'deploy-bot' });
    expect(refused.plan.conflicts.map((c) => [c.key, c.found, c.since.map((s) => s.actor)])).toEqual([[{ id: '20' }, 'changed', ['alice via app']]]);
    const out = await undo(rec, { actor: 'deploy-bot' }, { apply: true, skipConflicts: true });
    expect(out.applied?.rows).toBe(2);
    expect(out.sql).toContain('-- skipped conflict shop.members {"id":"20"}');
    expect(out.sql).toMatch(/expect 1 row\(s\)\n\/\*agent='rowtrail-undo',run='u-[a-z0-9-]+'\*\/ UPDATE `shop`.`members` SET `note` = 'a' WHERE `id` = 10 AND/);
    expect(await db.dump(members)).toEqual([
      ['10', '1', 'a'],
      ['20', '2', 'ZAPPED'],
      ['30', '2', 'c'],
    ]);
    await rec.ingest();
  });

  it('respects foreign keys both ways and restores exactly', async () => {
    const before = await dumpAll();
    await db.tx('fk1', 'bot', async () => {
      await db.exec('DELETE FROM shop.members WHERE id = 10');
      await db.exec('DELETE FROM shop.orgs WHERE id = 1');
      await db.exec("INSERT INTO shop.orgs VALUES (3, 'three')");
      await db.exec('UPDATE shop.members SET org_id = 3 WHERE id = 30');
    });
    await rec.ingest();
    const out = await undo(rec, { txIds: ['fk1'] }, { apply: true });
    expect(out.plan.conflicts).toEqual([]);
    expect(await dumpAll()).toEqual(before);
  });

  it('the runner rolls back everything when a row moved after planning', async () => {
    await db.tx('bot2', 'deploy-bot', () => db.exec("UPDATE shop.orgs SET name = CONCAT(name, '!')").then(() => undefined));
    await rec.ingest();
    const { plan, dialect, conn } = await prepareUndo(rec.store, rec.config(), { filter: { txIds: ['bot2'] } });
    try {
      await db.exec("UPDATE shop.orgs SET name = 'moved' WHERE id = 2");
      const before = await dumpAll();
      await expect(applyUndo(conn, dialect, plan)).rejects.toThrow(/affected 0 rows instead of 1.*rolled back, nothing was applied/);
      expect(await dumpAll()).toEqual(before);
    } finally {
      await conn.close();
    }
  });
});
