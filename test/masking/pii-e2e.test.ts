/**
 * Masking end to end (issue 13, "Must show"): known PII values — emails, card numbers, an API token, an IBAN,
 * a JWT, some inside JSON — go through a real workload on PostgreSQL and on MariaDB with `rowtrail watch` as
 * a child process (masking on by default, nothing configured). Then every byte rowtrail wrote or printed is
 * scanned: the store's files (main, -wal, -shm), the daemon's log, and the output of `changes`,
 * `changes --json`, `blame` and `actors`. None of the values may appear. The agent's DELETE of every row is
 * then undone with `rowtrail undo`, and the table's checksum must equal the one taken before the delete.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { sharedPg } from '../harness/shared.js';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { startWatch, type WatchDaemon } from '../harness/daemon.js';
import { runCli } from '../harness/cli.js';
import { setupSource, sql } from '../postgres/capture-helpers.js';

/** The values that must never be seen in the clear. */
const PII = {
  email: 'alice.pii-7731@example.com',
  email2: 'bob.secret-4410@example.org',
  card: '4111111111111111',
  card2: '5555555555554444',
  token: 'sk_live_9fQ2vX7LmP4rT8wZ1yB6nC3dH5kJ0aE',
  iban: 'GB82WEST12345698765432',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
};

/** Each row: id, email, card_number, api_token, iban, note (a JWT or plain), profile (JSON with PII inside). */
const ROWS: [number, string, string, string, string, string, string][] = [
  [1, PII.email, PII.card, PII.token, PII.iban, PII.jwt, JSON.stringify({ contact: { email: PII.email2 }, tier: 'gold' })],
  [2, PII.email2, PII.card2, 'tok_' + 'x'.repeat(4) + PII.token.slice(8), 'DE89370400440532013000', 'plain note', JSON.stringify({ card: PII.card2, n: 12.50 })],
  [3, 'carol@example.net', '378282246310005', PII.token.split('').reverse().join(''), 'FR1420041010050500013M02606', 'hello', '{"tags": ["a", "b"]}'],
];

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Every value of ROWS that is sensitive (not the ids, the plain notes or the tiers). */
function secrets(): string[] {
  const s = new Set<string>(Object.values(PII));
  for (const r of ROWS) for (const v of [r[1], r[2], r[3], r[4]]) s.add(v);
  return [...s];
}

/** The secrets found in a text (or a file's bytes, read as latin1 so no byte is lost). */
function leaks(text: string): string[] {
  return secrets().filter((s) => text.includes(s));
}

function storeFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)) if (f.startsWith('rowtrail.db')) out[f] = readFileSync(join(dir, f)).toString('latin1');
  return out;
}

async function cliOk(...args: string[]): Promise<string> {
  const r = await runCli(args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout + r.stderr;
}

interface Rig {
  cfgFile: string;
  storeDir: string;
  daemon: WatchDaemon;
}

function startRig(source: Record<string, unknown>): Rig {
  const dir = tempDir('rowtrail-pii-');
  const storeDir = join(dir, 'store');
  const cfgFile = join(dir, 'rowtrail.yaml');
  writeFileSync(cfgFile, JSON.stringify({ sources: [source], store: { path: storeDir } }));
  return { cfgFile, storeDir, daemon: startWatch(cfgFile) };
}

async function waitFor(pred: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `changes --json` lines of the rig. */
async function changes(r: Rig, ...args: string[]): Promise<{ op: string; before: Record<string, string | null> | null; actor: { context?: { run?: string } } }[]> {
  const res = await runCli(['changes', '--config', r.cfgFile, '--json', ...args]);
  if (res.code !== 0) return [];
  return res.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/**
 * The shared scenario: insert ROWS, update one, wait for capture; the agent deletes every row; scan every
 * output and file; undo the agent's run; return what the caller compares (checksums).
 */
async function scenario(r: Rig, db: { exec(text: string): Promise<void>; checksum(): Promise<string> }, table: string): Promise<void> {
  await db.exec(`UPDATE ${table} SET note = 'updated' WHERE id = 3`);
  await waitFor(async () => (await changes(r, '--op', 'update')).length > 0, 'the update to be captured');
  const before = await db.checksum();
  await db.exec(`/*agent='cleanup-bot',run='r-pii'*/ DELETE FROM ${table}`);
  await waitFor(async () => (await changes(r, '--agent-run', 'r-pii')).length === ROWS.length, "the agent's delete to be captured");

  const printed = [
    await cliOk('changes', '--config', r.cfgFile),
    await cliOk('changes', '--config', r.cfgFile, '--json'),
    await cliOk('blame', '--config', r.cfgFile, table, '1'),
    await cliOk('blame', '--config', r.cfgFile, table, '2', '--json'),
    await cliOk('actors', '--config', r.cfgFile),
    await cliOk('actors', '--config', r.cfgFile, '--json'),
  ].join('\n');
  expect(leaks(printed), 'CLI output').toEqual([]);
  // Masked, not dropped: the email shows as a pseudonym, the card as its last four digits, the token redacted.
  const del = (await changes(r, '--agent-run', 'r-pii')).find((e) => e.before?.id === '1')!;
  expect(del.before!.email).toMatch(/^h:[a-z2-7]{16}$/);
  expect(del.before!.card_number).toBe('••••1111');
  expect(del.before!.api_token).toBe('[redacted]');
  expect(del.before!.profile).not.toContain(PII.email2);

  // `--reveal` opens them, and the access is recorded.
  const revealed = await runCli(['changes', '--config', r.cfgFile, '--json', '--reveal', '--agent-run', 'r-pii']);
  expect(revealed.code, revealed.stderr).toBe(0);
  expect(revealed.stdout).toContain(PII.card);
  const accesses = await cliOk('masking', 'accesses', '--config', r.cfgFile, '--json');
  expect(JSON.parse(accesses.trim().split('\n')[0])).toMatchObject({ action: 'changes --reveal', changes: ROWS.length });
  const shown = await cliOk('masking', 'show', '--config', r.cfgFile);
  expect(shown).toMatch(/email.*hash/);

  // Undo of the agent's run restores every row exactly.
  const undo = await runCli(['undo', '--config', r.cfgFile, '--agent-run', 'r-pii', '--apply', '--yes']);
  expect(undo.code, undo.stderr + undo.stdout).toBe(0);
  expect(await db.checksum()).toBe(before);

  // Let the daemon capture the undo, stop it, and scan its log and every file it wrote.
  await waitFor(async () => (await changes(r, '--actor', 'rowtrail-undo')).length === ROWS.length, 'the undo to be captured');
  const whileRunning = storeFiles(r.storeDir);
  r.daemon.kill('SIGTERM');
  expect(await r.daemon.waitExit()).toBe(0);
  const files = { ...whileRunning, ...Object.fromEntries(Object.entries(storeFiles(r.storeDir)).map(([k, v]) => [`${k} (stopped)`, v])) };
  expect(Object.keys(files).some((f) => f.startsWith('rowtrail.db-wal'))).toBe(true);
  for (const [name, bytes] of Object.entries(files)) expect(leaks(bytes), name).toEqual([]);
  expect(leaks(r.daemon.output()), 'daemon log').toEqual([]);
  // The scan does see what is there: the undo's own statements are in the clear in the source database only.
  expect(r.daemon.output()).toContain('masking on');
}

describe('masking end to end: no PII leaves rowtrail in the clear, undo restores it exactly', () => {
  it('PostgreSQL (jsonb inside)', async () => {
    const pg = sharedPg();
    const dbName = await pg.freshDatabase('pii');
    const url = pg.url(dbName);
    await sql(
      url,
      `CREATE TABLE public.customers (id int PRIMARY KEY, email text, card_number text, api_token text, iban text, note text, profile jsonb)`,
    );
    // Precise identity: the agent's run id reaches the store with its transaction (sampling may miss a fast DELETE).
    const src = await setupSource(url, { identity: 'precise' });
    const r = startRig({ name: src.name, kind: 'postgres', url, slot: src.slot, publication: src.publication, identity: 'precise' });
    try {
      await r.daemon.waitLog((l) => l.msg === 'streaming changes');
      for (const row of ROWS) await sql(url, `INSERT INTO public.customers VALUES ($1, $2, $3, $4, $5, $6, $7)`, row);
      const checksum = async () => (await sql(url, `SELECT md5(string_agg(c::text, '|' ORDER BY id)) AS h FROM public.customers c`)).rows[0].h as string;
      await scenario(r, { exec: async (t) => void (await sql(url, t)), checksum }, 'public.customers');
    } finally {
      r.daemon.kill('SIGKILL');
    }
  }, 180_000);

  describe('MariaDB (JSON inside)', () => {
    let m: MariaServer;
    beforeAll(async () => {
      m = await startMariadb();
    }, 60_000);
    afterAll(async () => {
      await m?.destroy();
    });

    it('masks, seals and undoes', async () => {
      await m.sql(`CREATE DATABASE shop; CREATE TABLE shop.customers (id int PRIMARY KEY, email varchar(100), card_number varchar(30),
        api_token varchar(100), iban varchar(40), note text, profile json)`);
      const r = startRig({ name: 'shop', kind: 'mysql', url: m.url('shop') });
      const c = await mysql.createConnection({ uri: m.url('shop') });
      try {
        await r.daemon.waitLog((l) => l.msg === 'streaming changes');
        for (const row of ROWS) await c.query(`INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)`, row);
        const checksum = async () => {
          const [rows] = await c.query(`SELECT md5(group_concat(concat_ws('|', id, email, card_number, api_token, iban, note, profile) ORDER BY id)) AS h FROM customers`);
          return (rows as { h: string }[])[0].h;
        };
        await scenario(r, { exec: async (t) => void (await c.query(t)), checksum }, 'shop.customers');
      } finally {
        await c.end();
        r.daemon.kill('SIGKILL');
      }
    }, 180_000);
  });
});
