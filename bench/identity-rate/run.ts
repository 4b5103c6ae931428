/**
 * Sampling mode's real exact rate on PostgreSQL vs statement duration and session count: SESSIONS sessions
 * run transactions of a given length (autocommit insert, or insert + pg_sleep(ms)); the sampler reads
 * pg_stat_activity every INTERVAL ms; a test_decoding slot gives every committed xid, which the resolver
 * attributes. Also checks that no exact attribution names a wrong session (the row carries its pid).
 *
 *   npx tsx bench/identity-rate/run.ts [intervalMs=20] [seconds=3]
 */
import pg from 'pg';
import { startPostgres } from '../../test/harness/postgres.js';
import { PostgresSampler } from '../../src/identity/postgres-sampler.js';
import { createResolver } from '../../src/identity/resolver.js';

const INTERVAL = Number(process.argv[2] ?? 20);
const SECS = Number(process.argv[3] ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const server = await startPostgres();
  try {
    const lines: string[] = [];
    for (const sessions of [4, 32]) {
      for (const txMs of [0, 5, 50]) {
        const db = await server.freshDatabase('rate');
        await server.psql('CREATE TABLE t (id bigserial PRIMARY KEY, pid int DEFAULT pg_backend_pid())', db);
        await server.psql(`SELECT pg_create_logical_replication_slot('r', 'test_decoding')`, db);
        const sampler = new PostgresSampler(server.url(db), { intervalMs: INTERVAL });
        await sampler.start();
        const conns = await Promise.all(Array.from({ length: sessions }, async () => {
          const c = new pg.Client({ connectionString: server.url(db) });
          await c.connect();
          return c;
        }));
        const until = Date.now() + SECS * 1000;
        await Promise.all(conns.map(async (c) => {
          while (Date.now() < until) {
            if (txMs === 0) await c.query('INSERT INTO t DEFAULT VALUES');
            else await c.query(`BEGIN; INSERT INTO t DEFAULT VALUES; SELECT pg_sleep(${txMs / 1000}); COMMIT`);
            await sleep(1);
          }
        }));
        await sleep(INTERVAL * 3);
        await sampler.stop();
        for (const c of conns) await c.end();
        await sleep(500); // asynchronous commits reach flushed WAL
        const out = await server.psql(`SELECT data FROM pg_logical_slot_get_changes('r', NULL, NULL) WHERE data LIKE 'BEGIN%' OR data LIKE 'table%'`, db);
        const resolver = createResolver({ index: sampler.index });
        let n = 0, exact = 0, wrong = 0, xid = '';
        for (const line of out.split('\n')) {
          const b = /^BEGIN (\d+)/.exec(line);
          if (b) { xid = b[1]!; continue; }
          const m = /pid\[integer\]:(\d+)/.exec(line);
          if (!m) continue;
          n++;
          const a = resolver.resolve({ source: 'b', xid, commitTime: new Date().toISOString(), messages: [], statements: [] });
          if (a.confidence === 'exact') { exact++; if (a.sessionId !== m[1]) wrong++; }
        }
        await server.psql(`SELECT pg_drop_replication_slot('r')`, db);
        const line = `sessions=${sessions} tx=${txMs === 0 ? 'autocommit insert' : `${txMs} ms`}: exact ${((100 * exact) / n).toFixed(1)}% of ${n} (wrong: ${wrong})`;
        console.log(line);
        lines.push(line);
      }
    }
  } finally {
    await server.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
