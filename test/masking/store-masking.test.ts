/**
 * Masking at the store and CLI (no database server): a store written in the clear is refused by readers and
 * migrated in place without a byte of the clear values left in its files; `--reveal` opens sealed values
 * exactly and records the access; keys rotate (old values still open, or re-sealed and the old keys retired);
 * a wrong, missing or loosely protected key is refused with one line, and nothing else breaks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, reveal as openSealed } from '../../src/store/index.js';
import { sealedKeyId } from '../../src/masking/index.js';
import type { ChangeEvent, RowChange } from '../../src/model/index.js';
import { runCli } from '../harness/cli.js';
import { maskLikeWatch } from '../harness/masking.js';

const EMAIL = 'dora.store-5521@example.com';
const CARD = '4012888888881881';
const TOKEN = 'ghp_R8x2Lq9ZtV4mN7bC1kW5yP3sD6fH0jG2aE9u';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function insert(id: number, email: string, card: string, token: string): RowChange {
  const after = { id: String(id), email, card_number: card, api_token: token, note: `row ${id}` };
  return { schema: 'public', table: 'users', op: 'insert', key: { id: String(id) }, before: null, after, changed: Object.keys(after) };
}

/** A store with `n` transactions of one insert each, written masked (like watch) or in the clear, and its config. */
function writeStore(opts: { masked: boolean; n?: number; from?: number }, existing?: string): { dir: string; config: string; data: string } {
  const dir = existing ?? mkdtempSync(join(tmpdir(), 'rowtrail-store-masking-'));
  if (!existing) dirs.push(dir);
  const data = join(dir, 'data');
  const store = Store.open(data);
  if (opts.masked) maskLikeWatch(store);
  try {
    const w = store.writer('app', 'postgresql', 'app');
    const from = opts.from ?? 1;
    for (let i = from; i < from + (opts.n ?? 3); i++) {
      const tx = w.begin(String(700 + i));
      w.add(tx, insert(i, i === 1 ? EMAIL : `u${i}@example.com`, i === 1 ? CARD : '4242424242424242', i === 1 ? TOKEN : `${TOKEN}${i}`));
      const position = `0/${(0x100 + i).toString(16).toUpperCase()}`;
      w.commit(tx, { position, commitTime: new Date(Date.UTC(2026, 10, 1, 0, i)).toISOString(), actor: { kind: 'human', confidence: 'exact', method: 'none', user: 'ann' }, resumePosition: position });
    }
    w.flush();
  } finally {
    store.close();
  }
  const config = join(dir, 'rowtrail.yaml');
  writeFileSync(config, `sources:\n  - name: app\n    kind: postgres\n    url: postgres://nobody@127.0.0.1:1/app\nstore:\n  path: ${data}\n`);
  return { dir, config, data };
}

/** What the store holds: changes with their blobs, and the keyring. */
function dump(data: string): unknown {
  const st = Store.open(data, { readonly: true });
  try {
    return [st.db.prepare('SELECT * FROM changes ORDER BY tx_pk, idx').all(), st.keyring()];
  } finally {
    st.close();
  }
}

function storeBytes(data: string): string {
  return readdirSync(data)
    .filter((f) => f.startsWith('rowtrail.db'))
    .map((f) => readFileSync(join(data, f)).toString('latin1'))
    .join('\n');
}

function events(stdout: string): ChangeEvent[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChangeEvent);
}

async function reveal(config: string, env: NodeJS.ProcessEnv = {}) {
  return runCli(['changes', '--config', config, '--json', '--reveal'], { env });
}

describe('a store written in the clear', () => {
  it('is refused by readers with the command that migrates it; migrate masks it in place and leaves no clear byte', async () => {
    const s = writeStore({ masked: false });
    expect(storeBytes(s.data)).toContain(EMAIL); // the scan below can see what is there

    const refused = await runCli(['changes', '--config', s.config]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/holds 3 transaction\(s\) stored in the clear.*rowtrail masking migrate/);
    expect(refused.stdout).toBe('');

    const m = await runCli(['masking', 'migrate', '--config', s.config]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain('masked and sealed 3 transaction(s) (3 changes)');
    expect(m.stderr).toMatch(/generated a master key in .*master\.key/);
    for (const secret of [EMAIL, CARD, TOKEN]) expect(storeBytes(s.data)).not.toContain(secret);

    const shown = await runCli(['changes', '--config', s.config, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const first = events(shown.stdout)[0];
    expect(first.after).toMatchObject({ id: '1', card_number: '••••1881', api_token: '[redacted]', note: 'row 1' });
    expect(first.after!.email).toMatch(/^h:/);
    expect(first.id).toBe('app:0/101:0'); // ids unchanged by the migration

    const r = await reveal(s.config);
    expect(r.code, r.stderr).toBe(0);
    expect(events(r.stdout)[0].after).toEqual(insert(1, EMAIL, CARD, TOKEN).after);

    const show = await runCli(['masking', 'show', '--config', s.config, '--json']);
    const places = events(show.stdout) as unknown as { place: string; policy: string }[];
    expect(places).toEqual(expect.arrayContaining([expect.objectContaining({ place: 'public.users.email', policy: 'hash' })]));
  }, 60_000);

  it('written again with masking off after masked writes: only the clear part is migrated (no value masked twice)', async () => {
    const s = writeStore({ masked: true, n: 2 });
    writeStore({ masked: false, n: 2, from: 3 }, s.dir);
    const m = await runCli(['masking', 'migrate', '--config', s.config]);
    expect(m.stdout).toContain('masked and sealed 2 transaction(s)');
    const r = await reveal(s.config);
    expect(r.code, r.stderr).toBe(0);
    const after = events(r.stdout).map((e) => e.after!.email);
    expect(after).toEqual([EMAIL, 'u2@example.com', 'u3@example.com', 'u4@example.com']);
  }, 60_000);
});

describe('one blob per written slice of a transaction', () => {
  it('every change of a slice opens to its own exact cells, in any reading order; clear changes carry no blob', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rowtrail-slice-'));
    dirs.push(dir);
    const store = Store.open(join(dir, 'data'));
    maskLikeWatch(store);
    const w = store.writer('app', 'postgresql', 'app');
    const tx = w.begin('501');
    const rows = [insert(1, EMAIL, CARD, TOKEN), insert(2, 'x2@example.com', '4242424242424242', TOKEN + 'b'), insert(3, 'x3@example.com', '4000056655665556', TOKEN + 'c')];
    const plain: RowChange = { schema: 'public', table: 'notes', op: 'insert', key: { id: '9' }, before: null, after: { id: '9', body: 'hello' }, changed: ['id', 'body'] };
    w.add(tx, rows[0]);
    w.add(tx, plain);
    w.add(tx, rows[1]);
    w.flush(); // a first slice: rows[0] holds the blob of rows[0] (plain has none)
    w.add(tx, rows[2]);
    w.commit(tx, { position: '0/501', commitTime: new Date().toISOString(), actor: { kind: 'human', confidence: 'exact', method: 'none' }, resumePosition: '0/501' });
    w.flush(); // a second slice: rows[2] holds its own
    const held = store.db.prepare('SELECT idx, sealed IS NOT NULL AS has, sealed_at FROM changes ORDER BY idx').all();
    expect(held).toEqual([
      { idx: 0, has: 1, sealed_at: 0 },
      { idx: 1, has: 0, sealed_at: null },
      { idx: 2, has: 0, sealed_at: 0 },
      { idx: 3, has: 1, sealed_at: 3 },
    ]);
    const masker = store.masker!;
    for (const newestFirst of [false, true]) {
      const evs = [...store.changes({ newestFirst })].map((e) => openSealed(masker, e));
      const byIdx = new Map(evs.map((e) => [e.tx.index, e.after]));
      expect(byIdx.get(0)).toEqual(rows[0].after);
      expect(byIdx.get(1)).toEqual(plain.after);
      expect(byIdx.get(2)).toEqual(rows[1].after);
      expect(byIdx.get(3)).toEqual(rows[2].after);
    }
    store.close();
  });
});

describe('rows keyed by a sensitive value', () => {
  it('blame finds the row by the raw key the user gives (stored as its pseudonym), and prints no raw key', async () => {
    const s = writeStore({ masked: true, n: 1 });
    const store = Store.open(s.data);
    maskLikeWatch(store);
    const w = store.writer('app', 'postgresql', 'app');
    const sub = (op: RowChange['op'], before: RowChange['before'], after: RowChange['after']): RowChange => ({
      schema: 'public', table: 'subscribers', op, key: { email: EMAIL }, before, after, changed: op === 'update' ? ['plan'] : ['email', 'plan'],
    });
    const changes = [sub('insert', null, { email: EMAIL, plan: 'free' }), sub('update', { email: EMAIL, plan: 'free' }, { email: EMAIL, plan: 'pro' })];
    changes.forEach((c, i) => {
      const tx = w.begin(String(900 + i));
      w.add(tx, c);
      const position = `0/${(0x900 + i).toString(16).toUpperCase()}`;
      w.commit(tx, { position, commitTime: new Date(Date.UTC(2026, 10, 2, 0, i)).toISOString(), actor: { kind: 'human', confidence: 'exact', method: 'none', user: 'ann' }, resumePosition: position });
    });
    w.flush();
    store.close();
    const b = await runCli(['blame', '--config', s.config, 'public.subscribers', EMAIL]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/UPDATE[\s\S]*plan: "free" → "pro"[\s\S]*INSERT/);
    expect(b.stdout).not.toContain(EMAIL);
    const none = await runCli(['blame', '--config', s.config, 'public.subscribers', 'nobody@example.com']);
    expect(none.code).not.toBe(0);
  }, 60_000);
});

describe('revealing and keys', () => {
  it('--reveal records who revealed what; readers without the key still work, --reveal without it refuses', async () => {
    const s = writeStore({ masked: true });
    const r = await reveal(s.config);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('revealed the sealed values of 3 change(s)');
    const acc = events((await runCli(['masking', 'accesses', '--config', s.config, '--json'])).stdout)[0] as unknown as Record<string, unknown>;
    expect(acc).toMatchObject({ action: 'changes --reveal', changes: 3, ids: ['app:0/101:0', 'app:0/102:0', 'app:0/103:0'] });
    expect(String(acc.who)).toMatch(/uid \d+/);

    renameSync(join(s.data, 'master.key'), join(s.dir, 'elsewhere.key'));
    const plain = await runCli(['changes', '--config', s.config]);
    expect(plain.code, plain.stderr).toBe(0);
    const noKey = await reveal(s.config);
    expect(noKey.code).toBe(1);
    expect(noKey.stdout).toBe('');
    expect(noKey.stderr.trim()).toMatch(/^rowtrail: opening sealed values needs the master key: no master key/);
    // Undo needs the raw values: it refuses with the same reason before connecting anywhere.
    const undo = await runCli(['undo', '--config', s.config, '--tx', '701']);
    expect(undo.code).not.toBe(0);
    expect(undo.stderr.trim()).toMatch(/^rowtrail: opening sealed values needs the master key: no master key/);
    // The refused reveal is not recorded as an access.
    expect(events((await runCli(['masking', 'accesses', '--config', s.config, '--json'])).stdout)).toHaveLength(1);
  }, 60_000);

  it('a wrong key, a malformed key or a key file open to others: one line each, nothing changed', async () => {
    const s = writeStore({ masked: true });
    const before = dump(s.data);
    const wrong = await reveal(s.config, { ROWTRAIL_MASTER_KEY: randomBytes(32).toString('hex') });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim()).toMatch(/master key \(fingerprint [0-9a-f]{16}\) is not the one this store's sealed values were made with/);
    const bad = await reveal(s.config, { ROWTRAIL_MASTER_KEY: 'not-a-key' });
    expect(bad.stderr.trim()).toMatch(/ROWTRAIL_MASTER_KEY must hold a master key of 64 hex characters/);
    chmodSync(join(s.data, 'master.key'), 0o644);
    const loose = await reveal(s.config);
    expect(loose.stderr.trim()).toMatch(/is open to group or others \(mode 0644\): run 'chmod 600/);
    chmodSync(join(s.data, 'master.key'), 0o600);
    expect(dump(s.data)).toEqual(before);
    expect((await reveal(s.config)).code).toBe(0);
  }, 60_000);

  it('rotate-key: a new data key, old values still open; with a new master key and --reseal, the old keys retire', async () => {
    const s = writeStore({ masked: true, n: 2 });
    const rot = await runCli(['masking', 'rotate-key', '--config', s.config]);
    expect(rot.code, rot.stderr).toBe(0);
    expect(rot.stdout).toContain('data key 2 is now current');
    writeStore({ masked: true, n: 1, from: 3 }, s.dir); // sealed under key 2
    const blobs = () => {
      const st = Store.open(s.data, { readonly: true });
      try {
        return st.db.prepare('SELECT sealed FROM changes ORDER BY tx_pk').all().map((r) => sealedKeyId((r as { sealed: Buffer }).sealed));
      } finally {
        st.close();
      }
    };
    expect(blobs()).toEqual([1, 1, 2]);
    expect(events((await reveal(s.config)).stdout).map((e) => e.after!.email)).toEqual([EMAIL, 'u2@example.com', 'u3@example.com']);

    const newKey = join(s.dir, 'new.key');
    writeFileSync(newKey, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    const rot2 = await runCli(['masking', 'rotate-key', '--config', s.config, '--new-key-file', newKey, '--reseal']);
    expect(rot2.code, rot2.stderr).toBe(0);
    expect(rot2.stdout).toContain('re-sealed 3 stored value(s); retired data key(s) 1, 2');
    expect(blobs()).toEqual([3, 3, 3]);
    expect((await reveal(s.config)).stderr).toMatch(/is not the one this store's sealed values were made with/);
    const withNew = await reveal(s.config, { ROWTRAIL_MASTER_KEY: readFileSync(newKey, 'utf8').trim() });
    expect(withNew.code, withNew.stderr).toBe(0);
    expect(events(withNew.stdout).map((e) => e.after!.card_number)).toEqual([CARD, '4242424242424242', '4242424242424242']);
  }, 90_000);
});
