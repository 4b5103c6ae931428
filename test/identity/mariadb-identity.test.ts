/**
 * Identity on a real MariaDB 10.11 through the real MySQL capture source: several concurrent sessions (a human
 * user with autocommit statements, a pooled service with multi-statement transactions, an AI agent on a shared
 * account tagging its statements with sqlcommenter comments, some forged), each row carrying the
 * CONNECTION_ID() that wrote it. MariaDB logs no thread id for DML, so attribution comes from the ANNOTATE_ROWS
 * text matched against the sampled statement history (`inferred`), or nothing (`unknown`). Measured and printed:
 * the exact / inferred / unknown rates, as the source stores them (what `watch` does: resolved when the transaction is
 * written, a few sampler ticks after its commit) and when the
 * same transactions are resolved again once the sampler has caught up. Asserted: never a wrong session.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import mysql from 'mysql2/promise';
import { startMariadb, findMariadbd, type MariaServer } from '../harness/mariadb.js';
import { runSource, cleanup, gtidPos, client, recordingLogger } from '../mysql/helpers.js';
import { MysqlSampler } from '../../src/identity/mysql-sampler.js';
import { createResolver, type IdentityResolver, type StatefulResolver, type TxFacts } from '../../src/identity/resolver.js';
import { agentStatement } from './agents.js';
import type { Actor, ChangeEvent } from '../../src/model/index.js';

const KEY = 'test-signing-key-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const have = findMariadbd() !== null;

interface Truth {
  user: string;
  app: string;
  agent: string | null;
  claimed?: string;
}

type Rates = { n: number; exact: number; inferred: number; unknown: number; wrong: number };
const rates = (): Rates => ({ n: 0, exact: 0, inferred: 0, unknown: 0, wrong: 0 });
const pct = (r: Rates) =>
  `${r.n} tx: exact ${((100 * r.exact) / r.n).toFixed(1)}%, inferred ${((100 * r.inferred) / r.n).toFixed(1)}%, unknown ${((100 * r.unknown) / r.n).toFixed(1)}%, wrong ${r.wrong}`;

/** The resolver as the source uses it, recording what it was asked (to resolve the same transactions again later). */
function recording(resolver: StatefulResolver, asked: { facts: TxFacts; actor: Actor }[]): IdentityResolver {
  return {
    resolve: (f) => {
      const actor = resolver.resolve(f);
      asked.push({ facts: f, actor });
      return actor;
    },
    ready: (f) => resolver.ready(f),
  };
}

/** Until the sampler vouches for commits from now on (the first whole second after it connected). */
async function covered(sampler: MysqlSampler): Promise<void> {
  while (!((sampler.index.statementCoverage()?.fromCommitMs ?? Infinity) <= Date.now())) await sleep(20);
}

describe.skipIf(!have)('MariaDB identity', () => {
  let m: MariaServer;
  let admin: mysql.Connection;

  beforeAll(async () => {
    m = await startMariadb({
      args: [
        '--performance-schema=ON',
        '--performance-schema-consumer-events-statements-current=ON',
        '--performance-schema-consumer-events-statements-history-long=ON',
        '--max-connections=200',
      ],
    });
    admin = await client(m);
    await admin.query(`
      CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(400), conn BIGINT);
      CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(400), conn BIGINT, n INT DEFAULT 0);
      CREATE TABLE hot (id BIGINT AUTO_INCREMENT PRIMARY KEY, conn BIGINT);
      CREATE USER 'alice'@'%'; CREATE USER 'svc_app'@'%'; CREATE USER 'svc_ai'@'%';
      GRANT ALL ON test.* TO 'alice'@'%'; GRANT ALL ON test.* TO 'svc_app'@'%'; GRANT ALL ON test.* TO 'svc_ai'@'%';`);
  }, 120_000);
  afterAll(async () => {
    await admin?.end();
    await m?.destroy();
  });

  it('attributes concurrent human, pooled service and agent sessions; never to a wrong session; forged context not trusted', async () => {
    const sampler = new MysqlSampler(m.url('test'), { intervalMs: 20 });
    await sampler.start();
    expect(sampler.stats()).toMatchObject({ history: 'history_long', limited: null });
    const resolver = createResolver({
      index: sampler.index,
      signingKey: KEY,
      rules: [
        { match: { user: 'alice' }, kind: 'human' },
        { match: { user: 'svc_app' }, kind: 'service' },
      ],
    });
    // Records what the source asked (to resolve the same transactions again later) and what it got.
    const asked: { facts: TxFacts; actor: Actor }[] = [];
    const identity = recording(resolver, asked);
    // As in a running daemon, the sampler vouches for commits from the first whole second after it connected.
    await covered(sampler);
    const start = await gtidPos(admin);
    const run = await runSource(m.url('test'), { startPosition: start, identity });
    const conns: mysql.Connection[] = [];
    const connect = async (user: string, app: string) => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: m.port, user, database: 'test', connectAttributes: { program_name: app } } as any);
      conns.push(c);
      return c;
    };
    try {
      const N = 15;
      const work: Promise<void>[] = [];
      let expected = 0;
      // 6 human sessions: autocommit inserts with their own values (distinct statement texts), and a few
      // statements whose text is the same in every session (only the row tells them apart)
      for (let i = 0; i < 6; i++) {
        const c = await connect('alice', 'mysql');
        work.push(
          (async () => {
            for (let n = 0; n < N; n++) {
              const who = JSON.stringify({ user: 'alice', app: 'mysql', agent: null, n: `${i}-${n}` } satisfies Truth & { n: string });
              await c.query(`INSERT INTO users (who, conn) VALUES (${mysql.escape(who)}, CONNECTION_ID())`);
              if (n % 3 === 0) await c.query(`INSERT INTO hot (conn) VALUES (CONNECTION_ID())`);
              await sleep(1);
            }
          })(),
        );
        expected += N + Math.ceil(N / 3);
      }
      // a pooled service: 4 connections, two-statement transactions
      const pool = mysql.createPool({ host: '127.0.0.1', port: m.port, user: 'svc_app', database: 'test', connectionLimit: 4, connectAttributes: { program_name: 'billing' } } as any);
      const poolWork = async (w: number) => {
        for (let n = 0; n < 10; n++) {
          const c = await pool.getConnection();
          try {
            const who = JSON.stringify({ user: 'svc_app', app: 'billing', agent: null, n: `${w}-${n}` });
            await c.query('BEGIN');
            const [r] = (await c.query(`INSERT INTO orders (who, conn) VALUES (${mysql.escape(who)}, CONNECTION_ID())`)) as any;
            await c.query(`UPDATE orders SET n = n + 1 WHERE id = ${Number(r.insertId)}`);
            await c.query('COMMIT');
          } finally {
            c.release();
          }
        }
      };
      for (let w = 0; w < 4; w++) work.push(poolWork(w));
      expected += 4 * 10;
      // 4 agent sessions on one shared account, context in a trailing sqlcommenter comment; every third forged
      for (let i = 0; i < 4; i++) {
        const c = await connect('svc_ai', 'agent-runner');
        work.push(
          (async () => {
            for (let n = 0; n < N; n++) {
              const { comment, who } = agentStatement(i, n, KEY, 'svc_ai');
              await c.query(`INSERT INTO users (who, conn) VALUES (${mysql.escape(who)}, CONNECTION_ID()) ${comment}`);
              await sleep(1);
            }
          })(),
        );
        expected += N;
      }
      await Promise.all(work);
      await pool.end();
      const events = await run.waitFor((e) => new Set(e.map((x) => x.tx.position)).size >= expected, 60_000);
      await sleep(100); // two more samples: the sampler has now seen every statement

      // Ground truth per transaction: the first row's conn (and who).
      const byTx = new Map<string, ChangeEvent>();
      for (const e of events) if (!byTx.has(e.tx.position)) byTx.set(e.tx.position, e);
      expect(byTx.size).toBe(expected);
      const late = createResolver({ index: sampler.index, signingKey: KEY });
      const groups: Record<string, { atCommit: Rates; caughtUp: Rates }> = {};
      const tally = (r: Rates, a: Actor, conn: string) => {
        r.n++;
        r[a.confidence]++;
        if (a.confidence !== 'unknown' && a.sessionId !== conn) r.wrong++;
      };
      for (const [pos, e] of byTx) {
        const conn = String(e.after!.conn);
        const who: Truth | null = e.table === 'hot' ? null : JSON.parse(String(e.after!.who));
        const group = e.table === 'hot' ? 'same text in every session' : who!.user === 'alice' ? 'human, autocommit' : who!.user === 'svc_app' ? 'pooled service, 2-statement tx' : 'agent, commented';
        const g = (groups[group] ??= { atCommit: rates(), caughtUp: rates() });
        tally(g.atCommit, e.actor, conn);
        const facts = asked.find((x) => x.facts.xid === pos)!.facts;
        const again = late.resolve(facts);
        tally(g.caughtUp, again, conn);
        // never a wrong session, never a wrong user
        for (const a of [e.actor, again]) {
          if (a.confidence !== 'unknown') {
            expect(a.sessionId).toBe(conn);
            if (who) expect(a.user).toBe(who.user);
          }
          expect(a.confidence).not.toBe('exact'); // MariaDB logs no thread id for DML: nothing here is the server's word
        }
        if (who && who.user === 'svc_ai') {
          // the agent comes from the statement's own (signed) comment, whatever the session attribution
          expect(e.actor.agent ?? null).toBe(who.agent);
          expect(e.actor.context).toMatchObject({ verified: who.agent !== null, on_behalf_of: 'bob' });
          if (who.agent === null) expect(e.actor.context).toMatchObject({ claimedAgent: who.claimed });
          else expect(e.actor.kind).toBe('ai-agent');
        }
        if (who?.user === 'alice' && e.actor.confidence !== 'unknown') expect(e.actor.kind).toBe('human');
      }
      for (const [name, g] of Object.entries(groups)) console.log(`MariaDB ${name}: at commit ${pct(g.atCommit)} | caught up ${pct(g.caughtUp)}`);
      const all = (k: 'atCommit' | 'caughtUp') => Object.values(groups).reduce((a, g) => ({ n: a.n + g[k].n, exact: 0, inferred: a.inferred + g[k].inferred, unknown: a.unknown + g[k].unknown, wrong: a.wrong + g[k].wrong }), rates());
      console.log(`MariaDB all: at commit ${pct(all('atCommit'))} | caught up ${pct(all('caughtUp'))}`);
      // identical texts in several sessions are never attributed
      expect(groups['same text in every session']!.caughtUp.inferred).toBe(0);
      // once caught up, a distinct statement text is found in the history of exactly its session
      const distinct = Object.entries(groups).filter(([k]) => k !== 'same text in every session').map(([, g]) => g.caughtUp);
      // (how many depends on how busy the machine is: the rate is measured in bench/identity-rate, not asserted)
      expect(distinct.reduce((a, r) => a + r.inferred, 0)).toBeGreaterThan(0);
    } finally {
      for (const c of conns) await c.end().catch(() => undefined);
      await run.stop();
      cleanup(run.dir);
      await sampler.stop();
    }
  }, 180_000);

  // Regression (a wrong `inferred` once named session 10 for session 11's row under load): the same text run by
  // two sessions, the sampler having seen only one of them when the transaction is resolved. The sampler's
  // loop is not started: the test decides when it looks (tick()).
  it('never names a session whose run of a statement text was the only one seen so far', async () => {
    const sampler = new MysqlSampler(m.url('test'), { intervalMs: 20 });
    const asked: { facts: TxFacts; actor: Actor }[] = [];
    const resolver = createResolver({ index: sampler.index });
    const identity = recording(resolver, asked);
    await sampler.tick();
    await covered(sampler);
    const run = await runSource(m.url('test'), { startPosition: await gtidPos(admin), identity });
    const alice = () => mysql.createConnection({ host: '127.0.0.1', port: m.port, user: 'alice', database: 'test' });
    const [a, b, c] = [await alice(), await alice(), await alice()];
    const id = async (x: mysql.Connection) => String(((await x.query('SELECT CONNECTION_ID() AS id')) as any)[0][0].id);
    const [ia, ib] = [await id(a), await id(b)];
    const same = 'INSERT INTO hot (conn) VALUES (CONNECTION_ID() + 0)';
    const gone = 'INSERT INTO hot (conn) VALUES (CONNECTION_ID() + 0 * 1)';
    try {
      await a.query(same); // seen by the next tick
      await a.query(gone);
      await a.query(`INSERT INTO users (who, conn) VALUES ('own text', CONNECTION_ID())`);
      await sampler.tick();
      await b.query(same); // not seen: no tick before its transaction is resolved
      const ic = await id(c);
      await c.query(gone); // then the session ends before the sampler looks
      await c.end();
      for (let i = 0; i < 100; i++) {
        const [r] = (await admin.query(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ${ic}`)) as any;
        if (Number(r[0].n) === 0) break;
        await sleep(20);
      }
      const events = await run.waitFor((e) => e.filter((x) => x.table === 'hot').length >= 4, 30_000);
      await sampler.tick();
      await sampler.tick();
      const late = createResolver({ index: sampler.index });
      const wrong: string[] = [];
      let checked = 0;
      for (const e of events) {
        const conn = String(e.after!.conn);
        const facts = asked.find((x) => x.facts.xid === e.tx.position)!.facts;
        const again = late.resolve(facts);
        // a named session must be the one that wrote the row
        for (const [how, a] of [['stored', e.actor], ['caught up', again]] as const) {
          if (a.confidence !== 'unknown' && a.sessionId !== conn) wrong.push(`${how}: ${facts.statements[0]} by ${conn} named ${a.sessionId}`);
        }
        checked++;
        // once the sampler has looked after the commit, a text only session a ran is attributed to it
        if (e.table === 'users') expect(again).toMatchObject({ confidence: 'inferred', sessionId: ia, user: 'alice' });
        // the same text ran in two sessions (one of them gone by the time the sampler looked): never attributed
        if (e.table === 'hot' && (conn === ib || conn === ic)) expect(again.confidence).toBe('unknown');
      }
      expect(wrong).toEqual([]);
      expect(checked).toBe(5);
    } finally {
      for (const x of [a, b, c]) await x.end().catch(() => undefined);
      await run.stop();
      cleanup(run.dir);
      await sampler.stop();
    }
  }, 60_000);

  it('a session whose statements are not recorded (threads.HISTORY = NO) leaves every statement text unattributed', async () => {
    const sampler = new MysqlSampler(m.url('test'), { intervalMs: 20 });
    const resolver = createResolver({ index: sampler.index });
    await sampler.tick();
    await covered(sampler);
    const alice = () => mysql.createConnection({ host: '127.0.0.1', port: m.port, user: 'alice', database: 'test' });
    const [a, d] = [await alice(), await alice()];
    const text = 'INSERT INTO hot (conn) VALUES (CONNECTION_ID() - 0)';
    try {
      const [[{ id }]] = (await d.query('SELECT CONNECTION_ID() AS id')) as any;
      await admin.query(`UPDATE performance_schema.threads SET HISTORY = 'NO' WHERE PROCESSLIST_ID = ${Number(id)}`);
      await a.query(text);
      await d.query(text); // in no history: only a's run can be read
      const [[{ t }]] = (await admin.query('SELECT UNIX_TIMESTAMP(NOW(6)) AS t')) as any;
      const facts: TxFacts = {
        source: 'shop',
        xid: 'x',
        commitTime: new Date(Math.floor(Number(t)) * 1000).toISOString(),
        messages: [],
        statements: [text],
        receivedAt: performance.timeOrigin + performance.now(),
      };
      await sampler.tick();
      expect(sampler.index.byStatement(text).map((f) => f.sessionId)).not.toContain(String(id));
      expect(resolver.resolve(facts)).toMatchObject({ confidence: 'unknown' });
      // once that session is gone, the sampler vouches again, for commits from the next whole second
      await d.end();
      for (let i = 0; i < 100 && !sampler.index.statementCoverage(); i++) await sampler.tick();
      expect(sampler.index.statementCoverage()!.fromCommitMs).toBeGreaterThan(Date.parse(facts.commitTime));
    } finally {
      for (const x of [a, d]) await x.end().catch(() => undefined);
      await sampler.stop();
    }
  }, 60_000);

  it('a prepared statement (logged with its parameters filled in, a text no history row holds) names nobody', async () => {
    const log = recordingLogger();
    const sampler = new MysqlSampler(m.url('test'), { intervalMs: 20, log });
    const asked: { facts: TxFacts; actor: Actor }[] = [];
    await sampler.tick();
    await covered(sampler);
    const run = await runSource(m.url('test'), { startPosition: await gtidPos(admin), identity: recording(createResolver({ index: sampler.index }), asked) });
    const alice = () => mysql.createConnection({ host: '127.0.0.1', port: m.port, user: 'alice', database: 'test' });
    const [a, b] = [await alice(), await alice()];
    try {
      const [[{ id }]] = (await b.query('SELECT CONNECTION_ID() AS id')) as any;
      await a.query(`INSERT INTO hot (conn) VALUES (${Number(id)})`); // the literal text, by session a
      await sampler.tick();
      await b.execute('INSERT INTO hot (conn) VALUES (?)', [Number(id)]); // binlog: the same text, by session b
      await run.waitFor((e) => e.filter((x) => x.table === 'hot').length >= 2, 30_000);
      for (let i = 0; i < 3; i++) await sampler.tick();
      const late = createResolver({ index: sampler.index });
      for (const { facts } of asked) expect({ text: facts.statements[0], actor: late.resolve(facts).confidence }).toMatchObject({ actor: 'unknown' });
      expect(asked.length).toBe(2);
      expect(log.warnings.join('\n')).toContain('prepared statements ran');
    } finally {
      for (const x of [a, b]) await x.end().catch(() => undefined);
      await run.stop();
      cleanup(run.dir);
      await sampler.stop();
    }
  }, 60_000);

  it('an untimed statement instrument: said once at connect, and no statement text is evidence', async () => {
    await admin.query("UPDATE performance_schema.setup_instruments SET TIMED = 'NO' WHERE NAME = 'statement/sql/update'");
    const sampler = new MysqlSampler(m.url('test'), { intervalMs: 20 });
    try {
      await sampler.tick();
      expect(sampler.stats().limited).toContain('no statement-text attribution: some statements are not recorded');
      expect(sampler.index.statementCoverage()).toBeNull();
    } finally {
      await admin.query("UPDATE performance_schema.setup_instruments SET TIMED = 'YES' WHERE NAME = 'statement/sql/update'");
      await sampler.stop();
    }
  });
});
