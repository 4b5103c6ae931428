/**
 * Identity through the whole pipeline, as `watch` runs it: precise mode installed by setup, the real
 * pgoutput stream, and the resolver. 32 concurrent sessions of three kinds write with 1 ms autocommit
 * statements; every stored change must name the right session and agent, exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sharedPg } from '../harness/shared.js';
import { setupSource, startCapture, type Capture } from './capture-helpers.js';
import { createIdentity, type Identity } from '../../src/identity/index.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log/index.js';

const server = sharedPg();
const sfx = `${process.pid}_${Date.now().toString(36)}`;
const ROLES = { human: `alice_${sfx}`, service: `svc_billing_${sfx}`, shared: `svc_app_${sfx}` };
let url: string;
let cap: Capture;
let identity: Identity;
const ac = new AbortController();

beforeAll(async () => {
  const db = await server.freshDatabase('idcap');
  url = server.url(db);
  await server.psql(
    `CREATE TABLE ev (id bigserial PRIMARY KEY, who text NOT NULL, app text NOT NULL, run text);
     ${Object.values(ROLES).map((r) => `CREATE ROLE ${r} LOGIN; GRANT INSERT ON ev TO ${r}; GRANT USAGE ON SEQUENCE ev_id_seq TO ${r};`).join('\n')}`,
    db,
  );
  const cfg = await setupSource(url, { identity: 'precise', tables: ['public.ev'] });
  const root = parseConfig(
    { sources: [{ name: 'pg', kind: 'postgres', url }], actors: [{ match: { agent: 'deploy-bot' }, kind: 'ai-agent' }, { match: { user: ROLES.service }, kind: 'service' }, { match: { user: ROLES.human }, kind: 'human' }] },
    {},
  );
  identity = createIdentity(root, cfg, { url, log: silentLogger, kind: 'postgres' });
  await identity.start(ac.signal);
  cap = startCapture(url, cfg, { identity: identity.resolver });
});

afterAll(async () => {
  ac.abort();
  await identity?.stop();
  await cap?.destroy();
  await server.psql(Object.values(ROLES).map((r) => `DROP OWNED BY ${r}; DROP ROLE ${r};`).join('\n'), new URL(url).pathname.slice(1)).catch(() => undefined);
});

async function session(user: string, app: string, n: number, write: (c: pg.Client, i: number) => Promise<unknown>): Promise<void> {
  const c = new pg.Client({ connectionString: server.url(new URL(url).pathname.slice(1), user), application_name: app });
  await c.connect();
  try {
    for (let i = 0; i < n; i++) await write(c, i);
  } finally {
    await c.end();
  }
}

describe('identity through capture (precise mode)', () => {
  it('attributes every change of 32 concurrent sessions exactly, including the agent behind a shared account', async () => {
    const sessions: Promise<void>[] = [];
    for (let s = 0; s < 12; s++) sessions.push(session(ROLES.human, 'psql', 10, (c) => c.query(`INSERT INTO ev (who, app) VALUES ('human', 'psql')`)));
    for (let s = 0; s < 10; s++) sessions.push(session(ROLES.service, 'billing-worker', 10, (c) => c.query(`INSERT INTO ev (who, app) VALUES ('service', 'billing-worker')`)));
    for (let s = 0; s < 10; s++) {
      sessions.push(
        session(ROLES.shared, 'agent-runner', 10, (c, i) =>
          c.query(`/*agent='deploy-bot',run='r-${s}',on_behalf_of='alice'*/ INSERT INTO ev (who, app, run) VALUES ('agent', 'agent-runner', 'r-${s}') /* step ${i} */`),
        ),
      );
    }
    await Promise.all(sessions);
    await cap.caughtUp();
    const evs = [...cap.store.changes({ table: 'public.ev' })];
    expect(evs).toHaveLength(320);
    const wrong = evs.filter((e) => {
      const a = e.actor;
      const row = e.after!;
      if (a.confidence !== 'exact' || a.application !== row.app || !a.sessionId) return true;
      if (row.who === 'human') return a.user !== ROLES.human || a.kind !== 'human' || a.agent;
      if (row.who === 'service') return a.user !== ROLES.service || a.kind !== 'service' || a.agent;
      return a.user !== ROLES.shared || a.agent !== 'deploy-bot' || a.kind !== 'ai-agent' || a.context?.run !== row.run || a.context?.on_behalf_of !== 'alice';
    });
    expect(wrong.map((e) => ({ row: e.after, actor: e.actor }))).toEqual([]);
    // What a user asks next: what did the agent do?
    expect([...cap.store.changes({ actor: 'deploy-bot' })]).toHaveLength(100);
    expect([...cap.store.changes({ agentRun: 'r-3' })]).toHaveLength(10);
    expect(identity.stats().exact).toBeGreaterThanOrEqual(320);
    expect(identity.stats().preciseMissing).toBe(0);
  }, 120_000);

  it('counts a transaction on a precise table that carries no session message, and follows DDL that disables the trigger', async () => {
    const db = new URL(url).pathname.slice(1);
    const before = identity.stats().preciseMissing;
    // a session that sets the marker itself keeps the trigger silent: never exact, and counted
    await session(ROLES.human, 'sneaky', 1, (c) => c.query(`BEGIN; SET LOCAL rowtrail.tx = 'rowtrail'; INSERT INTO ev (who, app) VALUES ('silent', 'sneaky'); COMMIT`));
    await session(ROLES.human, 'psql', 1, (c) => c.query(`INSERT INTO ev (who, app) VALUES ('loud', 'psql')`));
    await cap.caughtUp();
    const silent = [...cap.store.changes({ table: 'public.ev' })].find((e) => e.after?.who === 'silent')!;
    expect(silent.actor.method).not.toBe('precise-message');
    expect(silent.actor.user === ROLES.human || silent.actor.confidence === 'unknown').toBe(true);
    const loud = [...cap.store.changes({ table: 'public.ev' })].find((e) => e.after?.who === 'loud')!;
    expect(loud.actor).toMatchObject({ confidence: 'exact', method: 'precise-message', user: ROLES.human });
    expect(identity.stats().preciseMissing).toBe(before + 1);
    // with the trigger disabled (DDL message → the stream re-reads the catalog) a silent write is expected
    await server.psql('ALTER TABLE ev DISABLE TRIGGER rowtrail_session', db);
    await session(ROLES.human, 'psql', 1, (c) => c.query(`INSERT INTO ev (who, app) VALUES ('untriggered', 'psql')`));
    await cap.caughtUp();
    expect([...cap.store.changes({ table: 'public.ev' })].some((e) => e.after?.who === 'untriggered')).toBe(true);
    expect(identity.stats().preciseMissing).toBe(before + 1);
    await server.psql('ALTER TABLE ev ENABLE TRIGGER rowtrail_session', db);
  }, 60_000);
});
