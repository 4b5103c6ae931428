/**
 * Crash and restart: SIGKILL of the capturing process (a child running MysqlSource against a store) while
 * transactions commit, and a restart of the server itself; every committed change is stored exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type mysql from 'mysql2/promise';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { Store } from '../../src/store/index.js';
import { cleanup, client, gtidPos, runSource } from './helpers.js';

let m: MariaServer;
let c: mysql.Connection;

beforeAll(async () => {
  m = await startMariadb();
  c = await client(m);
});
afterAll(async () => {
  await c?.end().catch(() => undefined);
  await m?.destroy();
});

function startChild(url: string, dir: string, start: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'run-source.ts'), url, dir, start], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      if (String(d).includes('streaming')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('MariaDB recovery', () => {
  it('stores every committed change exactly once across SIGKILLs of the capturing process', async () => {
    await c.query('CREATE TABLE crash (id INT PRIMARY KEY, tx INT, v VARCHAR(20))');
    const start = await gtidPos(c);
    const dir = mkdtempSync(join(tmpdir(), 'rowtrail-mysql-crash-'));
    let stopWriting = false;
    let committed = 0;
    // Writer: transactions of 1-3 rows, some multi-statement, some rolled back.
    const writer = (async () => {
      const w = await client(m);
      let id = 0;
      for (let t = 0; !stopWriting; t++) {
        await w.query('START TRANSACTION');
        const n = 1 + (t % 3);
        for (let k = 0; k < n; k++) await w.query('INSERT INTO crash VALUES (?, ?, ?)', [++id, t, `r${id}`]);
        if (t % 7 === 6) {
          await w.query('ROLLBACK');
          id -= n;
        } else {
          await w.query('COMMIT');
          committed = id;
        }
      }
      await w.end();
    })();
    try {
      for (let round = 0; round < 4; round++) {
        const child = await startChild(m.url('test'), dir, start);
        await new Promise((r) => setTimeout(r, 300 + round * 150));
        await kill9(child);
      }
      stopWriting = true;
      await writer;
      const total = committed;
      expect(total).toBeGreaterThan(50);
      const child = await startChild(m.url('test'), dir, start);
      const store = Store.open(dir, { readonly: true });
      try {
        const deadline = Date.now() + 30_000;
        let rows: { id: string; n: number }[] = [];
        for (;;) {
          rows = store.db
            .prepare(
              `SELECT json_extract(c.after, '$.id') AS id, count(*) AS n FROM changes c JOIN transactions t USING (tx_pk)
               WHERE t.state = 'committed' AND c.tbl = 'crash' GROUP BY 1`,
            )
            .all() as { id: string; n: number }[];
          if (rows.length >= total || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(rows.length).toBe(total);
        expect(rows.filter((r) => r.n !== 1)).toEqual([]);
        const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
        expect(ids[0]).toBe(1);
        expect(ids[ids.length - 1]).toBe(total);
        // Transactions are whole: every stored transaction has as many changes as its size.
        const partial = store.db
          .prepare(`SELECT t.tx_pk FROM transactions t JOIN changes c USING (tx_pk) WHERE t.state='committed' GROUP BY t.tx_pk HAVING count(*) <> max(t.size)`)
          .all();
        expect(partial).toEqual([]);
      } finally {
        store.close();
        await kill9(child);
      }
    } finally {
      stopWriting = true;
      await writer.catch(() => undefined);
      cleanup(dir);
    }
  }, 120_000);

  it('reconnects after a server restart and resumes without loss or duplicates', async () => {
    await c.query('CREATE TABLE bounce (id INT PRIMARY KEY)');
    const start = await gtidPos(c);
    const run = await runSource(m.url('test'), { startPosition: start, backoffMs: 100, heartbeatSeconds: 1 });
    try {
      for (let i = 1; i <= 20; i++) await c.query('INSERT INTO bounce VALUES (?)', [i]);
      await run.waitFor((e) => e.length >= 20);
      await c.end();
      await m.restart();
      c = await client(m);
      for (let i = 21; i <= 40; i++) await c.query('INSERT INTO bounce VALUES (?)', [i]);
      const ev = await run.waitFor((e) => e.filter((x) => x.table === 'bounce').length >= 40, 60_000);
      const rows = ev.filter((e) => e.table === 'bounce');
      expect(rows.map((e) => Number(e.key!.id))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      // The harness runs CREATE DATABASE IF NOT EXISTS at every server start: a real DDL, captured once.
      expect(ev.filter((e) => e.table !== 'bounce').map((e) => [e.op, e.ddl])).toEqual([['ddl', 'CREATE DATABASE IF NOT EXISTS test']]);
    } finally {
      await run.stop();
      cleanup(run.dir);
    }
  }, 120_000);
});
