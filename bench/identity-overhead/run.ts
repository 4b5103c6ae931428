/**
 * pgbench TPS with and without precise identity mode, alternating in one invocation (median of PAIRS pairs):
 * built-in tpcb-like (every pgbench table watched) and single-row autocommit inserts into a watched table.
 * Also a naive trigger (a PL/pgSQL statement trigger emitting one message with the session facts on every
 * statement) as the reference to beat. Throwaway server from test/harness; never the machine's own.
 *
 *   npx tsx bench/identity-overhead/run.ts [pairs=5] [seconds=5]
 *   (ARMS_TPCB / ARMS_INSERT: comma-separated arms among off, precise, v1, naive)
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { startPostgres } from '../../test/harness/postgres.js';
import { installPrecise, uninstallPrecise } from '../../src/identity/postgres-precise.js';

const run = promisify(execFile);
const PAIRS = Number(process.argv[2] ?? 5);
const SECS = Number(process.argv[3] ?? 5);

const NAIVE = `CREATE OR REPLACE FUNCTION public.naive_identity() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  PERFORM pg_logical_emit_message(true, 'rowtrail', json_build_array(1, pg_backend_pid(), session_user, current_user,
    current_setting('application_name'), inet_client_addr(), current_setting('rowtrail.actor', true), current_query())::text);
  RETURN NULL; END $$;
CREATE TRIGGER naive_identity AFTER INSERT OR UPDATE OR DELETE ON ev FOR EACH STATEMENT EXECUTE FUNCTION public.naive_identity();`;

const V1 = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'precise-v1.sql'), 'utf8');

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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  // autovacuum off: its workers' CPU would land in the cluster CPU of whichever arm runs at the time
  const server = await startPostgres({ conf: { autovacuum: 'off' } });
  // an interrupted run must not leave its server behind
  process.once('SIGINT', () => void server.destroy().finally(() => process.exit(130)));
  process.once('SIGTERM', () => void server.destroy().finally(() => process.exit(143)));
  try {
    const db = await server.freshDatabase('bench');
    const pgbench = join(server.bin, 'pgbench');
    const conn = ['-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres'];
    await run(pgbench, [...conn, '-i', '-s', '10', '-q', db]);
    await server.psql('CREATE TABLE ev (id bigserial PRIMARY KEY, v int, t text)', db);
    const script = join(server.dir, 'insert.sql');
    writeFileSync(script, "INSERT INTO ev (v, t) VALUES (1, 'x');\n");
    const client = new pg.Client({ connectionString: server.url(db) });
    await client.connect();
    const dataDir = join(server.dir, 'data');
    /** One pgbench run: TPS, and server CPU µs per transaction. */
    const tps = async (args: string[]) => {
      await client.query('CHECKPOINT');
      const t0 = clusterTicks(dataDir);
      const { stdout } = await run(pgbench, [...conn, '-n', '-c', '8', '-j', '2', '-T', String(SECS), ...args, db], { maxBuffer: 16 << 20 });
      await new Promise((r) => setTimeout(r, 300)); // backends exit and are reaped
      const n = Number(/actually processed: (\d+)/.exec(stdout)![1]);
      return { tps: Number(/tps = ([0-9.]+)/.exec(stdout)![1]), cpuUs: ((clusterTicks(dataDir) - t0) * TICK_US) / n };
    };
    const modes = {
      off: async () => {
        await uninstallPrecise(client);
        await client.query('DROP TRIGGER IF EXISTS naive_identity ON ev; DROP TRIGGER IF EXISTS t_x ON ev; DROP TRIGGER IF EXISTS t_empty ON ev; DROP TRIGGER IF EXISTS t_empty ON pgbench_accounts; DROP TRIGGER IF EXISTS t_empty ON pgbench_tellers; DROP TRIGGER IF EXISTS t_empty ON pgbench_branches; DROP TRIGGER IF EXISTS t_empty ON pgbench_history; DROP SCHEMA IF EXISTS rowtrail CASCADE');
      },
      precise: async () => {
        await client.query('DROP TRIGGER IF EXISTS naive_identity ON ev');
        await installPrecise(client, null);
      },
      // the first version (WHEN clause, multi-statement body), to compare against in the same run
      v1: async () => {
        await uninstallPrecise(client);
        await client.query('DROP TRIGGER IF EXISTS naive_identity ON ev');
        await client.query(V1);
      },
      naive: async () => {
        await uninstallPrecise(client);
        await client.query('DROP TRIGGER IF EXISTS naive_identity ON ev');
        await client.query(NAIVE);
      },
    };
    // exploration: an arm `file:PATH` installs that SQL (on table ev) after removing everything else
    const arm = (a: string) =>
      a.startsWith('file:')
        ? async () => {
            await modes.off();
            await client.query(readFileSync(a.slice(5), 'utf8'));
          }
        : modes[a as keyof typeof modes];
    const workloads: { name: string; args: string[]; arms: string[] }[] = [
      { name: 'tpcb-like', args: [], arms: (process.env.ARMS_TPCB ?? 'off,precise,v1').split(',').filter(Boolean) },
      { name: 'single-row autocommit insert', args: ['-f', script], arms: (process.env.ARMS_INSERT ?? 'off,precise,v1,naive').split(',').filter(Boolean) },
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
          await arm(a)();
          const r = await tps(w.args);
          (res[a] ??= []).push(r.tps);
          (cpu[a] ??= []).push(r.cpuUs);
        }
      }
      const base = median(res.off!);
      const cbase = median(cpu.off!);
      const pct = (x: number, b: number) => `${x >= b ? '+' : ''}${((100 * (x - b)) / b).toFixed(1)}%`;
      const parts = w.arms.map((a) => {
        const t = median(res[a]!);
        const c = median(cpu[a]!);
        return `${a} ${t.toFixed(0)} tps${a === 'off' ? '' : ` (${pct(t, base)})`} ${c.toFixed(1)} µs cpu/tx${a === 'off' ? '' : ` (${pct(c, cbase)})`}`;
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
