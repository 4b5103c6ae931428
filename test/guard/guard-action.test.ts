/**
 * The guards' action connection on a real PostgreSQL, and doctor's guard lines: a backend is ended only while it
 * runs the transaction that crossed the line; every other case is said truthfully in one line (gone, moved on,
 * a role without pg_signal_backend, idle in transaction under cancel).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sharedPg } from '../harness/shared.js';
import { sql } from '../postgres/capture-helpers.js';
import { BackendSignaller, guardDoctor } from '../../src/guard/index.js';
import { parseConfig } from '../../src/config/index.js';

describe('guard actions (PostgreSQL)', () => {
  let url: string;
  let weakUrl: string;
  const clients: pg.Client[] = [];
  const signallers: BackendSignaller[] = [];

  /** A session with an open transaction that has an xid; returns its pid and xid. */
  async function openTx(u = url): Promise<{ c: pg.Client; pid: string; xid: string }> {
    const c = new pg.Client({ connectionString: u });
    c.on('error', () => undefined);
    clients.push(c);
    await c.connect();
    await c.query('BEGIN');
    await c.query('INSERT INTO public.t VALUES (1)');
    const r = await c.query(`SELECT pg_backend_pid()::text AS pid, pg_current_xact_id()::text AS xid`);
    return { c, pid: r.rows[0].pid, xid: r.rows[0].xid };
  }
  const signaller = (u: string) => {
    const s = new BackendSignaller(u, 3000);
    signallers.push(s);
    return s;
  };

  beforeAll(async () => {
    const server = sharedPg();
    const db = await server.freshDatabase('guard_action');
    url = server.url(db);
    await sql(url, 'CREATE TABLE public.t (id int)');
    await sql(url, `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'guard_weak') THEN CREATE ROLE guard_weak LOGIN; END IF; END $$`);
    await sql(url, 'GRANT pg_read_all_stats TO guard_weak');
    const u = new URL(url);
    u.username = 'guard_weak';
    u.password = '';
    weakUrl = u.toString();
  });
  afterAll(async () => {
    await Promise.all(signallers.map((s) => s.close()));
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  });

  it('terminates the backend that runs the transaction, and its transaction rolls back', async () => {
    const { c, pid, xid } = await openTx();
    const r = await signaller(url).signal('terminate', pid, xid);
    expect(r).toEqual({ done: true, detail: `backend ${pid} terminated (it was idle in transaction)` });
    await expect(c.query('COMMIT')).rejects.toThrow();
    expect((await sql(url, 'SELECT count(*) AS n FROM public.t')).rows[0].n).toBe('0'); // text form
  });

  it('never signals a backend that runs another transaction, nor one that is gone', async () => {
    const { c, pid, xid } = await openTx();
    await c.query('COMMIT');
    const s = signaller(url);
    expect(await s.signal('terminate', pid, xid)).toEqual({ done: false, detail: `backend ${pid} no longer runs transaction ${xid} (it ended before the guard acted)` });
    await c.query('SELECT 1'); // still alive
    expect(await s.signal('terminate', '999999', xid)).toEqual({ done: false, detail: 'the session (backend 999999) had already ended' });
    await sql(url, 'DELETE FROM public.t');
  });

  it('a cancel does not end an idle transaction, and says so', async () => {
    const { c, pid, xid } = await openTx();
    const r = await signaller(url).signal('cancel', pid, xid);
    expect(r.done).toBe(false);
    expect(r.detail).toMatch(/idle in transaction: a cancel ends only a running statement \(use terminate\)/);
    await c.query('ROLLBACK');
  });

  it('a role without pg_signal_backend: one line naming the grant; doctor says the same', async () => {
    const { c, pid, xid } = await openTx(); // a superuser's session
    const r = await signaller(weakUrl).signal('terminate', pid, xid);
    expect(r.done).toBe(false);
    expect(r.detail).toMatch(/^permission denied .*grant rowtrail's role pg_signal_backend/);
    await c.query('ROLLBACK');
    const cfg = parseConfig(
      { sources: [{ name: 'pg', kind: 'postgres', url: weakUrl, identity: 'precise' }], guards: [{ name: 'g', when: { rowsOver: 1 }, action: 'terminate' }] },
      {},
    );
    const checks = await guardDoctor(cfg, cfg.sources[0]!, weakUrl);
    expect(checks.map((x) => [x.level, x.id])).toEqual([
      ['ok', 'guards_threshold'],
      ['warn', 'guards_act'],
    ]);
    expect(checks[0]!.message).toMatch(/pass 256kB/);
    expect(checks[1]!.grants).toEqual(['GRANT pg_signal_backend TO "guard_weak";']);
    const su = await guardDoctor(cfg, cfg.sources[0]!, url);
    expect(su.find((x) => x.id === 'guards_act')).toMatchObject({ level: 'ok', message: expect.stringMatching(/superuser/) });
  });
});
