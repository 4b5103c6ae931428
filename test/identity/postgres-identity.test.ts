/**
 * Precise and sampling mode on a real PostgreSQL: 32 concurrent sessions (a human role with 1 ms autocommit
 * statements, a pooled service, an AI agent on a shared account tagging its statements, some forged), read
 * back through test_decoding, attributed by the resolver.
 */
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import pg from 'pg';
import { sharedPg } from '../harness/shared.js';
import { startPostgres } from '../harness/postgres.js';
import { RowtrailError } from '../../src/errors.js';
import { installPrecise, uninstallPrecise, preciseStatus, preciseInstallStatements, PRECISE_VERSION } from '../../src/identity/postgres-precise.js';
import { createResolver, type TxFacts } from '../../src/identity/resolver.js';
import { agentStatement } from './agents.js';
import { PostgresSampler, activityVisibility } from '../../src/identity/postgres-sampler.js';

const KEY = 'test-signing-key-0123456789';
const server = sharedPg();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fileSuffix = `${process.pid}_${Date.now().toString(36)}`;
const ROLE = { alice: `alice_${fileSuffix}`, svc: `svc_app_${fileSuffix}`, shared: `svc_ai_${fileSuffix}`, plain: `plain_${fileSuffix}` };

interface DecodedTx {
  xid: string;
  messages: string[];
  ddl: string[];
  rows: string[];
}

/** test_decoding output (include-xids) → transactions. */
function parseDecoded(out: string): DecodedTx[] {
  const txs: DecodedTx[] = [];
  let cur: DecodedTx | null = null;
  for (const line of out.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^BEGIN (\d+)/.exec(line))) cur = { xid: m[1]!, messages: [], ddl: [], rows: [] };
    else if (line.startsWith('COMMIT') && cur) {
      txs.push(cur);
      cur = null;
    } else if ((m = /^message: transactional: 1 prefix: (rowtrail(?:\.ddl)?), sz: \d+ content:(.*)$/.exec(line)) && cur) {
      (m[1] === 'rowtrail' ? cur.messages : cur.ddl).push(m[2]!);
    } else if (line.startsWith('table ') && cur) cur.rows.push(line);
  }
  return txs;
}

/**
 * Reads the slot until `done(transactions so far)` holds and a read comes back empty, or 60 s pass. The test
 * server runs synchronous_commit=off and pg_logical_slot_get_changes reads only flushed WAL, which under load
 * can lag well behind the commits: wait for the condition, not for a fixed time.
 */
async function decode(db: string, slot: string, done: (txs: DecodedTx[]) => boolean): Promise<DecodedTx[]> {
  let out = '';
  const deadline = Date.now() + 60_000;
  for (;;) {
    const batch = await server.psql(`SELECT data FROM pg_logical_slot_get_changes('${slot}', NULL, NULL)`, db);
    out += batch;
    const txs = parseDecoded(out);
    if ((!batch && done(txs)) || Date.now() > deadline) return txs;
    await sleep(batch ? 20 : 200);
  }
}

const withRows = (n: number) => (txs: DecodedTx[]) => txs.filter((t) => t.rows.length).length >= n;

const facts = (t: DecodedTx): TxFacts => ({ source: 't', xid: t.xid, commitTime: new Date().toISOString(), messages: t.messages, statements: [] });

/** Both statement triggers, the PL/pgSQL default and the native (C) one, must pass the same tests. */
const nativeMissing = inject('pgNativeMissing');
const variants = [{ name: 'PL/pgSQL', tag: 'p', native: false }, ...(nativeMissing ? [] : [{ name: 'native', tag: 'n', native: true }])];
if (nativeMissing) describe.skip(`PostgreSQL precise mode, native trigger: not built (${nativeMissing})`, () => it('needs the server headers', () => undefined));

describe.each(variants)('PostgreSQL precise mode, $name trigger', ({ tag, native }) => {
  let db: string;
  let admin: pg.Client;
  const suffix = `${tag}_${fileSuffix}`;

  beforeAll(async () => {
    db = await server.freshDatabase('ident');
    await server.psql(
      Object.values(ROLE)
        .map((r) => `DO $$BEGIN CREATE ROLE ${r} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$;`)
        .join('\n'),
    );
    await server.psql(
      `CREATE TABLE users (id bigserial PRIMARY KEY, who text, pid int DEFAULT pg_backend_pid());
       CREATE TABLE orders (id bigserial PRIMARY KEY, who text, pid int DEFAULT pg_backend_pid());
       CREATE TABLE hot (id bigserial PRIMARY KEY, who text, pid int DEFAULT pg_backend_pid());
       GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO PUBLIC; GRANT CREATE ON SCHEMA public TO PUBLIC;`,
      db,
    );
    admin = new pg.Client({ connectionString: server.url(db) });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
  });

  it('installs idempotently, replaces an old version, and dry-run gives the same SQL', async () => {
    // an "old version": a stale trigger function and trigger left on a table no longer watched
    await admin.query(`CREATE SCHEMA IF NOT EXISTS rowtrail; CREATE FUNCTION rowtrail.capture_session() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
      COMMENT ON FUNCTION rowtrail.capture_session() IS 'rowtrail precise v0';
      CREATE TRIGGER rowtrail_session BEFORE INSERT ON hot FOR EACH STATEMENT EXECUTE FUNCTION rowtrail.capture_session();`);
    expect((await preciseStatus(admin)).version).toBe(0);
    const tables = ['public.users', 'public.orders', 'public.later'];
    const r1 = await installPrecise(admin, tables, { native });
    expect(r1).toMatchObject({ version: PRECISE_VERSION, previous: 0, tables: ['public.orders', 'public.users'], ddl: true, warnings: [] });
    const r2 = await installPrecise(admin, tables, { native });
    expect(r2).toMatchObject({ previous: PRECISE_VERSION, tables: ['public.orders', 'public.users'] });
    const st = await preciseStatus(admin);
    expect(st).toMatchObject({ version: PRECISE_VERSION, ddl: true, publicCanEmit: false, walLogical: true, native });
    const sql = preciseInstallStatements(tables, { native }).join(';\n');
    expect(sql).toContain(native ? 'LANGUAGE c' : 'LANGUAGE plpgsql SECURITY DEFINER');
    expect(sql).toContain('SECURITY DEFINER');
    expect(sql).not.toMatch(/EXCEPTION/i);
    expect(sql).not.toMatch(/SET search_path/i);
  });

  it('attributes every transaction of 32 concurrent sessions exactly; forged agent context is not trusted', async () => {
    await server.psql(`SELECT pg_create_logical_replication_slot('s_${suffix}', 'test_decoding', false)`, db);
    const conns: pg.Client[] = [];
    const connect = async (user: string, app: string) => {
      const c = new pg.Client({ connectionString: server.url(db, user), application_name: app });
      await c.connect();
      conns.push(c);
      return c;
    };
    const N = 15;
    const work: Promise<void>[] = [];
    // 12 human sessions: 1 ms autocommit statements
    for (let i = 0; i < 12; i++) {
      const c = await connect(ROLE.alice, 'psql');
      work.push(
        (async () => {
          for (let n = 0; n < N; n++) {
            await c.query(`INSERT INTO users (who) VALUES ($1)`, [JSON.stringify({ user: ROLE.alice, app: 'psql', agent: null })]);
            await sleep(1);
          }
        })(),
      );
    }
    // a pooled service: 10 connections, multi-statement transactions
    const pool = new pg.Pool({ connectionString: server.url(db, ROLE.svc), application_name: 'billing', max: 10 });
    const poolWork = async () => {
      for (let n = 0; n < N; n++) {
        const c = await pool.connect();
        try {
          const who = JSON.stringify({ user: ROLE.svc, app: 'billing', agent: null });
          await c.query('BEGIN');
          await c.query(`INSERT INTO orders (who) VALUES ($1)`, [who]);
          await c.query(`UPDATE orders SET who = who WHERE id = (SELECT max(id) FROM orders WHERE pid = pg_backend_pid())`);
          await c.query(`INSERT INTO users (who) VALUES ($1)`, [who]);
          await c.query('COMMIT');
        } finally {
          c.release();
        }
      }
    };
    for (let i = 0; i < 10; i++) work.push(poolWork());
    // 10 AI agent sessions on one shared account; every third context is forged (signed with another key)
    for (let i = 0; i < 10; i++) {
      const c = await connect(ROLE.shared, 'agent-runner');
      work.push(
        (async () => {
          for (let n = 0; n < N; n++) {
            const { comment, who } = agentStatement(i, n, KEY, ROLE.shared);
            await c.query(`INSERT INTO users (who) VALUES ('${who}') ${comment}`);
            await sleep(1);
          }
        })(),
      );
    }
    expect(conns.length + 10).toBe(32);
    await Promise.all(work);
    await pool.end();
    // hot is not watched in precise mode: no message, so the resolver must not guess
    await conns[0]!.query(`INSERT INTO hot (who) VALUES ('x')`);
    for (const c of conns) await c.end();

    const resolver = createResolver({ signingKey: KEY, rules: [{ match: { user: ROLE.alice }, kind: 'human' }, { match: { user: ROLE.svc }, kind: 'service' }] });
    const want = 12 * N + 10 * N + 10 * N + 1;
    const txs = (await decode(db, `s_${suffix}`, withRows(want))).filter((t) => t.rows.length);
    expect(txs.length).toBe(want);
    let exact = 0;
    for (const t of txs) {
      const actor = resolver.resolve(facts(t));
      if (t.rows[0]!.startsWith('table public.hot')) {
        expect(actor.confidence).toBe('unknown');
        continue;
      }
      expect(t.messages).toHaveLength(1); // once per transaction
      const m = /who\[text\]:'(.*)' pid\[integer\]:(\d+)/.exec(t.rows[0]!)!;
      const want = JSON.parse(m[1]!.replace(/''/g, "'"));
      expect(actor).toMatchObject({ confidence: 'exact', method: 'precise-message', sessionId: m[2], user: want.user, application: want.app, agent: want.agent, clientAddr: '127.0.0.1' });
      expect(actor.sessionStart).toMatch(/^\d{4}-/);
      if (want.user === ROLE.shared) {
        expect(actor.context).toMatchObject({ verified: want.agent !== null, on_behalf_of: 'bob' });
        if (want.agent === null) expect(actor.context).toMatchObject({ claimedAgent: want.claimed });
        expect(actor.kind).toBe(want.agent ? 'ai-agent' : 'unknown');
      } else expect(actor.kind).toBe(want.user === ROLE.alice ? 'human' : 'service');
      exact++;
    }
    expect(exact).toBe(txs.length - 1);
    await server.psql(`SELECT pg_drop_replication_slot('s_${suffix}')`, db);
  }, 120_000);

  it('SET LOCAL rowtrail.actor, SET ROLE, DDL messages, new tables, and no forged message from a plain role', async () => {
    await server.psql(`SELECT pg_create_logical_replication_slot('d_${suffix}', 'test_decoding', false)`, db);
    await server.psql(`GRANT ${ROLE.plain} TO ${ROLE.alice}`);
    const c = new pg.Client({ connectionString: server.url(db, ROLE.alice), application_name: 'psql' });
    await c.connect();
    await c.query(`BEGIN; SET LOCAL rowtrail.actor = 'migrator'; INSERT INTO users (who) VALUES ('a'); COMMIT`);
    await c.query(`BEGIN; SET LOCAL ROLE ${ROLE.plain}; INSERT INTO users (who) VALUES ('b'); COMMIT`);
    await c.query(`CREATE TABLE later (id int)`); // listed in setup: gets the trigger when created
    await c.query(`INSERT INTO later VALUES (1)`);
    await c.query(`ALTER TABLE later ADD COLUMN note text`);
    await expect(c.query(`SELECT pg_logical_emit_message(true, 'rowtrail', '[1, 1, null, "postgres", "none", "x", null, null, null]')`)).rejects.toMatchObject({ code: '42501' });
    await c.end();
    // the last transaction (ALTER TABLE) carries a DDL message: everything before it has been decoded too
    const txs = await decode(db, `d_${suffix}`, (t) => t.some((x) => x.ddl.some((d) => d.includes('ALTER TABLE'))));
    const resolver = createResolver();
    const actors = txs.map((t) => ({ t, a: resolver.resolve(facts(t)) }));
    expect(actors[0]!.a).toMatchObject({ agent: 'migrator', kind: 'ai-agent', user: ROLE.alice, confidence: 'exact' });
    expect(actors[1]!.a).toMatchObject({ user: ROLE.alice, currentUser: ROLE.plain, confidence: 'exact' });
    const create = actors.find((x) => x.t.ddl.some((d) => d.includes('CREATE TABLE')))!;
    expect(create.a).toMatchObject({ user: ROLE.alice, confidence: 'exact' });
    expect(JSON.parse(create.t.ddl[0]!)).toEqual({ tag: 'CREATE TABLE', schema: 'public', table: 'later', object: 'public.later', statement: 'CREATE TABLE later (id int)', key: null });
    expect(create.t.ddl.some((d) => d.includes('rowtrail_session'))).toBe(false);
    const ins = actors.find((x) => x.t.rows.some((r) => r.startsWith('table public.later: INSERT')))!;
    expect(ins.t.messages).toHaveLength(1);
    const alter = actors.find((x) => x.t.ddl.some((d) => d.includes('ALTER TABLE')))!;
    expect(JSON.parse(alter.t.ddl[0]!)).toMatchObject({ tag: 'ALTER TABLE', schema: 'public', table: 'later', statement: 'ALTER TABLE later ADD COLUMN note text' });
    await server.psql(`SELECT pg_drop_replication_slot('d_${suffix}')`, db);
  });

  it('keeps the agent comment at the end of a long multibyte statement (cut at 2048 characters, not bytes)', async () => {
    const slot = `mb_${suffix}`;
    await server.psql(`SELECT pg_create_logical_replication_slot('${slot}', 'test_decoding', false)`, db);
    const c = new pg.Client({ connectionString: server.url(db, ROLE.shared), application_name: 'agent-runner' });
    await c.connect();
    await c.query(`INSERT INTO users (who) VALUES ('${'é'.repeat(1500)}') /*agent='deploy-bot',run='mb-1'*/`); // 3000 bytes, ~1550 characters
    await c.end();
    const txs = (await decode(db, slot, withRows(1))).filter((t) => t.rows.length);
    expect(txs).toHaveLength(1);
    expect(createResolver().resolve(facts(txs[0]!))).toMatchObject({ user: ROLE.shared, agent: 'deploy-bot', context: { run: 'mb-1' }, confidence: 'exact' });
    await server.psql(`SELECT pg_drop_replication_slot('${slot}')`, db);
  });

  it('exactly one message per transaction across savepoints, failed statements, unwatched writes and TRUNCATE', async () => {
    const slot = `sp_${suffix}`;
    await server.psql(`SELECT pg_create_logical_replication_slot('${slot}', 'test_decoding', false)`, db);
    const c = new pg.Client({ connectionString: server.url(db, ROLE.alice), application_name: 'psql' });
    await c.connect();
    const pid = String((await c.query('SELECT pg_backend_pid() AS p')).rows[0].p);
    await c.query(`CREATE TABLE IF NOT EXISTS uniq_sp (id int PRIMARY KEY)`); // not watched: no trigger
    // 1. the subtransaction that emitted rolls back: the transaction must emit again
    await c.query(`BEGIN; SAVEPOINT a; INSERT INTO users (who) VALUES ('sp1-gone'); ROLLBACK TO a; INSERT INTO users (who) VALUES ('sp1'); COMMIT`);
    // 2. emitted before the savepoint: nothing more inside it
    await c.query(`BEGIN; INSERT INTO users (who) VALUES ('sp2'); SAVEPOINT a; INSERT INTO users (who) VALUES ('sp2-gone'); ROLLBACK TO a; UPDATE users SET who = who WHERE who = 'sp2'; COMMIT`);
    // 3. a statement fails after its BEFORE trigger emitted (duplicate key), rolled back to a savepoint
    const id = (await c.query(`INSERT INTO users (who) VALUES ('sp3-key') RETURNING id`)).rows[0].id;
    await c.query('BEGIN');
    await c.query('SAVEPOINT a');
    await expect(c.query(`INSERT INTO users (id, who) VALUES (${id}, 'dup')`)).rejects.toMatchObject({ code: '23505' });
    await c.query('ROLLBACK TO a');
    await c.query(`INSERT INTO users (who) VALUES ('sp3')`);
    await c.query('COMMIT');
    // 4. an unwatched write first (the transaction already has an xid), then a watched one
    await c.query(`BEGIN; INSERT INTO uniq_sp VALUES (1); INSERT INTO users (who) VALUES ('sp4'); COMMIT`);
    // 5. released (committed) subtransaction: its message stays, no second one
    await c.query(`BEGIN; SAVEPOINT a; INSERT INTO users (who) VALUES ('sp5'); RELEASE a; INSERT INTO users (who) VALUES ('sp5b'); COMMIT`);
    // 6. a whole transaction rolled back leaves nothing; the next one emits
    await c.query(`BEGIN; INSERT INTO users (who) VALUES ('sp6-gone'); ROLLBACK`);
    await c.query(`BEGIN; TRUNCATE orders; INSERT INTO orders (who) VALUES ('sp6'); COMMIT`);
    await c.end();
    const txs = (await decode(db, slot, (t) => t.some((x) => x.rows.some((r) => r.includes("'sp6'"))))).filter((t) => t.rows.some((r) => / public\.(users|orders): /.test(r)));
    const resolver = createResolver();
    const names = txs.map((t) => /who\[text\]:'([^']*)'/.exec(t.rows.find((r) => r.includes('who[text]'))!)?.[1]);
    expect(names).toEqual(['sp1', 'sp2', 'sp3-key', 'sp3', 'sp4', 'sp5', 'sp6']);
    for (const t of txs) {
      expect(t.messages).toHaveLength(1);
      expect(resolver.resolve(facts(t))).toMatchObject({ confidence: 'exact', sessionId: pid, user: ROLE.alice });
    }
    expect(txs.flatMap((t) => t.rows).some((r) => r.includes('-gone'))).toBe(false);
    await server.psql(`SELECT pg_drop_replication_slot('${slot}')`, db);
  });

  it('uninstall removes everything and gives PUBLIC back pg_logical_emit_message', async () => {
    await uninstallPrecise(admin);
    const st = await preciseStatus(admin);
    expect(st).toMatchObject({ version: null, tables: [], ddl: false, publicCanEmit: true });
    expect((await admin.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'rowtrail'`)).rows[0].n).toBe(0);
    await uninstallPrecise(admin); // idempotent
  });
});

describe('PostgreSQL precise mode, native trigger missing on the server', () => {
  it('refuses with a one-line reason and the fix, and leaves nothing half-installed', async () => {
    const own = await startPostgres(); // no dynamic_library_path: the server cannot load rowtrail_native
    const c = new pg.Client({ connectionString: own.url() });
    try {
      await c.connect();
      await c.query('CREATE TABLE t (id int PRIMARY KEY)');
      const err = await installPrecise(c, null, { native: true }).catch((e) => e);
      expect(err).toBeInstanceOf(RowtrailError);
      expect(err.message).toMatch(/cannot load the native precise trigger .*make install.*preciseNative: false/);
      expect(err.message).not.toContain('\n');
      expect((await preciseStatus(c)).version).toBeNull();
      await c.query('INSERT INTO t VALUES (1)'); // writes still work
    } finally {
      await c.end().catch(() => undefined);
      await own.destroy();
    }
  });
});

describe('PostgreSQL precise mode below wal_level=logical', () => {
  it('warns at install and never breaks a write (the trigger does not test wal_level)', async () => {
    const own = await startPostgres({ conf: { wal_level: 'minimal', max_wal_senders: 0 } });
    const c = new pg.Client({ connectionString: own.url() });
    try {
      await c.connect();
      await c.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
      const r = await installPrecise(c, null);
      expect(r.warnings.join('\n')).toMatch(/wal_level is not logical/);
      await c.query(`INSERT INTO t VALUES (1, 'a'), (2, 'b')`);
      await c.query(`BEGIN; UPDATE t SET v = 'c' WHERE id = 1; DELETE FROM t WHERE id = 2; INSERT INTO t VALUES (3, '/*agent=x*/'); COMMIT`);
      await c.query(`/*agent='a'*/ UPDATE t SET v = 'd'`);
      await c.query('TRUNCATE t');
      expect((await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(0);
    } finally {
      await c.end().catch(() => undefined);
      await own.destroy();
    }
  });
});

describe('PostgreSQL sampling mode', () => {
  it('reports its real rate and never attributes to a wrong session; a role without pg_read_all_stats degrades to unknown', async () => {
    const db = await server.freshDatabase('samp');
    await server.psql(`CREATE TABLE t (id bigserial PRIMARY KEY, pid int DEFAULT pg_backend_pid(), slow bool); GRANT ALL ON t, t_id_seq TO PUBLIC`, db);
    await server.psql(`SELECT pg_create_logical_replication_slot('p_${fileSuffix}', 'test_decoding', false)`, db);
    const sampler = new PostgresSampler(server.url(db), { intervalMs: 20 });
    await sampler.start();
    const limitedRole = new pg.Client({ connectionString: server.url(db, ROLE.plain) });
    await limitedRole.connect();
    const limitedMsg = await activityVisibility(limitedRole);
    await limitedRole.end();
    expect(limitedMsg).toMatch(/cannot see other roles' sessions.*GRANT pg_read_all_stats/);
    const conns: pg.Client[] = [];
    for (let i = 0; i < 32; i++) {
      const c = new pg.Client({ connectionString: server.url(db, i % 2 ? ROLE.alice : ROLE.svc), application_name: `app${i}` });
      await c.connect();
      conns.push(c);
    }
    await Promise.all(
      conns.map(async (c, i) => {
        for (let n = 0; n < 20; n++) {
          if (i < 4) await c.query(`BEGIN; INSERT INTO t (slow) VALUES (true); SELECT pg_sleep(0.1); COMMIT`);
          else await c.query(`INSERT INTO t (slow) VALUES (false)`);
          await sleep(1);
        }
      }),
    );
    await sleep(50);
    await sampler.stop();
    for (const c of conns) await c.end();
    const resolver = createResolver({ index: sampler.index });
    const txs = (await decode(db, `p_${fileSuffix}`, withRows(32 * 20))).filter((t) => t.rows.length);
    const by = { slow: { n: 0, exact: 0 }, fast: { n: 0, exact: 0 } };
    for (const t of txs) {
      const m = /pid\[integer\]:(\d+) slow\[boolean\]:(true|false)/.exec(t.rows[0]!)!;
      const a = resolver.resolve(facts(t));
      const k = m[2] === 'true' ? by.slow : by.fast;
      k.n++;
      if (a.confidence === 'exact') {
        k.exact++;
        expect(a.sessionId).toBe(m[1]); // never a wrong session
      } else expect(a.confidence).toBe('unknown'); // no xid seen: never a guess
    }
    console.log(`sampling mode (20 ms): exact ${by.slow.exact}/${by.slow.n} of 100 ms transactions, ${by.fast.exact}/${by.fast.n} of autocommit inserts`);
    expect(by.slow.n).toBe(80);
    // the 100 ms transactions are seen (how many depends on how busy the machine is: bench/identity-rate measures it)
    expect(by.slow.exact).toBeGreaterThan(0);
    await server.psql(`SELECT pg_drop_replication_slot('p_${fileSuffix}')`, db);
  }, 120_000);
});
