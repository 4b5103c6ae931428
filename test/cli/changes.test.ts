/** The user's path end to end: setup, watch, then `rowtrail changes` with filters, as JSON and as a table. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, runCli, spawnCli } from '../harness/cli.js';
import { sharedPg } from '../harness/shared.js';
import { Store } from '../../src/store/index.js';
import { compareLsn } from '../../src/sources/postgres/index.js';
import type { ChangeEvent } from '../../src/model/index.js';

const pg = sharedPg();
let dir: string;
let config: string;
let daemon: ReturnType<typeof spawnCli>;
let db: string;

async function caughtUp(): Promise<void> {
  const target = (await pg.psql('SELECT pg_current_wal_insert_lsn()', db)).trim();
  for (let i = 0; i < 600; i++) {
    try {
      const s = Store.open(join(dir, 'data'), { readonly: true });
      const pos = s.position('app');
      s.close();
      if (pos && compareLsn(pos, target) >= 0) return;
    } catch {
      /* store not created yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('watch did not catch up: ' + daemon.output());
}

beforeAll(async () => {
  db = await pg.freshDatabase('changes');
  await pg.psql(`CREATE TABLE users (id bigint PRIMARY KEY, email text, role text); CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2))`, db);
  dir = mkdtempSync(join(tmpdir(), 'rowtrail-changes-'));
  config = join(dir, 'rowtrail.yaml');
  writeFileSync(config, `sources:\n  - name: app\n    kind: postgres\n    url: ${pg.url(db)}\n    slot: changes_slot\n    publication: changes_pub\nstore:\n  path: ./data\n`);
  const setup = await runCli(['setup', '--config', config, '--replica-identity', 'full']);
  expect(setup.code, setup.stderr).toBe(0);
  expect(setup.stdout).toMatch(/create replication slot changes_slot/);
  daemon = spawnCli(['watch', '--config', config]);
  await pg.psql(`INSERT INTO users VALUES (42, 'a@x.io', 'user'), (43, 'b@x.io', 'user'); INSERT INTO orders VALUES (1, 10.50)`, db);
  await pg.psql(`UPDATE users SET role = 'admin' WHERE id = 42`, db);
  await caughtUp();
});

afterAll(async () => {
  daemon?.kill('SIGTERM');
  if (daemon) await exited(daemon);
  await pg.psql(`SELECT pg_drop_replication_slot('changes_slot')`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function parse(stdout: string): ChangeEvent[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('rowtrail changes', () => {
  it('prints ChangeEvents as NDJSON, filtered by table', async () => {
    const r = await runCli(['changes', '--config', config, '--json', '--table', 'public.users']);
    expect(r.code, r.stderr).toBe(0);
    const evs = parse(r.stdout);
    expect(evs.map((e) => e.op)).toEqual(['insert', 'insert', 'update']);
    const upd = evs[2];
    expect(upd).toMatchObject({
      source: 'app', system: 'postgresql', database: db, schema: 'public', table: 'users', op: 'update',
      key: { id: '42' }, before: { id: '42', role: 'user' }, after: { id: '42', role: 'admin' }, changed: ['role'],
    });
    // The email is masked (on by default): a keyed pseudonym, the same in both images, never the address.
    expect(upd.before!.email).toMatch(/^h:[a-z2-7]{16}$/);
    expect(upd.after!.email).toBe(upd.before!.email);
    expect(r.stdout).not.toContain('a@x.io');
    expect(upd.id).toBe(`app:${upd.tx.position}:0`);
    // sampling mode: the sampler saw this transaction's xid (exact: the psql session) or it did not (unknown), never a guess
    if (upd.actor.confidence === 'exact') expect(upd.actor).toMatchObject({ user: 'postgres', application: 'psql' });
    else expect(upd.actor).toMatchObject({ confidence: 'unknown', kind: 'unknown' });
    expect(upd.actor.user ?? null).toBe(upd.actor.confidence === 'exact' ? 'postgres' : null);
  });

  it('filters by transaction and by time', async () => {
    const all = parse((await runCli(['changes', '--config', config, '--json'])).stdout);
    expect(all).toHaveLength(4);
    const firstTx = all[0].tx.id;
    const byTx = parse((await runCli(['changes', '--config', config, '--json', '--tx', firstTx])).stdout);
    expect(byTx.map((e) => e.table)).toEqual(['users', 'users', 'orders']);
    expect(parse((await runCli(['changes', '--config', config, '--json', '--since', '10m'])).stdout)).toHaveLength(4);
    const future = await runCli(['changes', '--config', config, '--json', '--since', '2999-01-01T00:00:00Z']);
    expect(future.stdout).toBe('');
    const bad = await runCli(['changes', '--config', config, '--since', 'yesterday-ish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^rowtrail: --since 'yesterday-ish': expected a duration \(10m, 1h, 2d\) or a time/);
  });

  it('prints the changes as text by default: per transaction, each value', async () => {
    const r = await runCli(['changes', '--config', config, '--table', 'public.users']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^tx \d+ at \S+Z by .+ \([\w-]+, \w+\)$/); // sampling identity: whoever it could tell
    expect(lines).toContain('  INSERT public.users id=42');
    expect(lines.some((l) => /^ {4}email: "h:[a-z2-7]{16}"$/.test(l)), lines.join('\n')).toBe(true);
    expect(r.stdout).not.toContain('a@x.io');
    expect(lines.slice(-2)).toEqual(['  UPDATE public.users id=42', '    role: "user" → "admin"']);
  });
});
