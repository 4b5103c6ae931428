/**
 * What `changes`, `blame` and `actors` print as text, read from a store written by the store's own writer:
 * values before → after (clipped, never silently), inserts and deletes by key and a few columns, and the
 * actors' tables within the window asked for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { ago, change, fixtureStore, HOUR, type FixtureStore } from './fixture-store.js';
import { changeLines, valueText } from '../../src/present/index.js';
import type { Actor } from '../../src/model/index.js';

const alice: Actor = { user: 'alice', kind: 'human', confidence: 'exact' };
const bot: Actor = { user: 'svc_app', agent: 'deploy-bot', kind: 'ai-agent', confidence: 'exact' };
const long = 'x'.repeat(500);
let fx: FixtureStore;

beforeAll(() => {
  fx = fixtureStore([
    // two days ago: alice writes public.archive; the bot writes public.legacy (outside a 1h window)
    { xid: '10', commitTime: ago(48 * HOUR), actor: alice, changes: [change('archive', 'insert', { id: '1' }, null, { id: '1', note: 'old' })] },
    { xid: '11', commitTime: ago(48 * HOUR), actor: bot, changes: [change('legacy', 'delete', { id: '9' }, { id: '9', v: 'gone' }, null)] },
    // within the last hour
    {
      xid: '20',
      commitTime: ago(HOUR / 4),
      actor: bot,
      changes: [
        change('users', 'update', { id: '42' }, { id: '42', email: 'a@x.io', role: 'user', bio: 'short' }, { id: '42', email: 'a@x.io', role: 'admin', bio: long }),
        change('users', 'insert', { id: '43' }, null, { c1: 'v1', id: '43', c2: 'v2', c3: null, c4: 'v4', c5: 'v5', c6: 'v6', c7: 'v7' }),
        change('orders', 'delete', { id: '7' }, { id: '7', total: '10.50' }, null),
      ],
    },
    { xid: '21', commitTime: ago(HOUR / 6), actor: alice, changes: [change('users', 'update', { id: '43' }, { id: '43', role: 'user' }, { id: '43', role: 'NULL' })] },
    // another source in the same store: never in app's figures
    { source: 'other', xid: '30', commitTime: ago(HOUR / 6), actor: alice, changes: [change('elsewhere', 'insert', { id: '1' }, null, { id: '1' })] },
  ]);
});

afterAll(() => fx?.remove());

describe('changes as text', () => {
  it('shows each changed value before → after, grouped by transaction, clipped with the full length', async () => {
    const r = await runCli(['changes', '-c', fx.config, '--source', 'app', '--since', '1h']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^tx 20 at \S+Z by deploy-bot via svc_app \(ai-agent, exact\)$/);
    expect(lines.slice(1, 4)).toEqual([
      '  UPDATE public.users id=42',
      '    role: "user" → "admin"',
      `    bio: "short" → "${'x'.repeat(60)}"… (500 chars)`,
    ]);
    // an insert: the key column first, then others up to six, and how many were left out
    expect(lines.slice(4, 12)).toEqual([
      '  INSERT public.users id=43',
      '    id: "43"',
      '    c1: "v1"',
      '    c2: "v2"',
      '    c3: NULL',
      '    c4: "v4"',
      '    c5: "v5"',
      '    … 2 more column(s)',
    ]);
    expect(lines.slice(12, 16)).toEqual(['  DELETE public.orders id=7', '    id: "7"', '    total: "10.50"', expect.stringMatching(/^tx 21 at .* by alice \(human, exact\)$/)]);
    // the string 'NULL' is not SQL NULL
    expect(lines[17]).toBe('    role: "user" → "NULL"');
  });

  it('--json prints every value in full', async () => {
    const r = await runCli(['changes', '-c', fx.config, '--tx', '20', '--json', '--op', 'update']);
    const [ev] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(ev.after.bio).toBe(long);
  });

  it('blame prints the same lines for a row as changes does', async () => {
    const r = await runCli(['blame', '-c', fx.config, 'public.users', '43']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ UPDATE {2}by alice \(human, exact\) {2}tx 21 {2}\(app:0\/4:0\)\n {4}role: "user" → "NULL"\n/);
  });

  it('the renderer: a value is JSON-quoted and clipped, a DDL shows its statement, an incomplete image says so', () => {
    expect(valueText('a "q"')).toBe('"a \\"q\\""');
    expect(valueText(null)).toBe('NULL');
    const ddl = change('users', 'ddl', {}, null, null);
    expect(changeLines({ ...ddl, ddl: 'ALTER TABLE users\n  ADD c int' } as never)).toEqual(['    ALTER TABLE users ADD c int']);
    const upd = change('users', 'update', { id: '1' }, { id: '1' }, { id: '1', v: 'b' });
    expect(changeLines({ ...upd, incomplete: ['before'], missing: { before: ['v'] } } as never)).toEqual([
      '    v: ? → "b"',
      '    (before image incomplete: v not logged)',
    ]);
  });
});

describe('actors', () => {
  it('--since counts only the window: transactions, changes and the tables written in it', async () => {
    const r = await runCli(['actors', '-c', fx.config, '--since', '1h', '--source', 'app', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => [x.agent ?? x.user, x.transactions, x.changes, x.tables])).toEqual([
      ['deploy-bot', 1, 3, ['public.orders', 'public.users']],
      ['alice', 1, 1, ['public.users']],
    ]);
  });

  it('without a window, every table each actor wrote, per source', async () => {
    const r = await runCli(['actors', '-c', fx.config, '--source', 'app']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^deploy-bot via svc_app\s+ai-agent\s+exact\s+2\s+4\s+\S+ \S+\s+\S+ \S+\s+public\.legacy, public\.orders, public\.users$/m);
    expect(r.stdout).toMatch(/^alice\s+human\s+exact\s+2\s+2\s+.*\s+public\.archive, public\.users$/m);
  });
});
