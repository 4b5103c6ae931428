/**
 * pgbench TPS with and without precise identity mode, alternating in one invocation (median of PAIRS pairs):
 * built-in tpcb-like (every pgbench table watched) and single-row autocommit inserts into a watched table.
 * Also a naive trigger (a PL/pgSQL statement trigger emitting one message with the session facts on every
 * statement) as the reference to beat. Throwaway server from test/harness; never the machine's own.
 *
 *   npx tsx bench/identity-overhead/run.ts [pairs=5] [seconds=5]
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  const server = await startPostgres();
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
    const tps = async (args: string[]) => {
      const { stdout } = await run(pgbench, [...conn, '-n', '-c', '8', '-j', '2', '-T', String(SECS), ...args, db], { maxBuffer: 16 << 20 });
      return Number(/tps = ([0-9.]+)/.exec(stdout)![1]);
    };
    const modes = {
      off: async () => {
        await uninstallPrecise(client);
        await client.query('DROP TRIGGER IF EXISTS naive_identity ON ev');
      },
      precise: async () => {
        await client.query('DROP TRIGGER IF EXISTS naive_identity ON ev');
        await installPrecise(client, null);
      },
      naive: async () => {
        await uninstallPrecise(client);
        await client.query('DROP TRIGGER IF EXISTS naive_identity ON ev');
        await client.query(NAIVE);
      },
    };
    const workloads: { name: string; args: string[]; arms: (keyof typeof modes)[] }[] = [
      { name: 'tpcb-like', args: [], arms: ['off', 'precise'] },
      { name: 'single-row autocommit insert', args: ['-f', script], arms: ['off', 'precise', 'naive'] },
    ];
    const lines: string[] = [];
    for (const w of workloads) {
      const res: Record<string, number[]> = {};
      for (let i = 0; i < PAIRS; i++) {
        // alternate the order so drift does not favour one arm
        const arms = i % 2 ? [...w.arms].reverse() : w.arms;
        for (const a of arms) {
          await modes[a]();
          (res[a] ??= []).push(await tps(w.args));
        }
      }
      const base = median(res.off!);
      const parts = w.arms.map((a) => `${a} ${median(res[a]!).toFixed(0)} tps${a === 'off' ? '' : ` (${((100 * (median(res[a]!) - base)) / base).toFixed(1)}%)`}`);
      const line = `${w.name}: ${parts.join(', ')}  [median of ${PAIRS}; runs: ${w.arms.map((a) => `${a}=${res[a]!.map((x) => x.toFixed(0)).join('/')}`).join(' ')}]`;
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
