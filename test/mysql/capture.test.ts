/**
 * MariaDB capture against a real server: every type round-trips exactly (compared with the server's own
 * CAST(col AS CHAR) / HEX(col)), updates with before/after, deletes, multi-table transactions, DDL
 * mid-stream, DDL replayed after the fact, a 100k-row transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type mysql from 'mysql2/promise';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { cleanup, client, gtidPos, recordingLogger, recordingResolver, runSource } from './helpers.js';

let m: MariaServer;
let c: mysql.Connection;

beforeAll(async () => {
  m = await startMariadb();
  c = await client(m);
  await c.query(`SET time_zone = '+00:00'`);
});
afterAll(async () => {
  await c?.end();
  await m?.destroy();
});

const TYPES_DDL = `CREATE TABLE alltypes (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
  d DECIMAL(12,2), du DECIMAL(10,4) UNSIGNED, d65 DECIMAL(65,30), d0 DECIMAL(18,0), d9 DECIMAL(9,9),
  f FLOAT, db DOUBLE,
  dt DATETIME(6), dt0 DATETIME, dt3 DATETIME(3), ts TIMESTAMP(6) NULL DEFAULT NULL, ts0 TIMESTAMP NULL DEFAULT NULL,
  tm TIME(6), tm0 TIME, tm2 TIME(2), dte DATE, yr YEAR,
  bt BIT(10), b1 BIT(1), b64 BIT(64),
  e ENUM('a','b','c d','é'), st SET('x','y','z'),
  bl BLOB, tb TINYBLOB, mb MEDIUMBLOB, vb VARBINARY(16), bn BINARY(4),
  ch CHAR(5), vc VARCHAR(20), tx TEXT, lt TEXT CHARACTER SET latin1, lvc VARCHAR(10) CHARACTER SET latin1,
  u3 VARCHAR(10) CHARACTER SET utf8mb3,
  js JSON, g GEOMETRY, pt POINT,
  nu INT NULL
) DEFAULT CHARSET=utf8mb4`;

const ROWS = [
  `(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
    -1234567890.12, 123456.7891, '-12345678901234567890123456789012345.123456789012345678901234567891', 999999999999999999, 0.123456789,
    1.1, 0.1,
    '2024-02-29 23:59:59.999999', '1000-01-01 00:00:00', '9999-12-31 23:59:59.5', '2038-01-19 03:14:07.999999', '1970-01-01 00:00:01',
    '-838:59:59.000000', '838:59:59', '-00:00:00.01', '0001-01-01', 1901,
    b'1010101010', b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
    'c d', 'x,z',
    X'00FF10', X'', X'DEADBEEF', X'0001', X'AB',
    'ab', 'héllo 😀 w', 'line1\nline2\ttab \\\\ ''q''', 'café €uro ÿ', 'Ñandú',
    'ünï',
    '{"big": 12345678901234567890123, "f": 1.5e300, "s": "x\\\\"y", "a": [1, null, true]}', ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 0))'), POINT(1.5, -2.25),
    NULL)`,
  `(2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.0, '2000-01-01 00:00:00', '2000-01-01 00:00:00', '2000-01-01 00:00:00.001',
    '2000-01-01 00:00:00', '2000-01-01 00:00:00', '00:00:00', '00:00:00', '12:34:56.78', '2000-01-01', 2155,
    b'0', b'0', b'0', 'é', '', X'', X'00', X'', X'', X'00000000', '', '', '', '', '', '', '[]', NULL, NULL, 0)`,
  `(3, 127, 1, 32767, 1, 8388607, 1, 2147483647, 1, 9223372036854775807, 9223372036854775808,
    9999999999.99, 0.0001, 0.000000000000000000000000000001, -999999999999999999, -0.000000001,
    -3.4028234e38, 2.2250738585072014e-308,
    '1999-12-31 12:00:00.000001', '1999-12-31 12:00:00', '1999-12-31 12:00:00.999', NULL, NULL,
    '-12:00:00.5', '-00:00:01', '100:00:00', '2024-06-15', 2000,
    b'1', b'1', b'1000000000000000000000000000000000000000000000000000000000000000', 'a', 'x,y,z',
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{"n": -9223372036854775808, "u": 18446744073709551615, "d": 0.1}', NULL, NULL, NULL)`,
];

/** What the server says each column's text is. */
function expectedExpr(col: string): string {
  if (['bl', 'tb', 'mb', 'vb', 'bn', 'g', 'pt'].includes(col)) return `HEX(\`${col}\`)`;
  if (col === 'bt') return `LPAD(BIN(bt), 10, '0')`;
  if (col === 'b1') return `LPAD(BIN(b1), 1, '0')`;
  if (col === 'b64') return `LPAD(BIN(b64), 64, '0')`;
  if (col === 'f' || col === 'db') return `CAST(\`${col}\` AS DOUBLE)`;
  return `CAST(\`${col}\` AS CHAR)`;
}

describe('MariaDB capture', () => {
  it('round-trips every type exactly, against CAST(col AS CHAR) / HEX(col)', async () => {
    await c.query('DROP TABLE IF EXISTS alltypes');
    await c.query(TYPES_DDL);
    const start = await gtidPos(c);
    const run = await runSource(m.url('test'), { startPosition: start });
    try {
      for (const r of ROWS) await c.query(`INSERT INTO alltypes VALUES ${r}`);
      const events = await run.waitFor((e) => e.filter((x) => x.table === 'alltypes').length >= ROWS.length);
      const [colRows] = await c.query(`SELECT COLUMN_NAME AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='test' AND TABLE_NAME='alltypes' ORDER BY ORDINAL_POSITION`);
      const cols = (colRows as { n: string }[]).map((x) => x.n);
      const [exp] = await c.query(`SELECT ${cols.map((x) => `${expectedExpr(x)} AS \`${x}\``).join(', ')} FROM alltypes ORDER BY id`);
      const expected = exp as Record<string, string | null>[];
      const inserts = events.filter((e) => e.table === 'alltypes' && e.op === 'insert');
      expect(inserts).toHaveLength(ROWS.length);
      for (let k = 0; k < expected.length; k++) {
        const got = inserts[k].after!;
        expect(Object.keys(got)).toEqual(cols);
        for (const col of cols) {
          const want = expected[k][col];
          if (col === 'f') {
            // FLOAT: rowtrail keeps the exact single-precision value (see docs/decisions.md).
            expect(want === null ? null : Math.fround(Number(got[col]))).toBe(want === null ? null : Number(want));
          } else if (col === 'db') {
            expect(Number(got[col])).toBe(Number(want));
          } else {
            expect({ row: k + 1, col, value: got[col] }).toEqual({ row: k + 1, col, value: want === null ? null : String(want) });
          }
        }
        expect(inserts[k].key).toEqual({ id: String(k + 1) });
        expect(inserts[k].before).toBeNull();
      }
      const t = inserts[0].types!;
      expect(t).toMatchObject({
        id: 'int',
        tiu: 'tinyint unsigned',
        bu: 'bigint unsigned',
        d: 'decimal(12,2)',
        du: 'decimal(10,4) unsigned',
        dt: 'datetime(6)',
        dt0: 'datetime',
        ts: 'timestamp(6)',
        tm2: 'time(2)',
        bt: 'bit(10)',
        e: "enum('a','b','c d','é')",
        st: "set('x','y','z')",
        vb: 'varbinary(16)',
        bn: 'binary(4)',
        ch: 'char(5)',
        vc: 'varchar(20)',
        lvc: 'varchar(10)',
        u3: 'varchar(10)',
        tx: 'text',
        mb: 'mediumblob',
        g: 'geometry',
        pt: 'point',
      });
      expect(inserts[0].tx.position).toMatch(/^0-1-\d+$/);
      expect(inserts[0].system).toBe('mariadb');
    } finally {
      await run.stop();
      cleanup(run.dir);
    }
  });

  it('decodes columns after a YEAR and after a GEOMETRY right (MariaDB table-map metadata quirks)', async () => {
    // MariaDB counts YEAR in the signedness bitmap and GEOMETRY among the charset columns; a decoder that
    // does not would read the next signed number as unsigned and give text columns their neighbour's charset.
    await c.query('DROP TABLE IF EXISTS quirks');
    await c.query(`CREATE TABLE quirks (id INT PRIMARY KEY, y YEAR, n BIGINT, g GEOMETRY, b BLOB, l VARCHAR(10) CHARACTER SET latin1, u VARCHAR(10)) DEFAULT CHARSET=utf8mb4`);
    const start = await gtidPos(c);
    const run = await runSource(m.url('test'), { startPosition: start });
    try {
      await c.query(`INSERT INTO quirks VALUES (1, 2024, -1, ST_GeomFromText('POINT(1 2)'), X'00FF', 'café', 'ünï 😀'), (2, NULL, -9223372036854775808, NULL, NULL, NULL, NULL)`);
      const events = await run.waitFor((e) => e.filter((x) => x.table === 'quirks').length >= 2);
      const [exp] = await c.query(`SELECT CAST(id AS CHAR) AS id, CAST(y AS CHAR) AS y, CAST(n AS CHAR) AS n, HEX(g) AS g, HEX(b) AS b, CAST(l AS CHAR) AS l, CAST(u AS CHAR) AS u FROM quirks ORDER BY id`);
      const got = events.filter((e) => e.table === 'quirks').map((e) => e.after);
      expect(got).toEqual((exp as Record<string, string | null>[]).map((r) => ({ ...r })));
      expect(got[0]!.n).toBe('-1');
    } finally {
      await run.stop();
      cleanup(run.dir);
    }
  });

  it('captures updates with full before/after, deletes, and multi-table transactions', async () => {
    await c.query('DROP TABLE IF EXISTS acct, audit');
    await c.query('CREATE TABLE acct (id BIGINT UNSIGNED PRIMARY KEY, owner VARCHAR(20), bal DECIMAL(12,2), note TEXT)');
    await c.query('CREATE TABLE audit (n INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(50))');
    const start = await gtidPos(c);
    const run = await runSource(m.url('test'), { startPosition: start });
    try {
      await c.query(`INSERT INTO acct VALUES (18446744073709551615, 'ann', 10.50, NULL), (2, 'bob', -3.00, 'x')`);
      await c.query(`UPDATE acct SET bal = bal + 0.25, note = 'paid' WHERE id = 18446744073709551615`);
      await c.query('START TRANSACTION');
      await c.query(`UPDATE acct SET owner = 'bobby' WHERE id = 2`);
      await c.query(`INSERT INTO audit (msg) VALUES ('renamed'), ('again')`);
      await c.query(`DELETE FROM acct WHERE id = 2`);
      await c.query('COMMIT');
      await c.query('START TRANSACTION');
      await c.query(`INSERT INTO audit (msg) VALUES ('rolled back')`);
      await c.query('ROLLBACK');
      await c.query(`UPDATE acct SET owner = owner WHERE id = 18446744073709551615`); // no row change: not logged
      await c.query(`INSERT INTO audit (msg) VALUES ('last')`);
      const ev = await run.waitFor((e) => e.some((x) => x.after?.msg === 'last'));
      const simple = ev.map((e) => [e.op, e.table, e.key, e.changed]);
      expect(simple).toEqual([
        ['insert', 'acct', { id: '18446744073709551615' }, ['id', 'owner', 'bal', 'note']],
        ['insert', 'acct', { id: '2' }, ['id', 'owner', 'bal', 'note']],
        ['update', 'acct', { id: '18446744073709551615' }, ['bal', 'note']],
        ['update', 'acct', { id: '2' }, ['owner']],
        ['insert', 'audit', { n: '1' }, ['n', 'msg']],
        ['insert', 'audit', { n: '2' }, ['n', 'msg']],
        ['delete', 'acct', { id: '2' }, ['id', 'owner', 'bal', 'note']],
        ['insert', 'audit', { n: '4' }, ['n', 'msg']],
      ]);
      expect(ev[2].before).toEqual({ id: '18446744073709551615', owner: 'ann', bal: '10.50', note: null });
      expect(ev[2].after).toEqual({ id: '18446744073709551615', owner: 'ann', bal: '10.75', note: 'paid' });
      expect(ev[6].before).toEqual({ id: '2', owner: 'bobby', bal: '-3.00', note: 'x' });
      expect(ev[6].after).toBeNull();
      // The multi-table transaction is one transaction of 4 changes, indexes 0..3, one position.
      const tx = ev.slice(3, 7);
      expect(new Set(tx.map((e) => e.tx.position)).size).toBe(1);
      expect(tx.map((e) => e.tx.index)).toEqual([0, 1, 2, 3]);
      expect(tx.every((e) => e.tx.size === 4)).toBe(true);
      expect(ev[0].tx.position).not.toBe(ev[3].tx.position);
      expect(ev[0].tx.commitTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(new Set(ev.map((e) => e.id)).size).toBe(ev.length);
    } finally {
      await run.stop();
      cleanup(run.dir);
    }
  });

  it('decodes rows before and after DDL mid-stream (add/drop/rename column), live and replayed', async () => {
    await c.query('DROP TABLE IF EXISTS evolve');
    await c.query('CREATE TABLE evolve (id INT PRIMARY KEY, a VARCHAR(10), b INT)');
    const start = await gtidPos(c);
    const live = await runSource(m.url('test'), { startPosition: start });
    const script = [
      `INSERT INTO evolve VALUES (1, 'one', 10)`,
      `ALTER TABLE evolve ADD COLUMN c DECIMAL(5,1) DEFAULT 1.5 AFTER a`,
      `INSERT INTO evolve VALUES (2, 'two', 2.5, 20)`,
      `ALTER TABLE evolve DROP COLUMN b`,
      `INSERT INTO evolve VALUES (3, 'three', 3.5)`,
      `ALTER TABLE evolve RENAME COLUMN a TO name`,
      `UPDATE evolve SET name = 'uno' WHERE id = 1`,
      `TRUNCATE TABLE evolve`,
    ];
    const want = (ev: ReturnType<typeof live.changes>) =>
      ev.filter((e) => e.table === 'evolve').map((e) => ({ op: e.op, before: e.before, after: e.after, ddl: e.ddl }));
    const expected = [
      { op: 'insert', before: null, after: { id: '1', a: 'one', b: '10' }, ddl: undefined },
      { op: 'ddl', before: null, after: null, ddl: script[1] },
      { op: 'insert', before: null, after: { id: '2', a: 'two', c: '2.5', b: '20' }, ddl: undefined },
      { op: 'ddl', before: null, after: null, ddl: script[3] },
      { op: 'insert', before: null, after: { id: '3', a: 'three', c: '3.5' }, ddl: undefined },
      { op: 'ddl', before: null, after: null, ddl: script[5] },
      { op: 'update', before: { id: '1', name: 'one', c: '1.5' }, after: { id: '1', name: 'uno', c: '1.5' }, ddl: undefined },
      { op: 'truncate', before: null, after: null, ddl: script[7] },
    ];
    try {
      for (const s of script) await c.query(s);
      const ev = await live.waitFor((e) => e.some((x) => x.op === 'truncate'));
      expect(want(ev)).toEqual(expected);
      expect(ev.find((e) => e.op === 'update')!.types).toEqual({ id: 'int', name: 'varchar(10)', c: 'decimal(5,1)' });
      expect(ev.find((e) => e.op === 'insert')!.types).toEqual({ id: 'int', a: 'varchar(10)', b: 'int' });
    } finally {
      await live.stop();
      cleanup(live.dir);
    }
    // Replayed after all the DDL happened: the table maps in the binlog still give each row its old shape.
    const replay = await runSource(m.url('test'), { startPosition: start });
    try {
      const ev = await replay.waitFor((e) => e.some((x) => x.op === 'truncate'));
      expect(want(ev)).toEqual(expected);
      expect(replay.source.stats().transactions).toBe(8);
    } finally {
      await replay.stop();
      cleanup(replay.dir);
    }
  });

  it('stores a 100k-row transaction completely, in bounded slices', async () => {
    await c.query('DROP TABLE IF EXISTS big');
    await c.query('CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(40), n BIGINT)');
    const start = await gtidPos(c);
    const run = await runSource(m.url('test'), { startPosition: start });
    try {
      // MariaDB's SEQUENCE engine: one statement, one transaction of 100k rows.
      await c.query(`INSERT INTO big SELECT seq, CONCAT('row-', seq), seq * 1000000007 FROM seq_1_to_100000`);
      await c.query(`INSERT INTO big VALUES (0, 'after', 0)`);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const n = (run.store.db.prepare(`SELECT count(*) AS n FROM changes`).get() as { n: number }).n;
        const committed = (run.store.db.prepare(`SELECT count(*) AS n FROM transactions WHERE state = 'committed'`).get() as { n: number }).n;
        if (committed >= 2 && n >= 100001) break;
        if (Date.now() > deadline) throw new Error(`only ${n} changes`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const txs = run.store.db.prepare(`SELECT size, position FROM transactions WHERE state='committed' ORDER BY commit_seq`).all() as { size: number; position: string }[];
      expect(txs.map((t) => t.size)).toEqual([100000, 1]);
      const one = [...run.store.changes({ source: 'shop', key: { id: '77777' }, table: 'test.big' })];
      expect(one).toHaveLength(1);
      expect(one[0].after).toEqual({ id: '77777', v: 'row-77777', n: String(77777n * 1000000007n) });
      expect(one[0].tx.size).toBe(100000);
      const idx = run.store.db.prepare(`SELECT min(idx) AS a, max(idx) AS b, count(DISTINCT idx) AS c FROM changes c JOIN transactions t USING (tx_pk) WHERE t.size = 100000`).get();
      expect(idx).toEqual({ a: 0, b: 99999, c: 100000 });
    } finally {
      await run.stop();
      cleanup(run.dir);
    }
  }, 120_000);

  it('gives identity the annotated statements, and warns in one line when a watched table is dropped', async () => {
    await c.query('DROP TABLE IF EXISTS doomed');
    await c.query('CREATE TABLE doomed (id INT PRIMARY KEY)');
    const start = await gtidPos(c);
    const identity = recordingResolver();
    const log = recordingLogger();
    const run = await runSource(m.url('test'), { startPosition: start, identity, log });
    try {
      await c.query(`INSERT /*agent='deploy-bot',run='r-17'*/ INTO doomed VALUES (1), (2)`);
      await c.query('DROP TABLE doomed');
      const ev = await run.waitFor((e) => e.some((x) => x.op === 'ddl'));
      expect(ev.map((e) => [e.op, e.table])).toEqual([['insert', 'doomed'], ['insert', 'doomed'], ['ddl', 'doomed']]);
      // The DML transaction (no thread id on MariaDB) is resolved when written, after the DDL: find each by content.
      const dml = identity.seen.find((f) => f.statements[0]?.startsWith('INSERT'));
      const ddl = identity.seen.find((f) => f.statements[0]?.includes('DROP TABLE'));
      expect(dml?.statements).toEqual([`INSERT /*agent='deploy-bot',run='r-17'*/ INTO doomed VALUES (1), (2)`]);
      expect(dml?.xid).toBe(ev[0].tx.position);
      expect(ddl?.xid).toBe(ev[2].tx.position);
      expect(log.warnings).toEqual([`watched table test.doomed was dropped; remove it from sources[].tables of shop or recreate it`]);
    } finally {
      await run.stop();
      cleanup(run.dir);
    }
  });
});
