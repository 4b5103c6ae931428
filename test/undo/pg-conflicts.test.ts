/**
 * Conflicts, the CLI, attribution of the undo, blame, and bad input, on PostgreSQL.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedPg } from '../harness/shared.js';
import type { PgServer } from '../harness/postgres.js';
import { pgDb, Recorder, type Db, type TableSpec } from './fixture.js';
import { cli } from './run-cli.js';
import { undo } from './helpers.js';
import { applyUndo, prepareUndo } from '../../src/undo/index.js';

let pg: PgServer;
let name: string;
let db: Db;
let rec: Recorder;
let config: string;

const users: TableSpec = {
  schema: 'app',
  name: 'users',
  columns: [
    { name: 'id', type: 'integer' },
    { name: 'email', type: 'text' },
    { name: 'role', type: 'text' },
  ],
  key: ['id'],
};
const T = () => db.table(users);

function writeConfig(url: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'rowtrail-undo-cfg-')), 'rowtrail.yaml');
  writeFileSync(file, `sources:\n  - name: fx\n    kind: postgres\n    url: ${url}\nstore:\n  path: ${rec.store.dir}\n`);
  return file;
}

beforeAll(async () => {
  pg = sharedPg();
  name = await pg.freshDatabase('undo_cf');
  db = await pgDb(pg.url(name), name);
  rec = new Recorder(db);
  await db.createTable(users);
  rec.watch(users);
  config = writeConfig(pg.url(name));
  await db.tx('seed', 'seeder', () => db.exec(`INSERT INTO ${T()} VALUES (1, 'a@x.io', 'user'), (2, 'b@x.io', 'user'), (3, 'c@x.io', 'user')`).then(() => undefined));
  await db.tx('bot1', 'deploy-bot', () => db.exec(`UPDATE ${T()} SET role = 'admin'`).then(() => undefined));
  await db.tx('alice1', 'alice', () => db.exec(`UPDATE ${T()} SET email = 'bee@x.io' WHERE id = 2`).then(() => undefined));
  await rec.ingest();
});
afterAll(async () => {
  rec?.close();
  await db?.close();
});

const rows = () => db.exec(`SELECT id::text, email, role FROM ${T()} ORDER BY id`);

describe('undo conflicts on PostgreSQL', () => {
  it('refuses when a row changed since, naming who changed it, and applies nothing', async () => {
    const before = await rows();
    const r = await cli('undo', '--config', config, '--actor', 'deploy-bot');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/conflict app\.users \{"id":"2"\}: the row changed since; changed since by alice via app \(update at .*fx:pos-00000003:0\)/);
    expect(r.stderr).toMatch(/undo refused: 1 conflict\(s\), 0 refused change\(s\)/);
    expect(r.stdout).toBe('');
    const j = await cli('undo', '--config', config, '--actor', 'deploy-bot', '--format', 'json');
    expect(j.code).toBe(1);
    const plan = JSON.parse(j.stdout);
    expect(plan.conflicts).toMatchObject([{ table: 'app.users', key: { id: '2' }, found: 'changed', since: [{ actor: 'alice via app', op: 'update' }] }]);
    expect(plan.statements.map((s: any) => [s.kind, s.key, s.expected])).toEqual([
      ['update', { id: '3' }, 1],
      ['update', { id: '2' }, 1],
      ['update', { id: '1' }, 1],
    ]);
    expect(plan.statements[0].sql).toMatch(/^\/\*agent='rowtrail-undo',run='u-[a-z0-9-]+'\*\/ UPDATE "app"."users" SET "role" = 'user'::text WHERE "id" = '3'::integer AND /);
    expect(await rows()).toEqual(before);
  });

  it('with --skip-conflicts reverts only the other rows', async () => {
    const r = await cli('undo', '--config', config, '--actor', 'deploy-bot', '--skip-conflicts', '--apply', '--yes');
    expect(r.stderr).toContain('skipped conflict app.users {"id":"2"}');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/applied undo (u-[a-z0-9-]+): 2 statement\(s\), 2 row\(s\)/);
    expect(await rows()).toEqual([
      { id: '1', email: 'a@x.io', role: 'user' },
      { id: '2', email: 'bee@x.io', role: 'admin' },
      { id: '3', email: 'c@x.io', role: 'user' },
    ]);
    // The undo is recorded as the undo run: application_name and the sqlcommenter comment reach the session.
    const runId = /applied undo (u-[a-z0-9-]+)/.exec(r.stdout)![1];
    const log = await db.exec(`SELECT app, query FROM rt_fixture_log WHERE app = 'rowtrail-undo'`);
    expect(log).toHaveLength(2);
    for (const l of log) expect(l.query).toContain(`/*agent='rowtrail-undo',run='${runId}'*/`);
    await rec.ingest();
  });

  it('the printed script aborts everything when a row changed after printing (DO block count check)', async () => {
    await db.tx('bot2', 'deploy-bot', () => db.exec(`UPDATE ${T()} SET role = 'owner' WHERE id IN (1, 3)`).then(() => undefined));
    await rec.ingest();
    const { sql } = await undo(rec, { txIds: ['bot2'] });
    expect(sql).toMatch(/GET DIAGNOSTICS n = ROW_COUNT;\n  IF n <> 1 THEN RAISE EXCEPTION/);
    await db.exec(`UPDATE ${T()} SET role = 'root' WHERE id = 3`);
    const before = await rows();
    await expect(pg.psql(sql, name)).rejects.toThrow(/statement \d affected 0 rows instead of 1; nothing was applied/);
    expect(await rows()).toEqual(before);
  });

  it('the runner rolls back on an affected-row mismatch', async () => {
    await db.tx('bot3', 'deploy-bot', () => db.exec(`UPDATE ${T()} SET email = 'x' || email`).then(() => undefined));
    await rec.ingest();
    const { plan, dialect, conn } = await prepareUndo(rec.store, rec.config(), { filter: { txIds: ['bot3'] } });
    try {
      expect(plan.conflicts).toEqual([]);
      await db.exec(`UPDATE ${T()} SET email = 'moved' WHERE id = 2`);
      const before = await rows();
      await expect(applyUndo(conn, dialect, plan)).rejects.toThrow(/affected 0 rows instead of 1: the row changed meanwhile; rolled back, nothing was applied/);
      expect(await rows()).toEqual(before);
    } finally {
      await conn.close();
    }
  });

  it('blame shows the row history newest first, with actors and before/after values', async () => {
    const r = await cli('blame', '--config', config, 'app.users', '2');
    expect(r.code).toBe(0);
    const heads = r.stdout.split('\n').filter((l) => /^\d{4}-/.test(l)).map((l) => l.replace(/^\S+ {2}/, '').replace(/ {2}\(fx:.*$/, ''));
    expect(heads).toEqual([
      'UPDATE  by deploy-bot via app (ai-agent, exact)  tx bot3',
      'UPDATE  by alice via app (ai-agent, exact)  tx alice1',
      'UPDATE  by deploy-bot via app (ai-agent, exact)  tx bot1',
      'INSERT  by seeder via app (ai-agent, exact)  tx seed',
    ]);
    // Masked (the default): pseudonyms that differ, never the addresses.
    expect(r.stdout).toMatch(/ {4}email: "h:[a-z2-7]{16}" → "h:[a-z2-7]{16}"/);
    expect(r.stdout).not.toMatch(/b@x\.io|bee@x\.io/);
    expect(r.stdout).toContain('    role: "user" → "admin"');
    const j = await cli('blame', '--config', config, '--json', 'app.users', '--key', 'id=2');
    const evs = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(evs.at(-1).op).toBe('insert');
    expect(evs.map((e: any) => e.tx.commitTime)).toEqual([...evs.map((e: any) => e.tx.commitTime)].sort().reverse());
    expect((await cli('blame', '--config', config, 'app.users', '2', '3')).stderr).toContain('has key (id): give 1 value(s)');
  });

  it('bad input: unknown tx, empty selection, no selector, source down — a clear message and nothing applied', async () => {
    const before = await rows();
    expect((await cli('undo', '--config', config, '--tx', 'nope')).stderr).toBe("rowtrail: transaction 'nope' has no stored change matching the selection\n");
    expect((await cli('undo', '--config', config, '--actor', 'nobody')).stderr).toBe('rowtrail: no stored change matches the selection (actor=nobody)\n');
    const none = await cli('undo', '--config', config);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('select what to revert with --tx');
    const down = writeConfig('postgres://postgres@127.0.0.1:1/nothing');
    const r = await cli('undo', '--config', down, '--tx', 'bot1', '--apply', '--yes');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^rowtrail: nothing was applied: source 'fx': cannot connect to 127\.0\.0\.1:1 \(connection refused\).*\n$/);
    expect(await rows()).toEqual(before);
  });

  it('refuses changes of a table since dropped or altered, with the reason', async () => {
    const t2: TableSpec = { schema: 'app', name: 'gone', columns: [{ name: 'id', type: 'integer' }, { name: 'v', type: 'text' }], key: ['id'] };
    const t3: TableSpec = { schema: 'app', name: 'altered', columns: [{ name: 'id', type: 'integer' }, { name: 'v', type: 'text' }], key: ['id'] };
    await db.createTable(t2);
    await db.createTable(t3);
    rec.watch(t2);
    rec.watch(t3);
    await db.tx('ddl1', 'bot', async () => {
      await db.exec(`INSERT INTO ${db.table(t2)} VALUES (1, 'x')`);
      await db.exec(`INSERT INTO ${db.table(t3)} VALUES (1, 'x')`);
    });
    await rec.ingest();
    await db.exec(`DROP TABLE ${db.table(t2)}`);
    await db.exec(`ALTER TABLE ${db.table(t3)} DROP COLUMN v`);
    const { plan } = await undo(rec, { txIds: ['ddl1'] });
    expect(plan.refusals.map((r) => [r.table, r.reason])).toEqual([
      ['app.gone', 'table no longer exists'],
      ['app.altered', 'column v no longer exists'],
    ]);
    const r = await cli('undo', '--config', config, '--tx', 'ddl1');
    expect(r.stderr).toContain('refused fx:pos-');
    expect(r.stderr).toContain('undo refused: 0 conflict(s), 2 refused change(s)');
  });
});
