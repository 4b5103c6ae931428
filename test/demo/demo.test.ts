/**
 * `rowtrail demo` end to end, as a user runs it: a real embedded PostgreSQL in a clean TMPDIR, the CLI in its
 * own process. Checks the story's claims (agent named, undo restores the checksums) and that nothing is left
 * behind: no postgres process with a data dir under that TMPDIR, no file or dir in it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, runCli, spawnCli } from '../harness/cli.js';
import { leftIn, processesUnder, until } from './helpers.js';

let tmp: string;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rowtrail-demo-test-'));
  // As root the server runs as the postgres OS user, which must reach the demo's dir through this one.
  chmodSync(tmp, 0o755);
});

afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function expectNothingLeft(): void {
  expect(processesUnder(tmp)).toEqual([]);
  // tsx (which runs the CLI from source here) keeps its compile cache in TMPDIR: that one is not the demo's.
  expect(leftIn(tmp)).toEqual([]);
}

/** The proof table: `public.t  N rows  HASH  N rows  HASH  N rows  HASH  restored|DIFFERENT`. */
function proof(stdout: string): Map<string, { before: string; agent: string; undo: string; verdict: string }> {
  const rows = new Map<string, { before: string; agent: string; undo: string; verdict: string }>();
  const re = /^\s*(public\.\w+)\s+(\d+ rows\s+[0-9a-f]{12})\s+(\d+ rows\s+[0-9a-f]{12})\s+(\d+ rows\s+[0-9a-f]{12})\s+(restored|DIFFERENT)\s*$/gm;
  for (const m of stdout.matchAll(re)) rows.set(m[1]!, { before: m[2]!, agent: m[3]!, undo: m[4]!, verdict: m[5]! });
  return rows;
}

describe('rowtrail demo', () => {
  it('--no-ui plays the story, names the agent, undoes its transaction and leaves nothing behind', async () => {
    const r = await runCli(['demo', '--no-ui'], { env: { TMPDIR: tmp }, timeoutMs: 90_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // the agent is the actor of its transaction, exactly (precise identity), behind the shared account
    const tx = /tx (\d+) at \S+ by pricing-agent via svc_app \(ai-agent, exact\)/.exec(r.stdout);
    expect(tx, r.stdout).not.toBeNull();
    expect(r.stdout).toMatch(/context: agent=pricing-agent, on_behalf_of=alice, run=r-0417/);
    // the detectors raised the agent's alert and it reached the demo's webhook receiver, signature checked
    const alerts = r.stdout.slice(r.stdout.indexOf('== 4. The alert =='), r.stdout.indexOf('== 5.'));
    expect(alerts, r.stdout).toMatch(/got, with a valid signature/);
    expect(alerts).toMatch(/\[(warning|critical)\] AI agent pricing-agent \(on svc_app, exact\) deleted 10 rows of public\.customers/);
    expect(alerts).toContain(`undo: rowtrail undo --tx ${tx![1]} `);
    expect(r.stdout).toMatch(/^\s*pricing-agent via svc_app\s+ai-agent\s+exact\s+1\s+30\s/m);
    expect(r.stdout).toMatch(/^\s*alice\s+human\s+exact\s/m);
    expect(r.stdout).toMatch(/^\s*svc_billing\s+service\s+exact\s+7\s+7\s/m);
    // blame shows the agent's change on top of alice's
    expect(r.stdout).toMatch(/UPDATE {2}by pricing-agent via svc_app \(ai-agent, exact\)[^\n]*\n\s+price: "18\.50" → "1\.85"/);
    // the undo script is for that transaction, and the applied undo is itself captured
    expect(r.stdout).toContain(`$ rowtrail undo --tx ${tx![1]}\n`);
    expect(r.stdout).toMatch(/the undo itself was captured: tx \d+ by rowtrail-undo via postgres \(service, exact\), run u-[a-z0-9-]+, 30 row changes/);
    // the proof: every table back to its checksum from before the agent, and the agent had changed each
    const p = proof(r.stdout);
    expect([...p.keys()].sort()).toEqual(['public.customers', 'public.orders', 'public.products']);
    for (const [t, row] of p) {
      expect(row.undo, t).toBe(row.before);
      expect(row.agent, t).not.toBe(row.before);
      expect(row.verdict, t).toBe('restored');
    }
    expect(r.stdout).toContain('RESULT: restored');
    expectNothingLeft();
  });

  it('a port in use: one clear line, non-zero exit, nothing left', async () => {
    const srv: Server = createServer();
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
    const port = (srv.address() as { port: number }).port;
    try {
      const r = await runCli(['demo', '--no-ui', '--port', String(port)], { env: { TMPDIR: tmp } });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`rowtrail: port ${port} on 127.0.0.1 is in use; pass another --port, or leave --port out to use a free one\n`);
      expectNothingLeft();
    } finally {
      srv.close();
    }
  });

  it('a temp dir it cannot write: one clear line, non-zero exit', async () => {
    const file = join(tmp, 'not-a-dir');
    writeFileSync(file, '');
    // TSX_DISABLE_CACHE: tsx (running the CLI from source) would otherwise fail first, on its cache dir there.
    const r = await runCli(['demo', '--no-ui'], { env: { TMPDIR: join(file, 'sub'), TSX_DISABLE_CACHE: '1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^rowtrail: cannot create a temp directory in \S+ \(ENOTDIR\); set TMPDIR to a writable directory\n$/);
    rmSync(file);
    expectNothingLeft();
  });

  it('Ctrl-C while PostgreSQL starts: exits 130 and stops and removes everything', async () => {
    const child = spawnCli(['demo', '--no-ui'], { env: { TMPDIR: tmp } });
    await until(() => child.output().includes('== 1. Embedded PostgreSQL'));
    child.kill('SIGINT');
    expect(await exited(child)).toBe(130);
    expect(child.output()).toContain('rowtrail demo: interrupted; nothing left running');
    expectNothingLeft();
  });

  it('--keep leaves PostgreSQL and the daemon running until Ctrl-C, then cleans up', async () => {
    const child = spawnCli(['demo', '--no-ui', '--keep'], { env: { TMPDIR: tmp } });
    await until(() => child.output().includes('press Ctrl-C'), 60_000);
    const out = child.output();
    const config = /^config \(the daemon runs in this process\): (\S+)$/m.exec(out)?.[1];
    // the demo's own config, inside the TMPDIR it was given
    expect(config).toMatch(/\/rowtrail\.yaml$/);
    expect(config!.startsWith(`${tmp}/`)).toBe(true);
    // while it runs, a second rowtrail process reads the same store through the printed config
    const actors = await runCli(['actors', '-c', config!]);
    expect(actors.code).toBe(0);
    expect(actors.stdout).toMatch(/pricing-agent via svc_app\s+ai-agent\s+exact/);
    expect(processesUnder(tmp).some((l) => /postgres/.test(l))).toBe(true);
    child.kill('SIGINT');
    expect(await exited(child)).toBe(130);
    expectNothingLeft();
  });
});
