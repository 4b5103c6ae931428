/**
 * Savepoints and rollbacks in transactions that also change non-transactional tables (MyISAM, MEMORY,
 * Aria), against a real MariaDB. Once such a transaction has changed a non-transactional table, the server
 * no longer truncates its binlog cache on `ROLLBACK TO x`: the rolled-back InnoDB rows stay in the committed
 * group, followed by a `ROLLBACK TO x` query event. Ground truth is the tables themselves: the stored
 * changes, replayed strictly (an insert of a present key, or an update/delete of an absent one, fails), must
 * give exactly what the server holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type mysql from 'mysql2/promise';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import type { ChangeEvent } from '../../src/model/index.js';
import { Savepoints, savepointName, txControl } from '../../src/sources/mysql/mysql-savepoints.js';
import { cleanup, client, gtidPos, runSource, type Running } from './helpers.js';

let m: MariaServer;
let c: mysql.Connection;

beforeAll(async () => {
  m = await startMariadb();
  c = await client(m);
});
afterAll(async () => {
  await c?.end();
  await m?.destroy();
});

type Rows = Map<string, Record<string, string | null>>;

/** Replays the stored row changes of `table` from empty; throws on a change that cannot apply. */
function replay(events: ChangeEvent[], table: string): Rows {
  const rows: Rows = new Map();
  for (const e of events) {
    if (e.table !== table || (e.op !== 'insert' && e.op !== 'update' && e.op !== 'delete')) continue;
    const before = e.before ? JSON.stringify(e.before.id) : null;
    const after = e.after ? JSON.stringify(e.after.id) : null;
    if (e.op === 'insert') {
      if (rows.has(after!)) throw new Error(`${table}: insert of present id ${after} (${e.id})`);
      rows.set(after!, e.after!);
    } else {
      const have = rows.get(before!);
      if (!have) throw new Error(`${table}: ${e.op} of absent id ${before} (${e.id})`);
      expect(e.before, `${table} ${e.id} before image`).toEqual(have);
      rows.delete(before!);
      if (e.op === 'update') {
        if (rows.has(after!)) throw new Error(`${table}: update onto present id ${after} (${e.id})`);
        rows.set(after!, e.after!);
      }
    }
  }
  return rows;
}

async function actual(table: string): Promise<Rows> {
  const [rows] = await c.query(`SELECT CAST(id AS CHAR) AS id, v FROM \`${table}\` ORDER BY id`);
  return new Map((rows as { id: string; v: string | null }[]).map((r) => [JSON.stringify(r.id), { id: r.id, v: r.v }]));
}

async function binlogSince(file: string, pos: number): Promise<string[]> {
  const [rows] = await c.query(`SHOW BINLOG EVENTS IN '${file}' FROM ${pos}`);
  return (rows as { Event_type: string; Info: string }[]).map((r) => `${r.Event_type}: ${r.Info}`);
}

/** A statement of a scenario, or one the server must refuse (with an error matching `fails`). */
type Step = string | { sql: string; fails: RegExp };

/**
 * Creates `tables` (name → engine clause), runs `steps` on one session while a source captures, then checks
 * every table: stored changes replayed = the table. Returns the binlog events the steps produced.
 */
async function scenario(tag: string, tables: Record<string, string>, steps: Step[]): Promise<{ binlog: string[]; events: ChangeEvent[] }> {
  const start = await gtidPos(c);
  const run: Running = await runSource(m.url(), { startPosition: start });
  const s = await client(m);
  try {
    for (const [t, engine] of Object.entries(tables)) await s.query(`CREATE TABLE \`${t}\` (id INT PRIMARY KEY, v VARCHAR(40)) ${engine}`);
    const marker = `${tag}_done`;
    await s.query(`CREATE TABLE \`${marker}\` (id INT PRIMARY KEY) ENGINE=InnoDB`);
    const [[status]] = (await s.query('SHOW MASTER STATUS')) as unknown as [{ File: string; Position: number }[]];
    for (const step of steps) {
      if (typeof step === 'string') await s.query(step);
      else await expect(s.query(step.sql)).rejects.toThrow(step.fails);
    }
    await s.query(`INSERT INTO \`${marker}\` VALUES (1)`);
    const binlog = await binlogSince(status.File, status.Position);
    const events = await run.waitFor((ev) => ev.some((e) => e.table === marker && e.op === 'insert'));
    for (const t of Object.keys(tables)) {
      expect([...replay(events, t).entries()].sort(), `stored changes of ${t} replayed = ${t}`).toEqual([...(await actual(t)).entries()].sort());
    }
    return { binlog, events };
  } finally {
    await s.end();
    await run.stop();
    cleanup(run.dir);
  }
}

const ids = (events: ChangeEvent[], table: string) => events.filter((e) => e.table === table && e.op !== 'ddl').map((e) => `${e.op}:${(e.after ?? e.before)!.id}`);

describe('MariaDB savepoints with non-transactional tables', () => {
  it('(a) InnoDB + MyISAM: rows rolled back to a savepoint are not stored; the MyISAM rows are, once', async () => {
    const { binlog, events } = await scenario('a', { a_inno: 'ENGINE=InnoDB', a_my: 'ENGINE=MyISAM' }, [
      `INSERT INTO a_inno VALUES (1,'one'),(2,'two')`,
      'BEGIN',
      `INSERT INTO a_inno VALUES (3,'three')`,
      'SAVEPOINT sp',
      `INSERT INTO a_inno VALUES (4,'rolled back')`,
      `INSERT INTO a_my VALUES (1,'kept')`,
      `UPDATE a_inno SET v='rolled back' WHERE id=1`,
      `DELETE FROM a_inno WHERE id=2`,
      'ROLLBACK TO sp',
      `INSERT INTO a_inno VALUES (5,'five')`,
      `UPDATE a_my SET v='kept too' WHERE id=1`,
      'COMMIT',
    ]);
    // What MariaDB writes: the rolled-back rows inside the committed group, then ROLLBACK TO.
    expect(binlog.filter((l) => /^Query: (SAVEPOINT|ROLLBACK)/.test(l))).toEqual(['Query: SAVEPOINT `sp`', 'Query: ROLLBACK TO `sp`']);
    expect(binlog.some((l) => l.startsWith('Xid'))).toBe(true);
    expect(ids(events, 'a_inno')).toEqual(['insert:1', 'insert:2', 'insert:3', 'insert:5']);
    expect(ids(events, 'a_my')).toEqual(['insert:1', 'update:1']);
    // The transaction's changes are numbered without gaps.
    const tx = events.filter((e) => e.table === 'a_inno' && e.after?.id === '3')[0].tx;
    expect(events.filter((e) => e.tx.id === tx.id).map((e) => e.tx.index)).toEqual([0, 1]);
  });

  it('(b) InnoDB only: the server truncates its cache, nothing rolled back is stored', async () => {
    const { binlog, events } = await scenario('b', { b_inno: 'ENGINE=InnoDB' }, [
      'BEGIN',
      `INSERT INTO b_inno VALUES (1,'one')`,
      'SAVEPOINT sp',
      `INSERT INTO b_inno VALUES (2,'rolled back')`,
      `UPDATE b_inno SET v='rolled back' WHERE id=1`,
      'ROLLBACK TO sp',
      `INSERT INTO b_inno VALUES (3,'three')`,
      'COMMIT',
    ]);
    expect(binlog.some((l) => l.startsWith('Query: ROLLBACK'))).toBe(false);
    expect(ids(events, 'b_inno')).toEqual(['insert:1', 'insert:3']);
  });

  it('(c) full ROLLBACK of a transaction that wrote InnoDB and MyISAM: the MyISAM rows are stored once, the InnoDB rows not', async () => {
    const { binlog, events } = await scenario('c', { c_inno: 'ENGINE=InnoDB', c_my: 'ENGINE=MyISAM' }, [
      `INSERT INTO c_inno VALUES (1,'one')`,
      'BEGIN',
      `INSERT INTO c_inno VALUES (2,'rolled back')`,
      `INSERT INTO c_my VALUES (1,'kept')`,
      `UPDATE c_inno SET v='rolled back' WHERE id=1`,
      `INSERT INTO c_my VALUES (2,'kept')`,
      'ROLLBACK',
      // A savepoint set before the transaction's first logged change: MariaDB logs no SAVEPOINT event and
      // rolls the binlog group back in full (a group ending in a ROLLBACK query).
      'BEGIN',
      'SAVEPOINT early',
      `INSERT INTO c_inno VALUES (3,'rolled back')`,
      `INSERT INTO c_my VALUES (3,'kept')`,
      `INSERT INTO c_inno VALUES (4,'rolled back')`,
      'ROLLBACK TO early',
      `INSERT INTO c_inno VALUES (5,'five')`,
      'COMMIT',
    ]);
    expect(binlog).toContain('Query: ROLLBACK');
    expect(ids(events, 'c_inno')).toEqual(['insert:1', 'insert:5']);
    expect(ids(events, 'c_my')).toEqual(['insert:1', 'insert:2', 'insert:3']);
  });

  it('(d) nested and re-used savepoints, MEMORY and Aria, quoted and case-folded names', async () => {
    const { binlog, events } = await scenario(
      'd',
      { d_inno: 'ENGINE=InnoDB', d_mem: 'ENGINE=MEMORY', d_aria: 'ENGINE=Aria TRANSACTIONAL=1', d_my: 'ENGINE=MyISAM' },
      [
        'BEGIN',
        `INSERT INTO d_inno VALUES (1,'one')`,
        'SAVEPOINT s',
        `INSERT INTO d_inno VALUES (2,'two, kept: s is re-set below')`,
        'SAVEPOINT s',
        `INSERT INTO d_mem VALUES (1,'kept')`,
        `INSERT INTO d_inno VALUES (3,'rolled back')`,
        'ROLLBACK TO s',
        `INSERT INTO d_inno VALUES (4,'four')`,
        'SAVEPOINT s2',
        `INSERT INTO d_inno VALUES (5,'rolled back')`,
        'SAVEPOINT s',
        `INSERT INTO d_inno VALUES (6,'rolled back')`,
        `INSERT INTO d_aria VALUES (1,'kept')`,
        'ROLLBACK TO s2',
        `INSERT INTO d_inno VALUES (7,'rolled back')`,
        // s was set after s2, so ROLLBACK TO s2 removed it: this fails and rolls nothing back.
        { sql: 'ROLLBACK TO s', fails: /does not exist/ },
        'SAVEPOINT `Odd ``name`',
        `INSERT INTO d_inno VALUES (8,'rolled back')`,
        `INSERT INTO d_my VALUES (1,'kept')`,
        'ROLLBACK WORK TO SAVEPOINT `ODD ``NAME`',
        'SAVEPOINT s3',
        `INSERT INTO d_inno VALUES (9,'rolled back')`,
        'RELEASE SAVEPOINT s3',
        `UPDATE d_inno SET v='rolled back' WHERE id=1`,
        'ROLLBACK TO s2',
        'COMMIT',
      ],
    );
    expect(binlog.filter((l) => l.startsWith('Query: ROLLBACK TO')).length).toBeGreaterThanOrEqual(3);
    expect(ids(events, 'd_inno')).toEqual(['insert:1', 'insert:2', 'insert:4']);
    expect(ids(events, 'd_mem')).toEqual(['insert:1']);
    expect(ids(events, 'd_aria')).toEqual(['insert:1']);
    expect(ids(events, 'd_my')).toEqual(['insert:1']);
  });

  it('cuts rolled-back rows that were already handed to the store (a rolled-back section larger than a flush)', async () => {
    const { events } = await scenario('big', { big_inno: 'ENGINE=InnoDB', big_my: 'ENGINE=MyISAM' }, [
      'BEGIN',
      `INSERT INTO big_inno VALUES (1,'one')`,
      `INSERT INTO big_my VALUES (1,'kept')`,
      'SAVEPOINT sp',
      `INSERT INTO big_inno SELECT seq, 'rolled back' FROM seq_2_to_12001`,
      'ROLLBACK TO sp',
      `INSERT INTO big_inno VALUES (2,'two')`,
      'COMMIT',
    ]);
    expect(ids(events, 'big_inno')).toEqual(['insert:1', 'insert:2']);
  });
});

describe('savepoint helpers (pure)', () => {
  it('classifies transaction control statements as MariaDB and MySQL log them', () => {
    expect(txControl('SAVEPOINT `a`')).toEqual({ kind: 'savepoint', name: 'A' });
    expect(txControl('ROLLBACK TO `we``ird sp`')).toEqual({ kind: 'rollback-to', name: 'WE`IRD SP' });
    expect(txControl('rollback work to savepoint Foo ;')).toEqual({ kind: 'rollback-to', name: 'FOO' });
    expect(txControl('/* c */ ROLLBACK TO "b c"')).toEqual({ kind: 'rollback-to', name: 'B C' });
    expect(txControl('RELEASE SAVEPOINT é')).toEqual({ kind: 'release', name: 'E' });
    expect(txControl('ROLLBACK')).toEqual({ kind: 'rollback' });
    expect(txControl('ROLLBACK WORK AND NO CHAIN NO RELEASE')).toEqual({ kind: 'rollback' });
    expect(txControl('COMMIT')).toBeNull();
    expect(txControl('SAVEPOINTS_TABLE_DROP')).toBeNull();
    expect(() => txControl('ROLLBACK TO')).toThrow(/unrecognized/);
    expect(savepointName('`a b `')).not.toEqual(savepointName('`a b`'));
  });

  it('rolls back to the newest savepoint of a name and forgets the ones after it', () => {
    const s = new Savepoints();
    s.set('S', 1);
    s.set('T', 2);
    s.set('S', 3);
    s.set('U', 4);
    expect(s.rollbackTo('S')).toBe(3);
    expect(s.rollbackTo('U')).toBeNull();
    expect(s.rollbackTo('T')).toBe(2);
    expect(s.rollbackTo('S')).toBeNull();
    s.release('T');
    expect(s.rollbackTo('T')).toBeNull();
  });
});
