/**
 * No value and no name can inject SQL into an undo: hostile values and identifiers go through the printed
 * script (run by psql / the mariadb client) and the runner; a canary table survives and the rows come back
 * exactly. And every literal the dialects render reads back as the very same string on the real server.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { sharedPg } from '../harness/shared.js';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import type { PgServer } from '../harness/postgres.js';
import { mariaDb, pgDb, Recorder, type Db, type TableSpec } from './fixture.js';
import { undo } from './helpers.js';
import { mysqlDialect, postgresDialect } from '../../src/undo/index.js';

const EVIL = [
  "x'); DROP TABLE canary; --",
  "\\'; DROP TABLE canary; --",
  '$rowtrail_undo$; DROP TABLE canary; --',
  '$rowtrail_undo$ END $rowtrail_undo$; DROP TABLE canary; DO $rowtrail_undo$ BEGIN',
  '*/ DROP TABLE canary; /*',
  "line\n; DROP TABLE canary; --",
  "\r\nDROP TABLE canary;\u2028",
  '` ; DROP TABLE canary; -- "',
];

function spec(system: 'postgresql' | 'mariadb'): TableSpec {
  const odd = system === 'postgresql' ? `we"ird ${EVIL[0]}` : 'we"ird`; DROP TABLE canary; --';
  return {
    schema: system === 'postgresql' ? `s'"; DROP TABLE canary; --` : 'inj_db',
    name: odd,
    key: ['k"; DROP TABLE canary; --'],
    columns: [
      { name: 'k"; DROP TABLE canary; --', type: system === 'postgresql' ? 'text' : 'varchar(200)' },
      { name: "v') DROP TABLE canary", type: 'text' },
    ],
  };
}

async function attack(db: Db, runScript: (sql: string) => Promise<unknown>, canary: string): Promise<void> {
  const t = spec(db.system as 'postgresql');
  const rec = new Recorder(db);
  try {
    await db.createTable(t);
    rec.watch(t);
    const [k, v] = t.columns.map((c) => db.q(c.name));
    await db.tx('seed', 'seeder', async () => {
      for (const [i, e] of EVIL.entries()) await db.exec(`INSERT INTO ${db.table(t)} (${k}, ${v}) VALUES (?, ?)`, [`${e}#${i}`, e]);
    });
    const before = await db.dump(t);
    await db.tx('evil', 'mallory', async () => {
      for (const [i, e] of EVIL.entries()) await db.exec(`UPDATE ${db.table(t)} SET ${v} = ? WHERE ${k} = ?`, [EVIL[(i + 1) % EVIL.length], `${e}#${i}`]);
      await db.exec(`DELETE FROM ${db.table(t)} WHERE ${k} = ?`, [`${EVIL[2]}#2`]);
      await db.exec(`INSERT INTO ${db.table(t)} (${k}, ${v}) VALUES (?, ?)`, [EVIL[3], EVIL[4]]);
    });
    await rec.ingest();
    const viaScript = await undo(rec, { txIds: ['evil'] });
    expect(viaScript.plan.refusals).toEqual([]);
    await runScript(viaScript.sql);
    expect(await db.dump(t)).toEqual(before);
    expect((await db.exec(`SELECT count(*) AS n FROM ${canary}`)).map((r) => String(r.n))).toEqual(['1']);
  } finally {
    rec.close();
  }
}

describe('no SQL injection through undo', () => {
  let pg: PgServer;
  let pdb: Db;
  let pname: string;
  let m: MariaServer;
  let mdb: Db;
  beforeAll(async () => {
    pg = sharedPg();
    pname = await pg.freshDatabase('undo_inj');
    pdb = await pgDb(pg.url(pname), pname);
    await pdb.exec('CREATE TABLE canary (x int)');
    await pdb.exec('INSERT INTO canary VALUES (1)');
    m = await startMariadb();
    await m.sql('CREATE DATABASE inj');
    await m.sql('CREATE DATABASE inj_db; CREATE TABLE inj_db.canary (x int); INSERT INTO inj_db.canary VALUES (1)');
    mdb = await mariaDb(m.url('inj'), 'inj');
  });
  afterAll(async () => {
    await pdb?.close();
    await mdb?.close();
    await m?.destroy();
  });

  it('PostgreSQL: hostile values and names stay data in the printed script', async () => {
    await attack(pdb, (sql) => pg.psql(sql, pname), 'canary');
  });

  it('MariaDB: hostile values and names stay data in the printed script', async () => {
    await attack(mdb, (sql) => m.sql(sql, 'inj'), 'inj_db.canary');
  });

  it('every PostgreSQL literal and identifier reads back as itself', async () => {
    const s = fc.string({ unit: fc.integer({ min: 1, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)) });
    await fc.assert(
      fc.asyncProperty(fc.oneof(s, fc.constantFrom(...EVIL)), s.filter((x) => x.length > 0 && x.length < 60), async (v, name) => {
        const rows = await pdb.exec(`SELECT ${postgresDialect.literal(v, 'text')} AS ${postgresDialect.ident(name)}`);
        expect(rows).toEqual([{ [name]: v }]);
      }),
      { numRuns: 50 },
    );
  });

  it('every MariaDB literal reads back as itself (binary, strings with NUL and backslashes)', async () => {
    const d = mysqlDialect('mariadb');
    const s = fc.string({ unit: fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)) });
    await fc.assert(
      fc.asyncProperty(fc.oneof(s, fc.constantFrom(...EVIL)), fc.uint8Array({ maxLength: 20 }), async (v, bytes) => {
        const hex = Buffer.from(bytes).toString('hex');
        const rows = await mdb.exec(`SELECT ${d.literal(v, 'varchar(100)')} AS v, HEX(${d.literal(hex, 'varbinary(20)')}) AS b`);
        expect(rows).toEqual([{ v, b: hex.toUpperCase() }]);
      }),
      { numRuns: 50 },
    );
  });
});
