/**
 * pgbench TPS with and without precise identity mode, alternating in one invocation (median of PAIRS pairs):
 * built-in tpcb-like (every pgbench table watched) and single-row autocommit inserts into a watched table.
 * Also a naive trigger (a PL/pgSQL statement trigger emitting one message with the session facts on every
 * statement) as the reference to beat. Throwaway server from test/harness; never the machine's own.
 *
 *   npx tsx bench/identity-overhead/run.ts [pairs=5] [seconds=5]
 *   (ARMS_TPCB / ARMS_INSERT: comma-separated arms among off, precise, precise-accounts, precise-native,
 *   precise-native-accounts, v2, naive, file:PATH;
 *   PGBENCH_CLIENTS: clients, default 8)
 *
 * Arms: `precise` = this rowtrail's precise mode on every table; `precise-accounts` = precise mode on the one
 * sensitive table (pgbench_accounts, plus ev for the insert workload): every tpcb-like transaction writes it
 * first, so its message still attributes the whole transaction; `v2` = the previous trigger body, frozen in
 * precise-v2.sql; `naive` = the reference to beat.
 *
 * TPS swings ±20 % between identical runs on a shared machine; the server CPU per transaction is steadier, and
 * bench/identity-overhead/instructions.ts counts instructions, which do not vary at all.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { arm, benchServer, median, pct } from './arms.js';

const run = promisify(execFile);
const PAIRS = Number(process.argv[2] ?? 5);
const SECS = Number(process.argv[3] ?? 5);
const CLIENTS = process.env.PGBENCH_CLIENTS ?? '8';

/**
 * CPU time (clock ticks) used so far by one PostgreSQL cluster: the postmaster, its reaped children (backends
 * that exited) and its live children. Per transaction, this is far steadier than TPS on a machine shared
 * with other work, where TPS alone swings ±20 % between identical runs.
 */
function clusterTicks(dataDir: string): number {
  const fields = (pid: string) => {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' '); // [0]=state [1]=ppid … [11]=utime [12]=stime [13]=cutime [14]=cstime
  };
  const pm = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
  const f = fields(pm);
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || pid === pm) continue;
    try {
      const c = fields(pid);
      if (c[1] === pm) ticks += Number(c[11]) + Number(c[12]);
    } catch {
      /* gone meanwhile: counted in the postmaster's cutime once reaped */
    }
  }
  return ticks;
}
const TICK_US = 1e6 / 100; // USER_HZ

async function main() {
  const { server, db, pgbenchConn: conn } = await benchServer(10);
  try {
    const pgbench = join(server.bin, 'pgbench');
    const script = join(server.dir, 'insert.sql');
    writeFileSync(script, "INSERT INTO ev (v, t) VALUES (1, 'x');\n");
    const client = new pg.Client({ connectionString: server.url(db) });
    await client.connect();
    const dataDir = join(server.dir, 'data');
    /** One pgbench run: TPS, and server CPU µs per transaction. */
    const tps = async (args: string[]) => {
      await client.query('CHECKPOINT');
      const t0 = clusterTicks(dataDir);
      const { stdout } = await run(pgbench, [...conn, '-n', '-c', CLIENTS, '-j', CLIENTS === '1' ? '1' : '2', '-T', String(SECS), ...args, db], { maxBuffer: 16 << 20 });
      await new Promise((r) => setTimeout(r, 300)); // backends exit and are reaped
      const n = Number(/actually processed: (\d+)/.exec(stdout)![1]);
      return { tps: Number(/tps = ([0-9.]+)/.exec(stdout)![1]), cpuUs: ((clusterTicks(dataDir) - t0) * TICK_US) / n };
    };
    const workloads: { name: string; args: string[]; arms: string[] }[] = [
      { name: 'tpcb-like', args: [], arms: (process.env.ARMS_TPCB ?? 'off,precise,precise-native,precise-accounts').split(',').filter(Boolean) },
      { name: 'single-row autocommit insert', args: ['-f', script], arms: (process.env.ARMS_INSERT ?? 'off,precise,precise-native,naive').split(',').filter(Boolean) },
    ];
    const lines: string[] = [];
    for (const w of workloads) {
      if (!w.arms.length) continue;
      const res: Record<string, number[]> = {};
      const cpu: Record<string, number[]> = {};
      for (let i = 0; i < PAIRS; i++) {
        // alternate the order so drift does not favour one arm
        const arms = i % 2 ? [...w.arms].reverse() : w.arms;
        for (const a of arms) {
          await arm(a)(client);
          const r = await tps(w.args);
          (res[a] ??= []).push(r.tps);
          (cpu[a] ??= []).push(r.cpuUs);
        }
      }
      const base = median(res.off!);
      const cbase = median(cpu.off!);
      const parts = w.arms.map((a) => {
        const t = median(res[a]!);
        const c = median(cpu[a]!);
        if (a === 'off') return `off ${t.toFixed(0)} tps ${c.toFixed(1)} µs cpu/tx`;
        // the median of the per-pair ratios: each pair ran back to back, so drifting load cancels better
        const paired = median(res[a]!.map((x, i) => x / res.off![i]!));
        return `${a} ${t.toFixed(0)} tps (${pct(t, base)}; paired ${pct(paired, 1)}) ${c.toFixed(1)} µs cpu/tx (${pct(c, cbase)})`;
      });
      const line = `${w.name}: ${parts.join(', ')}  [median of ${PAIRS}; runs: ${w.arms.map((a) => `${a}=${res[a]!.map((x) => x.toFixed(0)).join('/')} (${cpu[a]!.map((x) => x.toFixed(0)).join('/')} µs)`).join(' ')}]`;
      console.log(line);
      lines.push(line);
    }
    await client.end();
  } finally {
    await server.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
