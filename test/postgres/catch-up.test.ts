/**
 * Catch-up gives the same events as live capture: a REPLICA IDENTITY FULL table created, changed and dropped
 * while the source was down still has its primary key (from the precise-mode DDL message, as of the change),
 * although the catalog no longer knows the table when the stream reaches its changes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { sharedPg } from '../harness/shared.js';
import { setupSource, sql, startCapture, type Capture } from './capture-helpers.js';
import type { ChangeEvent } from '../../src/model/index.js';

const server = sharedPg();
const caps: Capture[] = [];
afterAll(async () => {
  for (const c of caps) await c.destroy();
});

const workload = (t: string) => [
  `CREATE TABLE ${t} (id int PRIMARY KEY, v text, n int)`,
  `ALTER TABLE ${t} REPLICA IDENTITY FULL`,
  `INSERT INTO ${t} VALUES (1, 'a', 10), (2, 'b', 20)`,
  `UPDATE ${t} SET v = 'c' WHERE id = 1`,
  `DELETE FROM ${t} WHERE id = 2`,
  `DROP TABLE ${t}`,
];

/** What a user compares: the row events of a table, without positions, ids or times. */
function rows(cap: Capture, table: string): Partial<ChangeEvent>[] {
  return [...cap.store.changes({ table })]
    .filter((e) => e.op !== 'ddl')
    .map((e) => ({ op: e.op, key: e.key, before: e.before, after: e.after, changed: e.changed, incomplete: e.incomplete }));
}

describe('catch-up after downtime', () => {
  it('keeps the primary key of a REPLICA IDENTITY FULL table that was created, changed and dropped while watch was down', async () => {
    const db = await server.freshDatabase('catchup');
    const url = server.url(db);
    const cfg = await setupSource(url, { identity: 'precise' });

    // Live: the source runs while the workload happens.
    const live = startCapture(url, cfg);
    caps.push(live);
    for (const s of workload('k_live')) await sql(url, s);
    await live.caughtUp();
    const storeDir = live.storeDir;
    await live.stop();
    live.store.close();

    // Down: the same workload on another table, then the source starts again and catches up.
    for (const s of workload('k_down')) await sql(url, s);
    const later = startCapture(url, cfg, { storeDir });
    caps.push(later);
    await later.caughtUp();

    const expected = rows(later, 'public.k_live');
    expect(expected.map((e) => e.key)).toEqual([{ id: '1' }, { id: '2' }, { id: '1' }, { id: '2' }]);
    expect(rows(later, 'public.k_down')).toEqual(expected);
  }, 60_000);
});
