import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sharedPg } from '../harness/shared.js';
import { pgDb, Recorder, type Db, type TableSpec } from './fixture.js';
import { undo } from './helpers.js';

let db: Db;
let rec: Recorder;

const users: TableSpec = {
  schema: 'app',
  name: 'users',
  columns: [
    { name: 'id', type: 'bigint' },
    { name: 'email', type: 'text' },
    { name: 'balance', type: 'numeric(12,2)' },
    { name: 'seen', type: 'timestamptz' },
  ],
  key: ['id'],
};

beforeAll(async () => {
  const pg = sharedPg();
  const name = await pg.freshDatabase('undo');
  db = await pgDb(pg.url(name), name);
  rec = new Recorder(db);
  await db.createTable(users);
  rec.watch(users);
});
afterAll(async () => {
  rec?.close();
  await db?.close();
});

describe('undo on PostgreSQL', () => {
  it('reverts an insert, an update and a delete of one transaction exactly', async () => {
    const t = db.table(users);
    await db.tx('seed', 'seeder', async () => {
      await db.exec(`INSERT INTO ${t} VALUES (1, 'a@x.io', 12.30, '2026-01-01 10:00:00.123456+00'), (2, 'b@x.io', NULL, NULL)`);
    });
    const before = await db.dump(users);
    await db.tx('t1', 'bot', async () => {
      await db.exec(`UPDATE ${t} SET balance = 99.99, email = 'o''hara@x.io' WHERE id = 1`);
      await db.exec(`DELETE FROM ${t} WHERE id = 2`);
      await db.exec(`INSERT INTO ${t} VALUES (3, 'c@x.io', 0.01, now())`);
      await db.exec(`UPDATE ${t} SET balance = 100.00 WHERE id = 1`);
    });
    await rec.ingest();
    const out = await undo(rec, { txIds: ['t1'] }, { apply: true });
    expect(out.plan.conflicts).toEqual([]);
    expect(out.plan.refusals).toEqual([]);
    expect(out.plan.steps.map((s) => s.kind).sort()).toEqual(['delete', 'insert', 'update']);
    expect(out.sql).toContain("'12.30'::numeric(12,2)");
    expect(out.sql).toContain('DO $rowtrail_undo$');
    expect(out.applied).toEqual({ runId: out.plan.runId, statements: 3, rows: 3 });
    expect(await db.dump(users)).toEqual(before);
  });
});

describe('undo on PostgreSQL with foreign keys', () => {
  it('restores parents before children and removes children before parents, in one transaction', async () => {
    const parent: TableSpec = { schema: 'app', name: 'orgs', columns: [{ name: 'id', type: 'integer' }, { name: 'name', type: 'text' }], key: ['id'] };
    const child: TableSpec = {
      schema: 'app',
      name: 'members',
      columns: [{ name: 'id', type: 'integer' }, { name: 'org_id', type: 'integer' }],
      key: ['id'],
      extra: ['FOREIGN KEY (org_id) REFERENCES app.orgs (id)'],
    };
    await db.createTable(parent);
    await db.createTable(child);
    rec.watch(parent);
    rec.watch(child);
    const [P, C] = [db.table(parent), db.table(child)];
    await db.tx('fk-seed', 'seeder', async () => {
      await db.exec(`INSERT INTO ${P} VALUES (1, 'one'), (2, 'two')`);
      await db.exec(`INSERT INTO ${C} VALUES (10, 1), (20, 2)`);
    });
    const seeded = [await db.dump(parent), await db.dump(child)];
    await db.tx('fk-1', 'bot', async () => {
      await db.exec(`DELETE FROM ${C} WHERE id = 10`);
      await db.exec(`DELETE FROM ${P} WHERE id = 1`);
      await db.exec(`INSERT INTO ${P} VALUES (3, 'three')`);
      await db.exec(`INSERT INTO ${C} VALUES (30, 3)`);
      await db.exec(`UPDATE ${P} SET name = 'drei' WHERE id = 3`);
      await db.exec(`UPDATE ${C} SET org_id = 3 WHERE id = 20`);
      await db.exec(`DELETE FROM ${P} WHERE id = 2`);
    });
    await rec.ingest();
    const out = await undo(rec, { txIds: ['fk-1'] }, { apply: true });
    expect(out.plan.conflicts).toEqual([]);
    expect(out.plan.steps.map((s) => `${s.kind} ${s.table.table}`)).toEqual(['insert orgs', 'update members', 'delete members', 'delete orgs', 'insert orgs', 'insert members']);
    expect([await db.dump(parent), await db.dump(child)]).toEqual(seeded);
  });
});
