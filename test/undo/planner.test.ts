/** Pure planner and dialect tests: collapse, refusals, foreign-key order, and the expected SQL per dialect. */
import { describe, it, expect } from 'vitest';
import type { ChangeEvent, Op, Row } from '../../src/model/index.js';
import { mysqlDialect, planUndo, postgresDialect, stepSql, type Catalog } from '../../src/undo/index.js';

let seq = 0;
function ev(table: string, op: Op, before: Row | null, after: Row | null, extra: Partial<ChangeEvent> = {}): ChangeEvent {
  const n = ++seq;
  const img = (after ?? before ?? {}) as Row;
  const types: Record<string, string> = {};
  for (const c of Object.keys(img)) types[c] = c === 'id' || c.endsWith('_id') ? 'integer' : 'text';
  return {
    id: `s:${n}:0`, source: 's', system: 'postgresql', database: 'd', schema: 'public', table, op,
    key: { id: (op === 'insert' ? after : before)?.id ?? null }, before, after, changed: [], types,
    tx: { id: `t${n}`, position: String(n), commitTime: `2026-01-01T00:00:${String(n % 60).padStart(2, '0')}Z`, index: 0, size: 1 },
    actor: { kind: 'unknown', confidence: 'unknown' },
    ...extra,
  };
}

const pg = postgresDialect;

describe('planner', () => {
  it('collapses consecutive changes of a row into one guarded statement', () => {
    const p = planUndo([ev('u', 'insert', null, { id: '1', v: 'a' }), ev('u', 'update', { id: '1', v: 'a' }, { id: '1', v: 'b' }), ev('u', 'update', { id: '1', v: 'b' }, { id: '1', v: 'c' })], pg);
    expect(p.steps).toHaveLength(1);
    expect(p.steps[0].kind).toBe('delete');
    expect(stepSql(p.steps[0], pg, 'u-1')).toBe(
      `/*agent='rowtrail-undo',run='u-1'*/ DELETE FROM "public"."u" WHERE "id" = '1'::integer AND "id" IS NOT DISTINCT FROM '1'::integer AND "v" IS NOT DISTINCT FROM 'c'::text`,
    );
  });

  it('updates back only the changed columns, from the newest after image to the oldest before image', () => {
    const p = planUndo([ev('u', 'update', { id: '1', v: 'a', w: 'x' }, { id: '1', v: 'b', w: 'x' }), ev('u', 'update', { id: '1', v: 'b', w: 'x' }, { id: '1', v: 'c', w: null })], pg);
    expect(p.steps.map((s) => [s.kind, s.set, s.changeIds.length])).toEqual([['update', ['v', 'w'], 2]]);
    expect(stepSql(p.steps[0], pg, 'u-1')).toContain(`SET "v" = 'a'::text, "w" = 'x'::text WHERE "id" = '1'::integer AND "id" IS NOT DISTINCT FROM '1'::integer AND "v" IS NOT DISTINCT FROM 'c'::text AND "w" IS NULL`);
  });

  it('an insert then delete cancels out but still checks the key is free; a moved key is followed', () => {
    const p = planUndo([ev('u', 'insert', null, { id: '1', v: 'a' }), ev('u', 'delete', { id: '1', v: 'a' }, null), ev('u', 'update', { id: '5', v: 'q' }, { id: '6', v: 'q' }), ev('u', 'update', { id: '6', v: 'q' }, { id: '6', v: 'r' })], pg);
    expect(p.steps.map((s) => [s.kind, s.absentKey, s.current?.id, s.target?.id, s.set])).toEqual([
      ['update', null, '6', '5', ['id', 'v']],
      ['none', { id: '1' }, undefined, undefined, []],
    ]);
  });

  it('refuses with reasons, and refuses every change of a row with a refused change', () => {
    const p = planUndo(
      [
        ev('u', 'truncate', null, null, { key: null }),
        ev('u', 'ddl', null, null, { key: null, ddl: 'ALTER TABLE u ADD c int' }),
        ev('k', 'delete', { v: 'a' }, null, { key: null, incomplete: ['before'], missing: { before: ['w'] } }),
        ev('u', 'update', { id: '1', v: 'a' }, { id: '1', v: 'b' }),
        ev('u', 'update', { id: '1', v: 'b' }, { id: '1', v: 'c' }, { incomplete: ['before'], missing: { before: ['w'] } }),
        ev('u', 'update', { id: '2', v: 'b' }, { id: '2', v: 'c' }, { types: { id: 'integer' } }),
        ev('u', 'update', { id: '3', v: 'b' }, { id: '3' }, { incomplete: ['after'], missing: { after: ['big'] } }),
      ],
      pg,
    );
    expect(p.steps).toEqual([]);
    expect(p.refusals.map((r) => r.reason)).toEqual([
      'TRUNCATE cannot be reverted (the removed rows were not logged)',
      'DDL is not reverted by undo',
      'table has no key and the before image is not full (missing: w)',
      'another change of this row is refused (s:' + (seq - 2) + ':0: before image incomplete (missing: w))',
      'before image incomplete (missing: w)',
      'column v: no column type recorded',
      'unchanged TOAST value not known (big)',
    ]);
  });

  it('orders by foreign keys: children deleted before parents, parents restored before children', () => {
    const catalog: Catalog = {
      columns: new Map([
        ['public\u0000parent', new Set(['id', 'v'])],
        ['public\u0000child', new Set(['id', 'parent_id'])],
      ]),
      foreignKeys: [{ id: 'fk', child: { schema: 'public', table: 'child' }, childCols: ['parent_id'], parent: { schema: 'public', table: 'parent' }, parentCols: ['id'] }],
    };
    // insert parent, insert child, update parent: collapsed parent step is newest, but must run last.
    const a = planUndo([ev('parent', 'insert', null, { id: '1', v: 'a' }), ev('child', 'insert', null, { id: '9', parent_id: '1' }), ev('parent', 'update', { id: '1', v: 'a' }, { id: '1', v: 'b' })], pg, catalog);
    expect(a.steps.map((s) => `${s.kind} ${s.table.table}`)).toEqual(['delete child', 'delete parent']);
    // delete child, delete parent, then an unrelated parent update: restore the parent first.
    const b = planUndo([ev('child', 'delete', { id: '9', parent_id: '1' }, null), ev('parent', 'delete', { id: '1', v: 'a' }, null), ev('child', 'update', { id: '8', parent_id: '2' }, { id: '8', parent_id: '3' })], pg, catalog);
    expect(b.steps.map((s) => `${s.kind} ${s.table.table}`)).toEqual(['update child', 'insert parent', 'insert child']);
  });

  it('flags a foreign change between two selected changes of a row', () => {
    const p = planUndo([ev('u', 'update', { id: '1', v: 'a' }, { id: '1', v: 'b' }), ev('u', 'update', { id: '1', v: 'x' }, { id: '1', v: 'y' })], pg);
    expect(p.steps[0].interleaved).toBe(true);
  });
});

describe('dialects: the SQL each renders', () => {
  const my = mysqlDialect('mariadb');
  it.each([
    ['12.30', 'numeric(10,2)', 'decimal(10,2)', "'12.30'::numeric(10,2)", '12.30'],
    ['18446744073709551615', 'numeric(20,0)', 'bigint(20) unsigned', "'18446744073709551615'::numeric(20,0)", '18446744073709551615'],
    ['\\x00ff', 'bytea', 'varbinary(4)', "'\\x00ff'::bytea", "X'00FF'"],
    ['00ff', 'bytea', 'blob', "'00ff'::bytea", "X'00FF'"],
    ["o'hara", 'text', 'varchar(20)', "'o''hara'::text", "'o''hara'"],
    ['a\\b', 'text', 'text', "'a\\b'::text", "_utf8mb4 X'615C62'"],
    ['x\u0000y', 'text', 'varchar(5)', null, "_utf8mb4 X'780079'"],
    ['2026-11-26 10:00:00.123456', 'timestamp(6) without time zone', 'datetime(6)', "'2026-11-26 10:00:00.123456'::timestamp(6) without time zone", "'2026-11-26 10:00:00.123456'"],
    ['{"a": 1.10}', 'jsonb', 'json', `'{"a": 1.10}'::jsonb`, `'{"a": 1.10}'`],
    ['{a,"b c",NULL}', 'text[]', 'set(\'a\',\'b\')', `'{a,"b c",NULL}'::text[]`, `'{a,"b c",NULL}'`],
    ['1.5e300', 'double precision', 'double', "'1.5e300'::double precision", '1.5e300'],
    [null, 'text', 'text', 'NULL', 'NULL'],
  ])('%s as %s / %s', (value, pgType, myType, pgSql, mySql) => {
    if (pgSql === null) expect(pg.typeProblem(pgType, value)).toBe('value contains a NUL character');
    else expect(pg.literal(value, pgType)).toBe(pgSql);
    expect(my.literal(value, myType)).toBe(mySql);
  });

  it('quotes identifiers and compares NULL-safely and exactly', () => {
    expect(pg.table({ schema: 'a"b', table: 'c d' })).toBe('"a""b"."c d"');
    expect(my.table({ schema: 'a`b', table: 'c d' })).toBe('`a``b`.`c d`');
    expect(pg.same('c', null, 'text')).toBe('"c" IS NULL');
    expect(my.same('c', null, 'text')).toBe('`c` IS NULL');
    expect(pg.same('j', '{}', 'json')).toBe(`"j"::text = '{}'`);
    expect(my.same('s', 'a', 'varchar(3)')).toBe("CAST(CONVERT(`s` USING utf8mb4) AS BINARY) <=> CAST('a' AS BINARY)");
    expect(my.same('n', '1.50', 'decimal(4,2)')).toBe('`n` <=> 1.50');
    expect(mysqlDialect('mysql').same('j', '{}', 'json')).toBe("`j` <=> CAST('{}' AS JSON)");
    // The forms MariaDB capture records: BIT as a bit string, GEOMETRY as hex of SRID + WKB, FLOAT shortest.
    expect(my.literal('0101', 'bit(4)')).toBe("b'0101'");
    expect(my.same('b', '0101', 'bit(4)')).toBe("`b` <=> b'0101'");
    const pt = '000000000101000000000000000000F83F00000000000002C0';
    expect(my.literal(pt, 'point')).toBe("ST_GeomFromWKB(X'0101000000000000000000F83F00000000000002C0', 0)");
    expect(my.literal('E6100000' + pt.slice(8), 'geometry')).toMatch(/, 4326\)$/);
    expect(my.same('g', pt, 'point')).toBe(`HEX(\`g\`) <=> '${pt}'`);
    expect(my.same('f', '0.1', 'float')).toBe('`f` <=> 0.10000000149011612');
    expect(my.same('d', '0.1', 'double')).toBe('`d` <=> 0.1');
    expect(() => my.same('f', '1e39', 'float')).toThrow();
    expect(my.typeProblem('float', '1e39')).toMatch(/out of the range/);
    expect(my.typeProblem('double', '1e39')).toBeNull();
  });

  it('refuses what it cannot render exactly, so nothing unvalidated is pasted', () => {
    expect(pg.typeProblem('text; DROP TABLE x', 'a')).toMatch(/not understood/);
    expect(pg.typeProblem(undefined, 'a')).toBe('no column type recorded');
    expect(pg.typeProblem('public."My ""Type"""[]', 'a')).toBeNull();
    expect(my.typeProblem('geometry', 'POINT(1 2)')).toMatch(/not in the text form/);
    expect(my.typeProblem('int', '1; DROP TABLE x')).toMatch(/not in the text form/);
    expect(my.typeProblem('datetime(6)', "2026-01-01' OR '1")).toMatch(/not in the text form/);
    expect(() => my.literal('1 OR 1', 'bigint')).toThrow();
  });
});
