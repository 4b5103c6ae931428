import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedPg } from '../harness/shared.js';
import { setupSource, sql, startCapture, type Capture } from './capture-helpers.js';
import type { ChangeEvent } from '../../src/model/index.js';

const pg = sharedPg();
let url: string;
let cap: Capture;

const TYPES_DDL = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
  CREATE TABLE t_types (
    id bigint PRIMARY KEY,
    i8 int8, num numeric, num_scaled numeric(12,2), ts timestamptz, tsn timestamp, d date, tm time,
    j jsonb, js json, b bytea, arr int[], tarr text[], m mood, dom posint, u uuid, bits bit(4), vb varbit,
    txt text, ch char(5), iv interval, f8 float8, f4 float4, money_ money, inet_ inet, bool_ boolean, xml_ xml,
    rng int4range, pt point
  );
  CREATE TABLE t_people (id int PRIMARY KEY, name text, email text);
  CREATE TABLE t_default (id int PRIMARY KEY, v text);
  CREATE TABLE t_toast (id int PRIMARY KEY, big text, small int);
  CREATE TABLE t_child (id int PRIMARY KEY, parent int);
`;

beforeAll(async () => {
  const db = await pg.freshDatabase('capture');
  url = pg.url(db);
  await sql(url, TYPES_DDL);
  const cfg = await setupSource(url, {}, true);
  // t_default keeps REPLICA IDENTITY DEFAULT to show incomplete before images.
  await sql(url, 'ALTER TABLE t_default REPLICA IDENTITY DEFAULT');
  cap = startCapture(url, cfg);
});

afterAll(async () => {
  await cap?.destroy();
});

function events(filter: Parameters<Capture['store']['changes']>[0] = {}): ChangeEvent[] {
  return [...cap.store.changes(filter)];
}

describe('PostgreSQL capture', () => {
  it('keeps every type exactly as the server prints it (its text output, as psql shows it)', async () => {
    const rows = [
      `(1, 9223372036854775807, 123456789012345678901234567890.000000000000000000001, 12.30, '2026-11-26 10:00:00.123456+00',
        '1999-12-31 23:59:59.999999', '0001-01-01', '24:00:00', '{"big": 123456789012345678901234567890, "f": 1.10, "e": 1e400, "s": "é\\u00e9x"}'::text::jsonb,
        '{"keep":  1.10 , "dup": 1, "dup": 2}', '\\x00ff10', '{1,NULL,3}', '{"a,b","c\\"d",NULL,""}', 'happy', 7,
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', B'1010', B'1', E'line\\nbreak \\\\ ''quote'' 🎉', 'ab', '1 year 2 mons 3 days 04:05:06.789',
        1.7976931348623157e308, 3.4028235e38, 12.34, '10.0.0.7/24', true, '<a>x</a>', '[1,10)', '(1.5,2)')`,
      `(2, -9223372036854775808, -0.00000000000000000001, -0.01, '1970-01-01 00:00:00.000001+00', 'infinity', '-infinity', '00:00:00.000001',
        '[]', 'null', '\\x', '{}', '{}', 'sad', 1, '00000000-0000-0000-0000-000000000000', B'0000', B'', '', '', '-1 days',
        'NaN', '-Infinity', -0.5, '::1', false, '', 'empty', '(0,0)')`,
      `(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
    ];
    await sql(url, `INSERT INTO t_types VALUES ${rows.join(',')}`);
    await cap.caughtUp();
    // The text protocol returns each value through its type's output function: the form pgoutput sends.
    // (col::text differs for a few types: boolean 'true' vs 't', char(n) without its padding.)
    const expected = (await sql(url, `SELECT * FROM t_types ORDER BY id`)).rows;
    const nulls = Object.fromEntries(Object.keys(expected[0]).map((k) => [k, k === 'id' ? '3' : null]));
    expect(expected[2]).toEqual(nulls);
    const got = events({ table: 'public.t_types' });
    expect(got).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      expect(got[i].op).toBe('insert');
      expect(got[i].after).toEqual(expected[i]);
      expect(got[i].key).toEqual({ id: expected[i].id });
    }
    expect(got[0].types).toMatchObject({ num_scaled: 'numeric(12,2)', bits: 'bit(4)', ch: 'character(5)', m: 'public.mood', dom: 'int4' /* pgoutput announces a domain as its base type */, arr: 'integer[]', ts: 'timestamp with time zone' });
    // The values a user would check by eye:
    expect(got[0].after!.i8).toBe('9223372036854775807');
    expect(got[0].after!.ts).toBe('2026-11-26 10:00:00.123456+00');
    expect(got[0].after!.j).toContain('123456789012345678901234567890');
    expect(got[0].after!.j).toContain('1.10');
    expect(got[0].after!.b).toBe('\\x00ff10');
  });

  it('records full before and after images of updates and deletes, and the changed columns', async () => {
    await sql(url, `INSERT INTO t_people VALUES (1, 'ann', 'ann@x.io'), (2, 'bob', 'bob@x.io')`);
    await sql(url, `BEGIN; UPDATE t_people SET email = 'ann@y.io' WHERE id = 1; DELETE FROM t_people WHERE id = 2; UPDATE t_people SET id = 10 WHERE id = 1; COMMIT;`);
    await cap.caughtUp();
    const got = events({ table: 'public.t_people' });
    expect(got.map((e) => e.op)).toEqual(['insert', 'insert', 'update', 'delete', 'update']);
    const [, , upd, del, rekey] = got;
    expect(upd.before).toEqual({ id: '1', name: 'ann', email: 'ann@x.io' });
    expect(upd.after).toEqual({ id: '1', name: 'ann', email: 'ann@y.io' });
    expect(upd.changed).toEqual(['email']);
    expect(upd.incomplete).toBeUndefined();
    expect(del.before).toEqual({ id: '2', name: 'bob', email: 'bob@x.io' });
    expect(del.after).toBeNull();
    expect(del.key).toEqual({ id: '2' });
    expect(rekey.before!.id).toBe('1');
    expect(rekey.key).toEqual({ id: '10' });
    // One transaction: same tx id and position, indexes 0..2, size 3.
    expect(new Set([upd.tx.id, del.tx.id, rekey.tx.id]).size).toBe(1);
    expect([upd.tx.index, del.tx.index, rekey.tx.index]).toEqual([0, 1, 2]);
    expect(upd.tx.size).toBe(3);
    expect(upd.id).toBe(`pg:${upd.tx.position}:0`);
    expect(upd.tx.commitTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('marks the before image incomplete under REPLICA IDENTITY DEFAULT', async () => {
    await sql(url, `INSERT INTO t_default VALUES (1, 'a'), (2, 'b')`);
    await sql(url, `UPDATE t_default SET v = 'a2' WHERE id = 1`);
    await sql(url, `DELETE FROM t_default WHERE id = 2`);
    await cap.caughtUp();
    const [, , upd, del] = events({ table: 'public.t_default' });
    expect(upd.op).toBe('update');
    expect(upd.before).toEqual({ id: '1' });
    expect(upd.incomplete).toEqual(['before']);
    expect(upd.missing).toEqual({ before: ['v'] });
    expect(upd.after).toEqual({ id: '1', v: 'a2' });
    expect(del.before).toEqual({ id: '2' });
    expect(del.incomplete).toEqual(['before']);
  });

  it('fills unchanged TOAST values from the full old image', async () => {
    const big = 'x'.repeat(10_000) + Array.from({ length: 3000 }, (_, i) => String(i * 7919 % 10007)).join(',');
    await sql(url, `INSERT INTO t_toast VALUES (1, $1, 1)`, [big]);
    await sql(url, `UPDATE t_toast SET small = 2 WHERE id = 1`);
    await cap.caughtUp();
    const [ins, upd] = events({ table: 'public.t_toast' });
    expect(ins.after!.big).toBe(big);
    expect(upd.after).toEqual({ id: '1', big, small: '2' });
    expect(upd.before!.big).toBe(big);
    expect(upd.changed).toEqual(['small']);
    expect(upd.incomplete).toBeUndefined();
  });

  it('marks an unchanged TOAST value it was not sent as missing, never as NULL', async () => {
    await sql(url, `CREATE TABLE t_toast_d (id int PRIMARY KEY, big text, small int)`); // REPLICA IDENTITY DEFAULT
    const big = Array.from({ length: 4000 }, (_, i) => String((i * 7919) % 10007)).join(';');
    await sql(url, `INSERT INTO t_toast_d VALUES (1, $1, 1)`, [big]);
    await sql(url, `UPDATE t_toast_d SET small = 2 WHERE id = 1`);
    await cap.caughtUp();
    const upd = events({ table: 'public.t_toast_d', op: 'update' })[0];
    expect(upd.after).toEqual({ id: '1', small: '2' });
    expect(upd.incomplete).toEqual(['before', 'after']);
    expect(upd.missing).toEqual({ before: ['big', 'small'], after: ['big'] });
  });

  it('decodes TRUNCATE with its cascade flag', async () => {
    await sql(url, `INSERT INTO t_child VALUES (1, 1)`);
    await sql(url, `TRUNCATE t_child RESTART IDENTITY CASCADE`);
    await cap.caughtUp();
    const tr = events({ table: 'public.t_child', op: 'truncate' });
    expect(tr).toHaveLength(1);
    expect(tr[0].truncate).toEqual({ cascade: true, restartIdentity: true });
  });

  it('stores one event per table of a TRUNCATE of several tables, in one transaction', async () => {
    await sql(url, `CREATE TABLE t_tr1 (id int PRIMARY KEY); CREATE TABLE t_tr2 (id int PRIMARY KEY, v text)`);
    await sql(url, `INSERT INTO t_tr1 VALUES (1); INSERT INTO t_tr2 VALUES (1, 'a')`);
    await sql(url, `TRUNCATE t_tr1, t_tr2`);
    await cap.caughtUp();
    const tr = events({ op: 'truncate' }).filter((e) => e.table.startsWith('t_tr'));
    expect(tr.map((e) => [e.table, e.tx.index, e.tx.size])).toEqual([
      ['t_tr1', 0, 2],
      ['t_tr2', 1, 2],
    ]);
    expect(new Set(tr.map((e) => e.id)).size).toBe(2);
  });

  it('decodes rows before and after a schema change mid-stream', async () => {
    await sql(url, `CREATE TABLE t_alter (id int PRIMARY KEY, a text); ALTER TABLE t_alter REPLICA IDENTITY FULL`);
    await sql(url, `INSERT INTO t_alter VALUES (1, 'one')`);
    await sql(url, `ALTER TABLE t_alter ADD COLUMN b numeric DEFAULT 1.50, DROP COLUMN a`);
    await sql(url, `INSERT INTO t_alter VALUES (2, 2.25)`);
    await sql(url, `UPDATE t_alter SET b = 3 WHERE id = 1`);
    await cap.caughtUp();
    const got = events({ table: 'public.t_alter' });
    const rows = got.filter((e) => e.op !== 'ddl');
    expect(rows[0].after).toEqual({ id: '1', a: 'one' });
    expect(rows[1].after).toEqual({ id: '2', b: '2.25' });
    expect(rows[2].before).toEqual({ id: '1', b: '1.50' });
    expect(rows[2].after).toEqual({ id: '1', b: '3' });
    const ddl = got.filter((e) => e.op === 'ddl');
    expect(ddl).toHaveLength(1);
    expect(ddl[0].ddl).toContain('added column b numeric');
    expect(ddl[0].ddl).toContain('dropped column a');
  });

  it('leaves no trace of rolled-back transactions and savepoints', async () => {
    await sql(url, `CREATE TABLE t_rb (id int PRIMARY KEY); ALTER TABLE t_rb REPLICA IDENTITY FULL`);
    await sql(url, `BEGIN; INSERT INTO t_rb VALUES (1); ROLLBACK;`);
    await sql(url, `BEGIN; INSERT INTO t_rb VALUES (2); SAVEPOINT s; INSERT INTO t_rb VALUES (3); ROLLBACK TO s; INSERT INTO t_rb VALUES (4); COMMIT;`);
    await cap.caughtUp();
    expect(events({ table: 'public.t_rb' }).map((e) => e.after!.id)).toEqual(['2', '4']);
  });
});
