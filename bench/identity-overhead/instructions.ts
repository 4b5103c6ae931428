/**
 * Instructions per transaction with and without precise identity mode, counted by valgrind (callgrind) in a
 * single-user PostgreSQL backend: deterministic (two runs agree to 0.01 %), so variants a few percent apart
 * can be told apart on a shared machine where pgbench TPS swings ±20 %. Same arms as run.ts (./arms.ts),
 * same workloads: tpcb-like transactions (BEGIN, 3 UPDATEs, SELECT, INSERT, END; fixed pseudo-random keys) and
 * single-row autocommit INSERTs. Counts the server only: parse, plan, execute, commit, triggers; not the
 * network, the client or the kernel, so a TPS loss is smaller than the instruction increase it reports.
 *
 *   npx tsx bench/identity-overhead/instructions.ts [transactions=1000]
 *   (ARMS: comma-separated arms, default off,precise,precise-accounts,precise-native,precise-native-accounts,v2,naive)
 * Needs valgrind (Debian: apt-get install valgrind). Throwaway server from test/harness.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { arm, benchServer, pct } from './arms.js';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 1000);
const ARM_NAMES = (process.env.ARMS ?? 'off,precise,precise-accounts,precise-native,precise-native-accounts,v2,naive').split(',').filter(Boolean);
const isRoot = process.getuid?.() === 0;

/** pgbench's tpcb-like script with fixed keys (scale 1), and the single-row insert; one statement per line. */
function workloads(): { name: string; file: string; text: string; tx: number }[] {
  let seed = 42;
  const rnd = (lo: number, hi: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return lo + (seed % (hi - lo + 1));
  };
  const tpcb: string[] = [];
  for (let i = 0; i < N; i++) {
    const aid = rnd(1, 100000);
    const tid = rnd(1, 10);
    const d = rnd(-5000, 5000);
    tpcb.push(
      'BEGIN;',
      `UPDATE pgbench_accounts SET abalance = abalance + ${d} WHERE aid = ${aid};`,
      `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`,
      `UPDATE pgbench_tellers SET tbalance = tbalance + ${d} WHERE tid = ${tid};`,
      `UPDATE pgbench_branches SET bbalance = bbalance + ${d} WHERE bid = 1;`,
      `INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (${tid}, 1, ${aid}, ${d}, CURRENT_TIMESTAMP);`,
      'END;',
    );
  }
  const inserts = 3 * N;
  return [
    { name: 'tpcb-like', file: 'tpcb.sql', text: tpcb.join('\n') + '\n', tx: N },
    { name: 'single-row autocommit insert', file: 'insert.sql', text: "INSERT INTO ev (v, t) VALUES (1, 'x');\n".repeat(inserts), tx: inserts },
    { name: 'startup', file: 'startup.sql', text: 'SELECT 1;\n', tx: 1 },
  ];
}

const asPostgres = (file: string, args: string[]): [string, string[]] => (isRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args]);

/** Total instructions of one single-user backend running `input`. */
async function count(bin: string, data: string, db: string, input: string, out: string): Promise<number> {
  const [cmd, args] = asPostgres('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, join(bin, 'postgres'), '--single', '-D', data, db]);
  const stderr: Buffer[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [openSync(input, 'r'), 'ignore', 'pipe'] });
    p.stderr!.on('data', (b: Buffer) => stderr.push(b));
    p.on('error', reject);
    p.on('close', (c) => resolve(c ?? 1));
  });
  const err = Buffer.concat(stderr).toString();
  const bad = /^(ERROR|FATAL|PANIC):.*$/m.exec(err.replace(/^\s*\d+:\s*/gm, ''));
  if (code !== 0 || bad) throw new Error(`single-user backend failed (${code}): ${bad?.[0] ?? err.slice(-500)}`);
  const m = /^totals:\s+(\d+)/m.exec(readFileSync(out, 'utf8'));
  if (!m) throw new Error(`no totals in ${out}`);
  return Number(m[1]);
}

async function main() {
  try {
    await run('valgrind', ['--version']);
  } catch {
    console.error('valgrind not found: apt-get install valgrind');
    process.exit(1);
  }
  const { server, db } = await benchServer(1);
  try {
    const wls = workloads();
    for (const w of wls) {
      writeFileSync(join(server.dir, w.file), w.text);
      chmodSync(join(server.dir, w.file), 0o644);
    }
    await server.stop();
    const data = join(server.dir, 'data');
    const template = join(server.dir, 'template');
    await run('cp', ['-a', data, template]);
    /** A fresh copy of the initial cluster with `armName` installed, stopped. */
    const prepare = async (armName: string) => {
      await run('rm', ['-rf', data]);
      await run('cp', ['-a', template, data]);
      await server.start();
      const client = new pg.Client({ connectionString: server.url(db) });
      await client.connect();
      try {
        await arm(armName)(client);
        await client.query('CHECKPOINT');
      } finally {
        await client.end();
      }
      await server.stop();
    };
    const outFile = join(server.dir, 'callgrind.out');
    await prepare('off');
    const startup = await count(server.bin, data, db, join(server.dir, 'startup.sql'), outFile);
    for (const w of wls.filter((x) => x.name !== 'startup')) {
      const per: Record<string, number> = {};
      for (const a of ARM_NAMES) {
        await prepare(a);
        per[a] = (await count(server.bin, data, db, join(server.dir, w.file), outFile) - startup) / w.tx;
      }
      const base = per.off;
      console.log(
        `${w.name} (${w.tx} transactions, instructions per transaction): ` +
          ARM_NAMES.map((a) => `${a} ${(per[a]! / 1000).toFixed(1)}k${a === 'off' || base === undefined ? '' : ` (${pct(per[a]!, base)})`}`).join(', '),
      );
    }
  } finally {
    await server.destroy();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
