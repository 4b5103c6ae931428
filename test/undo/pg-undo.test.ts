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
