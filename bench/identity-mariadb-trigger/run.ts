/**
 * MariaDB precise mode: cost and correctness of a trigger that records the session inside the transaction,
 * so the binlog carries it as a row event of that transaction (exact attribution by construction).
 *
 *   npx tsx bench/identity-mariadb-trigger/run.ts [pairs=5] [seconds=5]
 *
 * A throwaway MariaDB (test/harness/mariadb.ts: binlog ROW/FULL, free port, temp dir). Workloads, 8
 * connections each: (a) single-row autocommit INSERT into a watched table; (b) a transaction of 10
 * single-row UPDATEs (sent as one multi-statement query, BEGIN … COMMIT). Arms: `off` and the trigger
 * variants below, in forward order on even pairs and reverse order on odd pairs. Reports median TPS, loss vs
 * `off`, binlog bytes per transaction (binlog size after RESET MASTER / transactions), and the transactions
 * that failed (a trigger that deadlocks breaks the application's write). `mem-row` (MEMORY engine) is only
 * run for correctness: it is non-transactional, so its records leave the transaction.
 *
 * Then, per trigger variant, a correctness run (rollbacks, savepoints, a failing statement inside a
 * transaction, a failing autocommit statement): SHOW BINLOG EVENTS counts the session row events of every
 * committed transaction, and `mariadb-binlog -v` (when installed) checks that each record names the
 * session (connection id, USER(), @rowtrail_actor) that made the transaction's rows.
 */
import mysql from 'mysql2/promise';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startMariadb, type MariaServer } from '../../test/harness/mariadb.js';

const PAIRS = Number(process.argv[2] ?? 5);
const SECS = Number(process.argv[3] ?? 5);
const CONNS = 8;
const ROWS_PER_CONN = 1000; // w2 id range owned by each connection: no lock waits between connections
const run = promisify(execFile);

type Conn = mysql.Connection;
type Row = Record<string, unknown>;

/** The transaction marker: a per-session nonce (connection ids restart at 1 after a server restart, and a
 * new session's @@last_gtid is '') and the GTID of the session's last binlogged transaction. It changes
 * with every commit of the session; a rollback (full, savepoint, statement) reverts the stored marker
 * together with the record, so the next watched write records again. */
const MARK = `CONCAT(COALESCE(@rowtrail_s, @rowtrail_s := UUID_SHORT()), '/', @@last_gtid)`;
const UPSERT = (tx: string) =>
  `INSERT INTO rowtrail.session VALUES (CONNECTION_ID(), ${tx}, USER(), LEFT(@rowtrail_actor, 255)) ` +
  `ON DUPLICATE KEY UPDATE tx = VALUES(tx), usr = VALUES(usr), actor = VALUES(actor)`;

interface Arm {
  name: string;
  body: string | null;
  /** Session row events expected in a committed transaction: 'tx' exactly one, 'row' one per watched row. */
  expect: 'tx' | 'row' | null;
  note: string;
  /** false: correctness run only (known incorrect, not worth the benchmark time) */
  perf?: boolean;
}

const ARMS: Arm[] = [
  { name: 'off', body: null, expect: null, note: 'no trigger' },
  {
    name: 'bh-row',
    body: `INSERT INTO rowtrail.session_bh VALUES (CONNECTION_ID(), USER(), LEFT(@rowtrail_actor, 255))`,
    expect: 'row',
    note: 'BLACKHOLE insert per row (logged in the transaction cache, nothing stored)',
  },
  {
    name: 'mem-row',
    body: `INSERT INTO rowtrail.session_mem VALUES (CONNECTION_ID(), USER(), LEFT(@rowtrail_actor, 255))`,
    expect: 'row',
    note: 'MEMORY insert per row (non-transactional: logged outside the transaction, kept on rollback)',
    perf: false,
  },
  {
    name: 'upsert-row',
    body: UPSERT('UUID_SHORT()'),
    expect: 'row',
    note: 'InnoDB per-connection row, changed on every row (one UPDATE event per row)',
  },
  {
    name: 'upsert-tx',
    body: UPSERT(MARK),
    expect: 'tx',
    note: 'InnoDB per-connection row, ODKU with the tx marker (unchanged row = no event)',
  },
  {
    name: 'check-tx',
    body: `BEGIN IF NOT (SELECT tx FROM rowtrail.session WHERE conn = CONNECTION_ID()) <=> ${MARK} THEN ${UPSERT(MARK)}; END IF; END`,
    expect: 'tx',
    note: 'as upsert-tx, but a PK SELECT decides first (in a trigger a locking read: S gap lock when missing)',
  },
  {
    name: 'innodb-trx',
    body: UPSERT(`COALESCE((SELECT trx_id FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()), '')`),
    expect: 'tx',
    note: 'ODKU keyed on INNODB_TRX.trx_id (incorrect: the I_S cache refreshes only after 100 ms without a read)',
  },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;

async function rows(c: Conn, sql: string): Promise<Row[]> {
  const [r] = await c.query(sql);
  return r as Row[];
}

async function setup(root: Conn): Promise<void> {
  try {
    await root.query(`INSTALL SONAME 'ha_blackhole'`);
  } catch (e) {
    if (!/already exists/i.test((e as Error).message)) throw e;
  }
  await root.query(`
    CREATE DATABASE rowtrail;
    CREATE TABLE rowtrail.session (conn BIGINT UNSIGNED PRIMARY KEY, tx VARCHAR(64) NOT NULL,
      usr VARCHAR(384) NOT NULL, actor VARCHAR(255) NULL) ENGINE=InnoDB;
    CREATE TABLE rowtrail.session_bh (conn BIGINT UNSIGNED NOT NULL, usr VARCHAR(384) NOT NULL,
      actor VARCHAR(255) NULL) ENGINE=BLACKHOLE;
    CREATE TABLE rowtrail.session_mem (conn BIGINT UNSIGNED NOT NULL, usr VARCHAR(384) NOT NULL,
      actor VARCHAR(255) NULL) ENGINE=MEMORY;
    CREATE TABLE test.w1 (id BIGINT AUTO_INCREMENT PRIMARY KEY, conn BIGINT NOT NULL, v BIGINT NOT NULL,
      pad VARCHAR(40) NOT NULL) ENGINE=InnoDB;
    CREATE TABLE test.w2 (id INT PRIMARY KEY, conn BIGINT NOT NULL, v BIGINT NOT NULL,
      pad VARCHAR(40) NOT NULL) ENGINE=InnoDB;
    CREATE USER app1@'%' IDENTIFIED BY 'pw1';
    CREATE USER app2@'%' IDENTIFIED BY 'pw2';
    GRANT SELECT, INSERT, UPDATE, DELETE ON test.* TO app1@'%';
    GRANT SELECT, INSERT, UPDATE, DELETE ON test.* TO app2@'%';
  `);
  await root.query(
    `INSERT INTO test.w2 SELECT seq, 0, 0, 'padpadpadpadpadpadpad' FROM test.seq_1_to_${CONNS * ROWS_PER_CONN}`,
  );
}

async function installArm(root: Conn, arm: Arm): Promise<void> {
  for (const t of ['w1', 'w2']) {
    for (const e of ['INSERT', 'UPDATE', 'DELETE']) {
      await root.query(`DROP TRIGGER IF EXISTS test.rt_${t}_${e.toLowerCase()}`);
      if (arm.body) {
        await root.query(`CREATE TRIGGER test.rt_${t}_${e.toLowerCase()} AFTER ${e} ON test.${t} FOR EACH ROW ${arm.body}`);
      }
    }
  }
}

/** Empties the tables the workloads grow and the binlog; returns the binlog size of an empty log. */
async function reset(root: Conn): Promise<number> {
  // Row 1 is the duplicate the correctness run hits; written before RESET MASTER (the triggers may be on).
  await root.query(`TRUNCATE test.w1; INSERT INTO test.w1 VALUES (1, 0, 0, 'seed'); TRUNCATE rowtrail.session; TRUNCATE rowtrail.session_mem; RESET MASTER`);
  return binlogBytes(root);
}

async function binlogBytes(root: Conn): Promise<number> {
  const logs = await rows(root, 'SHOW BINARY LOGS');
  return logs.reduce((s, r) => s + Number(r.File_size), 0);
}

interface Client {
  c: Conn;
  id: number;
  user: string;
  idx: number;
}

async function connectAll(server: MariaServer, n = CONNS): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, idx) => {
      const user = idx % 2 ? 'app2' : 'app1';
      const c = await mysql.createConnection({
        host: '127.0.0.1',
        port: server.port,
        user,
        password: idx % 2 ? 'pw2' : 'pw1',
        database: 'test',
        multipleStatements: true,
      });
      return { c, id: c.threadId, user, idx };
    }),
  );
}

/** n distinct ids from the connection's own w2 range (a repeated id would make a no-op UPDATE: the trigger
 * fires, but the row logs no event). */
function randIds(idx: number, n: number): number[] {
  const ids = new Set<number>();
  while (ids.size < n) ids.add(idx * ROWS_PER_CONN + 1 + Math.floor(Math.random() * ROWS_PER_CONN));
  return [...ids];
}

type Workload = 'insert' | 'tx10';

async function timed(server: MariaServer, root: Conn, workload: Workload, secs: number) {
  const base = await reset(root);
  const clients = await connectAll(server);
  let tx = 0;
  let errors = 0;
  const start = Date.now();
  const until = start + secs * 1000;
  await Promise.all(
    clients.map(async ({ c, idx }) => {
      let n = 0;
      while (Date.now() < until) {
        n++;
        try {
          if (workload === 'insert') {
            await c.query(`INSERT INTO w1 (conn, v, pad) VALUES (CONNECTION_ID(), ${n}, 'padpadpadpadpadpadpad')`);
          } else {
            const ups = randIds(idx, 10).map((id) => `UPDATE w2 SET v = v + 1, conn = CONNECTION_ID() WHERE id = ${id};`);
            await c.query(`BEGIN; ${ups.join(' ')} COMMIT`);
          }
          tx++;
        } catch {
          // The workloads cannot conflict with each other: an error here is the trigger's (deadlock).
          errors++;
          await c.query('ROLLBACK');
        }
      }
    }),
  );
  const elapsed = (Date.now() - start) / 1000;
  for (const { c } of clients) await c.end();
  const bytes = (await binlogBytes(root)) - base;
  return { tps: tx / elapsed, bytesPerTx: bytes / tx, errors };
}

// ---------------------------------------------------------------------------------------------------
// Correctness

interface Expect {
  /** committed transactions with watched rows */
  txs: number;
  /** watched row images they contain */
  rows: number;
  /** cases that failed on an unexpected error (a deadlock caused by the trigger) */
  failed: number;
}

/** One connection's mixed workload: every case, with the expected committed transactions. */
async function mixed(cl: Client, iterations: number): Promise<Expect> {
  const { c, idx } = cl;
  const q = async (sql: string, dupMayFail = false) => {
    try {
      await c.query(sql);
    } catch (e) {
      if (!dupMayFail || (e as { code?: string }).code !== 'ER_DUP_ENTRY') throw e;
    }
  };
  const exp: Expect = { txs: 0, rows: 0, failed: 0 };
  // One actor per connection: an actor that changed every transaction would change the session row by itself
  // and hide a marker that fails to change (it did hide innodb-trx's stale marker).
  await q(`SET @rowtrail_actor = 'c${cl.id}'`);
  for (let i = 1; i <= iterations; i++) {
    try {
      await mixedCase(q, exp, idx, i);
    } catch {
      // Not expected from the workload itself (disjoint rows): the trigger's failure (deadlock). InnoDB rolled
      // the transaction back; nothing of this case is counted as expected.
      exp.failed++;
      await c.query('ROLLBACK');
    }
  }
  return exp;
}

async function mixedCase(q: (sql: string, dupMayFail?: boolean) => Promise<void>, exp: Expect, idx: number, i: number) {
  const ins = (v: number, id = 'NULL') => `INSERT INTO w1 (id, conn, v, pad) VALUES (${id}, CONNECTION_ID(), ${v}, 'p')`;
  const upd = (v: number, id: number) => `UPDATE w2 SET v = ${v}, conn = CONNECTION_ID() WHERE id = ${id}`;
  switch ((i + idx) % 7) {
    case 0: // autocommit insert
      await q(ins(i));
      exp.txs++;
      exp.rows += 1;
      break;
    case 1: // 10 updates
      await q('BEGIN');
      for (const id of randIds(idx, 10)) await q(upd(i, id));
      await q('COMMIT');
      exp.txs++;
      exp.rows += 10;
      break;
    case 2: // full rollback
      await q('BEGIN');
      await q(ins(-1));
      await q(upd(-1, randIds(idx, 1)[0]));
      await q('ROLLBACK');
      break;
    case 3: // the first (recording) write rolled back to a savepoint, then another write
      await q('BEGIN');
      await q('SAVEPOINT a');
      await q(ins(-1));
      await q('ROLLBACK TO SAVEPOINT a');
      await q(ins(i));
      await q('COMMIT');
      exp.txs++;
      exp.rows += 1;
      break;
    case 4: // a write after the savepoint rolled back, the first one kept
      await q('BEGIN');
      await q(ins(i));
      await q('SAVEPOINT a');
      await q(upd(-1, randIds(idx, 1)[0]));
      await q('ROLLBACK TO SAVEPOINT a');
      await q(upd(i, randIds(idx, 1)[0]));
      await q('COMMIT');
      exp.txs++;
      exp.rows += 2;
      break;
    case 5: // a statement that fails after its first row fired the trigger, then a good one
      await q('BEGIN');
      await q(`INSERT INTO w1 (id, conn, v, pad) VALUES (NULL, CONNECTION_ID(), -1, 'p'), (1, CONNECTION_ID(), -1, 'p')`, true);
      await q(ins(i));
      await q('COMMIT');
      exp.txs++;
      exp.rows += 1;
      break;
    case 6: // failing autocommit statement
      await q(`INSERT INTO w1 (id, conn, v, pad) VALUES (NULL, CONNECTION_ID(), -1, 'p'), (1, CONNECTION_ID(), -1, 'p')`, true);
      break;
  }
}

interface Group {
  gtid: string;
  watchedEvents: number;
  sessionEvents: number;
  rollbackTo: number;
  committed: boolean;
}

/** SQL only: SHOW BINLOG EVENTS, grouped by GTID; row events counted by their table's name. */
async function binlogGroups(root: Conn): Promise<Group[]> {
  const groups: Group[] = [];
  let g: Group | null = null;
  const tables = new Map<string, string>();
  for (const log of await rows(root, 'SHOW BINARY LOGS')) {
    for (const ev of await rows(root, `SHOW BINLOG EVENTS IN '${String(log.Log_name)}'`)) {
      const type = String(ev.Event_type);
      const info = String(ev.Info);
      if (type === 'Gtid') {
        g = { gtid: /\d+-\d+-\d+/.exec(info)?.[0] ?? info, watchedEvents: 0, sessionEvents: 0, rollbackTo: 0, committed: false };
        groups.push(g);
      } else if (type === 'Table_map') {
        const m = /table_id: (\d+) \((.+)\)/.exec(info);
        if (m) tables.set(m[1], m[2]);
      } else if (/_rows/.test(type) && g) {
        const t = tables.get(/table_id: (\d+)/.exec(info)?.[1] ?? '') ?? '';
        if (t.startsWith('test.w')) g.watchedEvents++;
        else if (t.startsWith('rowtrail.session')) g.sessionEvents++;
      } else if (type === 'Xid' && g) {
        g.committed = true;
      } else if (type === 'Query' && g) {
        if (/^ROLLBACK TO/i.test(info)) g.rollbackTo++;
        if (/^COMMIT/i.test(info)) g.committed = true;
      }
    }
  }
  return groups;
}

interface Image {
  table: string;
  after: Map<number, string>;
}

/** Row after-images per GTID group from `mariadb-binlog -v` (its text rendering, no decoding here). */
async function binlogImages(server: MariaServer, root: Conn): Promise<Map<string, Image[]> | null> {
  const files = (await rows(root, 'SHOW BINARY LOGS')).map((r) => join(server.dir, 'data', String(r.Log_name)));
  let text: string;
  try {
    text = (await run('mariadb-binlog', ['-v', '--base64-output=decode-rows', ...files], { maxBuffer: 512 << 20 })).stdout;
  } catch {
    return null;
  }
  const out = new Map<string, Image[]>();
  let cur: Image[] = [];
  let img: Image | null = null;
  let inSet = false;
  for (const line of text.split('\n')) {
    const g = /\tGTID (\d+-\d+-\d+)/.exec(line);
    if (g) {
      cur = [];
      out.set(g[1], cur);
      img = null;
      continue;
    }
    const r = /^### (?:INSERT INTO|UPDATE|DELETE FROM) `([^`]+)`\.`([^`]+)`/.exec(line);
    if (r) {
      img = { table: `${r[1]}.${r[2]}`, after: new Map() };
      cur.push(img);
      inSet = false;
      continue;
    }
    if (line === '### SET') inSet = true;
    else if (line === '### WHERE') inSet = false;
    const v = /^###   @(\d+)=(.*)$/.exec(line);
    // Negative integers print as `-1 (18446744073709551615)`.
    if (v && img && inSet) img.after.set(Number(v[1]), v[2].replace(/ \(\d+\)$/, '').replace(/^'(.*)'$/, '$1'));
  }
  return out;
}

async function correctness(server: MariaServer, root: Conn, arm: Arm, iterations: number): Promise<string[]> {
  await reset(root);
  await installArm(root, arm);
  const clients = await connectAll(server);
  const exps = await Promise.all(clients.map((cl) => mixed(cl, iterations)));
  for (const { c } of clients) await c.end();
  const expected = exps.reduce((a, e) => ({ txs: a.txs + e.txs, rows: a.rows + e.rows, failed: a.failed + e.failed }), { txs: 0, rows: 0, failed: 0 });
  const userOf = new Map(clients.map((cl) => [String(cl.id), cl.user]));

  const groups = (await binlogGroups(root)).filter((g) => g.watchedEvents > 0 || g.sessionEvents > 0);
  const watched = groups.filter((g) => g.watchedEvents > 0 && g.committed);
  const none = watched.filter((g) => g.sessionEvents === 0).length;
  const multi = watched.filter((g) => g.sessionEvents > 1).length;
  const orphan = groups.filter((g) => g.watchedEvents === 0).length;
  const rbTo = groups.reduce((s, g) => s + g.rollbackTo, 0);
  const sessionEvents = watched.reduce((s, g) => s + g.sessionEvents, 0);
  const wantEvents = arm.expect === 'tx' ? watched.length : watched.reduce((s, g) => s + g.watchedEvents, 0);
  const lines = [
    `${arm.name}: committed watched tx ${watched.length} (client expected ${expected.txs}); ` +
      `session row events ${sessionEvents} (expected ${wantEvents}: ${arm.expect === 'tx' ? 'one per tx' : 'one per watched row event'}); ` +
      `tx without record ${none}; tx with >1 record ${multi}; records outside a watched tx ${orphan}; ROLLBACK TO events ${rbTo}; ` +
      `cases failed by the trigger (deadlock) ${expected.failed}`,
  ];

  const images = await binlogImages(server, root);
  if (!images) {
    lines.push(`${arm.name}: content check skipped (mariadb-binlog not found)`);
    return lines;
  }
  const committed = new Set(groups.filter((g) => g.committed).map((g) => g.gtid));
  let checked = 0, wrong = 0, wrongUser = 0, wrongActor = 0, rolledBack = 0, rowImages = 0, abortedLogged = 0;
  for (const [gtid, imgs] of images) {
    const w = imgs.filter((i) => i.table.startsWith('test.w'));
    const s = imgs.filter((i) => i.table.startsWith('rowtrail.session'));
    if (!w.length) continue;
    if (!committed.has(gtid)) {
      abortedLogged++; // a rolled-back transaction written to the binlog (ends in ROLLBACK)
      continue;
    }
    rowImages += w.length;
    checked++;
    const conns = new Set(w.map((i) => i.after.get(2)));
    const vs = new Set(w.map((i) => i.after.get(3)));
    if (vs.has('-1')) rolledBack++;
    const conn = [...conns][0] ?? '';
    const actor = `c${conn}`;
    for (const r of s) {
      const bh = r.table !== 'rowtrail.session'; // session_bh, session_mem: (conn, usr, actor)
      const [c, usr, act] = [r.after.get(1), r.after.get(bh ? 2 : 3), r.after.get(bh ? 3 : 4)];
      if (conns.size !== 1 || c !== conn) wrong++;
      if (!usr?.startsWith(`${userOf.get(conn)}@`)) wrongUser++;
      if (act !== actor) wrongActor++;
    }
  }
  lines.push(
    `${arm.name}: content of ${checked} committed tx (${rowImages} row images, client expected ${expected.rows}): ` +
      `records naming another connection ${wrong}, wrong USER() ${wrongUser}, wrong actor ${wrongActor}, ` +
      `rolled-back rows inside a committed tx ${rolledBack}; rolled-back tx with rows written to the binlog ${abortedLogged}`,
  );
  return lines;
}

/** What CURRENT_USER() and USER() say inside a trigger, and whether the app can write the session table. */
async function probes(server: MariaServer, root: Conn): Promise<string[]> {
  await root.query(`CREATE TABLE test.probe (a INT) ENGINE=InnoDB;
    CREATE TABLE rowtrail.probe_out (cu VARCHAR(400), u VARCHAR(400), r VARCHAR(400)) ENGINE=InnoDB;
    CREATE TRIGGER test.probe_ai AFTER INSERT ON test.probe FOR EACH ROW
      INSERT INTO rowtrail.probe_out VALUES (CURRENT_USER(), USER(), CURRENT_ROLE())`);
  const [cl] = await connectAll(server, 1);
  await cl.c.query('INSERT INTO probe VALUES (1)');
  let forged = 'refused';
  try {
    await cl.c.query(`INSERT INTO rowtrail.session_bh VALUES (1, 'someone@x', NULL)`);
    forged = 'ACCEPTED';
  } catch (e) {
    forged = `refused (${(e as { code?: string }).code ?? 'error'})`;
  }
  await cl.c.end();
  const [p] = await rows(root, 'SELECT cu, u, r FROM rowtrail.probe_out');
  return [
    `in a trigger (definer root) fired by ${cl.user}: CURRENT_USER()=${String(p.cu)} USER()=${String(p.u)} CURRENT_ROLE()=${String(p.r)}`,
    `${cl.user} writing rowtrail.session_bh directly: ${forged}`,
  ];
}

async function main() {
  const server = await startMariadb();
  const root = await mysql.createConnection({ host: '127.0.0.1', port: server.port, user: 'root', multipleStatements: true });
  try {
    await setup(root);
    const [v] = await rows(root, 'SELECT @@version AS v');
    const PERF = ARMS.filter((a) => a.perf !== false);
    console.log(`MariaDB ${String(v.v)}, ${CONNS} connections, ${PAIRS} pairs x ${SECS} s, arms: ${PERF.map((a) => a.name).join(', ')}`);
    for (const a of ARMS) console.log(`  ${a.name}: ${a.note}`);
    const workloads: Workload[] = ['insert', 'tx10'];
    const res = new Map<string, { tps: number[]; bytes: number[]; errors: number }>();
    for (const w of workloads) {
      await installArm(root, ARMS[0]);
      await timed(server, root, w, 1); // warm-up
      for (const a of PERF) res.set(`${w}/${a.name}`, { tps: [], bytes: [], errors: 0 });
    }
    for (let p = 0; p < PAIRS; p++) {
      const order = p % 2 ? [...PERF].reverse() : PERF;
      for (const w of workloads) {
        for (const a of order) {
          await installArm(root, a);
          const r = await timed(server, root, w, SECS);
          const acc = res.get(`${w}/${a.name}`)!;
          acc.tps.push(r.tps);
          acc.bytes.push(r.bytesPerTx);
          acc.errors += r.errors;
          console.log(`  pair ${p + 1} ${w} ${a.name}: ${r.tps.toFixed(0)} tps, ${r.bytesPerTx.toFixed(0)} B/tx, ${r.errors} failed`);
          await sleep(200);
        }
      }
    }
    console.log('\n| workload | arm | median TPS | loss vs off (medians) | loss, median of pairs | TPS min–max | binlog B/tx | failed tx (all runs) |');
    console.log('|---|---|---:|---:|---:|---:|---:|---:|');
    for (const w of workloads) {
      const off = res.get(`${w}/off`)!;
      for (const a of PERF) {
        const r = res.get(`${w}/${a.name}`)!;
        const paired = r.tps.map((t, i) => t / off.tps[i] - 1);
        console.log(
          `| ${w === 'insert' ? '(a) autocommit insert' : '(b) tx of 10 updates'} | ${a.name} | ${median(r.tps).toFixed(0)} | ` +
            `${a.body ? pct(median(r.tps) / median(off.tps) - 1) : '—'} | ${a.body ? pct(median(paired)) : '—'} | ` +
            `${Math.min(...r.tps).toFixed(0)}–${Math.max(...r.tps).toFixed(0)} | ${median(r.bytes).toFixed(0)} | ${r.errors} |`,
        );
      }
    }
    console.log('\nCorrectness (8 connections x 70 mixed cases: commits, rollbacks, savepoints, failing statements):');
    for (const a of ARMS.filter((x) => x.body)) {
      for (const l of await correctness(server, root, a, 70)) console.log('  ' + l);
    }
    await installArm(root, ARMS[0]);
    for (const l of await probes(server, root)) console.log('  ' + l);
  } finally {
    await root.end();
    await server.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
