/**
 * Round-trip properties on real PostgreSQL and MariaDB: random odd schemas, random values of every supported
 * type, random workloads; undo the last k transactions (after a seed transaction) and the tables equal their earlier state exactly
 * (md5 of an ordered text dump). Half the runs apply through the runner, half run the printed script through
 * the database's own command-line client.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { sharedPg } from '../harness/shared.js';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import type { PgServer } from '../harness/postgres.js';
import { mariaDb, md5, pgDb, Recorder, type Db, type TableSpec } from './fixture.js';
import { identifier, MARIA_TYPES, PG_TYPES, workload, type Op, type TypeGen } from './arbitraries.js';
import { fcSeed, undo } from './helpers.js';
import type { SystemKind } from '../../src/model/index.js';

interface Case {
  names: string[];
  types: number[];
  ops: Op[][];
  cut: number;
  viaScript: boolean;
}

function caseArb(system: SystemKind, all: TypeGen[]): fc.Arbitrary<Case> {
  return fc
    .tuple(
      fc.uniqueArray(identifier(system), { minLength: 8, maxLength: 8, selector: (s) => s.toLowerCase() }),
      fc.uniqueArray(fc.integer({ min: 0, max: all.length - 1 }), { minLength: 2, maxLength: 5 }),
      fc.nat(),
      fc.boolean(),
    )
    .chain(([names, types, cut, viaScript]) => workload(types.map((i) => all[i])).map((ops) => ({ names, types, ops, cut, viaScript })));
}

let run = 0;

async function roundTrip(db: Db, runScript: (sql: string) => Promise<unknown>, all: TypeGen[], c: Case): Promise<void> {
  const n = run++;
  const gens = c.types.map((i) => all[i]);
  const t: TableSpec = {
    schema: `${c.names[0]}_${n}`,
    name: c.names[1],
    key: [c.names[2]],
    columns: [{ name: c.names[2], type: 'bigint' }, ...gens.map((g, i) => ({ name: c.names[3 + i], type: g.type }))],
  };
  const rec = new Recorder(db);
  try {
    await db.createTable(t);
    rec.watch(t);
    const table = db.table(t);
    const q = db.q;
    const param = (g: TypeGen) => (db.system === 'postgresql' ? `?::${g.cast}` : '?');
    const bind = (g: TypeGen, v: string | null) => (v === null ? null : g.bind ? g.bind(v) : v);
    const live: number[] = [];
    let next = 1;
    const snapshots: (string | null)[][][] = [];
    const effective: string[] = [];
    for (let i = 0; i < c.ops.length; i++) {
      snapshots.push(await db.dump(t));
      const txId = `r${n}t${i}`;
      let did = false;
      await db.tx(txId, i % 2 ? 'agent-b' : 'agent-a', async () => {
        for (const op of c.ops[i]) {
          if (op.k === 'ins') {
            const id = next++;
            await db.exec(
              `INSERT INTO ${table} (${t.columns.map((col) => q(col.name)).join(', ')}) VALUES (?, ${gens.map(param).join(', ')})`,
              [String(id), ...gens.map((g, j) => bind(g, op.vals[j]))],
            );
            live.push(id);
            did = true;
            continue;
          }
          if (!live.length) continue;
          const at = op.pick % live.length;
          const id = live[at];
          if (op.k === 'del') {
            await db.exec(`DELETE FROM ${table} WHERE ${q(t.key[0])} = ?`, [String(id)]);
            live.splice(at, 1);
          } else if (op.k === 'rekey') {
            const to = next++;
            await db.exec(`UPDATE ${table} SET ${q(t.key[0])} = ? WHERE ${q(t.key[0])} = ?`, [String(to), String(id)]);
            live[at] = to;
          } else {
            await db.exec(
              `UPDATE ${table} SET ${op.cols.map((j) => `${q(t.columns[j + 1].name)} = ${param(gens[j])}`).join(', ')} WHERE ${q(t.key[0])} = ?`,
              [...op.cols.map((j) => bind(gens[j], op.vals[j])), String(id)],
            );
          }
          did = true;
        }
      });
      if (did) effective.push(txId);
    }
    await rec.ingest();
    const cut = 1 + (c.cut % (c.ops.length - 1));
    const undone = effective.filter((id) => Number(id.slice(id.indexOf('t') + 1)) >= cut);
    if (!undone.length) return;
    const out = await undo(rec, { txIds: undone }, { apply: !c.viaScript });
    expect(out.plan.refusals).toEqual([]);
    expect(out.plan.conflicts).toEqual([]);
    if (c.viaScript && out.plan.steps.some((s) => s.kind !== 'none')) await runScript(out.sql);
    const now = await db.dump(t);
    expect(now).toEqual(snapshots[cut]);
    expect(md5(now)).toBe(md5(snapshots[cut]));
  } finally {
    rec.close();
  }
}

describe('undo round trip on PostgreSQL (fast-check)', () => {
  let pg: PgServer;
  let db: Db;
  let name: string;
  beforeAll(async () => {
    pg = sharedPg();
    name = await pg.freshDatabase('undo_rt');
    db = await pgDb(pg.url(name), name);
  });
  afterAll(async () => {
    await db?.close();
  });
  it('restores every table exactly after undoing the last transactions', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb('postgresql', PG_TYPES), (c) => roundTrip(db, (sql) => pg.psql(sql, name), PG_TYPES, c)),
      { numRuns: 30, ...fcSeed() },
    );
  });
});

describe('undo round trip on MariaDB (fast-check)', () => {
  let m: MariaServer;
  let db: Db;
  beforeAll(async () => {
    m = await startMariadb();
    await m.sql('CREATE DATABASE undo_rt');
    db = await mariaDb(m.url('undo_rt'), 'undo_rt');
  });
  afterAll(async () => {
    await db?.close();
    await m?.destroy();
  });
  it('restores every table exactly after undoing the last transactions', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb('mariadb', MARIA_TYPES), (c) => roundTrip(db, (sql) => m.sql(sql, 'undo_rt'), MARIA_TYPES, c)),
      { numRuns: 30, ...fcSeed() },
    );
  });
});
