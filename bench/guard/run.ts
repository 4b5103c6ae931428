/**
 * bench/guard: how fast a guard stops a runaway transaction. An AI-agent session (precise identity) deletes
 * ROWS rows in one transaction, in batches of BATCH with a pause between them; the guard `rowsOver: LINE,
 * action: terminate` ends it before commit. Per run: the time from the batch that crossed the line returning
 * to the session (client side) to the session being ended, the guard's own time from decoding the crossing row
 * to the server's answer, how many rows the session had deleted when it was ended, and a checksum of the
 * table afterwards (it must equal the one before: nothing committed).
 *
 *   node --import tsx bench/guard/run.ts [--runs 20] [--rows 200000] [--batch 5000] [--pause-ms 100] [--line 10000] [--work-mem 256kB]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres } from '../../test/harness/postgres.js';
import { setupSource, sql } from '../../test/postgres/capture-helpers.js';
import { parseConfig } from '../../src/config/index.js';
import { startDaemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log/index.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const RUNS = Number(arg('runs', '20'));
const ROWS = Number(arg('rows', '200000'));
const BATCH = Number(arg('batch', '5000'));
const PAUSE = Number(arg('pause-ms', '100'));
const LINE = Number(arg('line', '10000'));
const WORK_MEM = arg('work-mem', '256kB');

const server = await startPostgres();
const dir = mkdtempSync(join(tmpdir(), 'rowtrail-bench-guard-'));
try {
  const url = server.url('postgres');
  await sql(url, `CREATE TABLE public.customers (id int PRIMARY KEY, email text, note text)`);
  await sql(url, `INSERT INTO public.customers SELECT g, 'c' || g || '@example.com', md5(g::text) FROM generate_series(1, ${ROWS}) g`);
  const checksum = async () => (await sql(url, `SELECT count(*) || ':' || sum(hashtext(id || email || note)) AS c FROM public.customers`)).rows[0].c as string;
  const before = await checksum();
  const src = await setupSource(url, { identity: 'precise', decodingWorkMem: WORK_MEM });
  const cfg = parseConfig(
    {
      sources: [{ ...src, identity: 'precise' }],
      store: { path: join(dir, 'store') },
      guards: [{ name: 'agents-no-mass-delete', match: { kind: 'ai-agent' }, when: { op: 'delete', rowsOver: LINE }, action: 'terminate' }],
    },
    {},
  );
  const daemon = startDaemon(cfg, silentLogger);
  while (daemon.health()[0]?.health?.state !== 'streaming') await new Promise((r) => setTimeout(r, 50));
  const endToEnd: number[] = [];
  const guardMs: number[] = [];
  const deletedAtKill: number[] = [];
  let intact = 0;
  for (let run = 0; run < RUNS; run++) {
    const c = new pg.Client({ connectionString: url, application_name: 'agent-runner' });
    let ended = 0;
    c.on('error', () => (ended ||= Date.now()));
    await c.connect();
    await c.query('BEGIN');
    let deleted = 0;
    let crossedAt = 0;
    try {
      for (let from = 1; from <= ROWS; from += BATCH) {
        const r = await c.query(`/*agent='deploy-bot',run='b-${run}'*/ DELETE FROM public.customers WHERE id BETWEEN $1 AND $2`, [from, from + BATCH - 1]);
        deleted += r.rowCount ?? 0;
        if (!crossedAt && deleted > LINE) crossedAt = Date.now();
        await c.query(`SELECT pg_sleep(${PAUSE / 1000})`);
      }
      await c.query('COMMIT');
      console.log(`run ${run + 1}: NOT STOPPED, committed ${deleted} deletes`);
      break;
    } catch {
      ended ||= Date.now();
    }
    await c.end().catch(() => undefined);
    // Wait for the alert to settle (the stream's abort).
    const id = (a: { evidence: Record<string, unknown> }) => a.evidence.outcome === 'rolled-back';
    let alert: ReturnType<typeof daemon.store.alerts>[number] | undefined;
    for (let i = 0; i < 200 && !alert; i++) {
      alert = daemon.store.alerts({}).find((a) => a.detector === 'guard' && a.actor?.context?.run === `b-${run}` && id(a));
      if (!alert) await new Promise((r) => setTimeout(r, 50));
    }
    const sum = await checksum();
    if (sum === before) intact++;
    endToEnd.push(ended - crossedAt);
    guardMs.push(Number(alert?.evidence.msCrossingToAction ?? NaN));
    deletedAtKill.push(deleted);
    console.log(
      `run ${run + 1}: session ended ${ended - crossedAt} ms after its crossing batch returned; guard: crossing row decoded → server answered ` +
        `${alert?.evidence.msCrossingToAction} ms; the session had deleted ${deleted} rows (line ${LINE}); table ${sum === before ? 'intact' : 'CHANGED'}`,
    );
  }
  await daemon.stop();
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  console.log(
    `\n${RUNS} runs, ${ROWS} rows, batches of ${BATCH} every ${PAUSE} ms, line ${LINE}, decodingWorkMem ${WORK_MEM}: ` +
      `crossing batch → session ended median ${q(endToEnd, 0.5)} ms, p90 ${q(endToEnd, 0.9)} ms; ` +
      `guard (crossing row decoded → server answered) median ${q(guardMs, 0.5)} ms, p90 ${q(guardMs, 0.9)} ms; ` +
      `rows deleted when ended median ${q(deletedAtKill, 0.5)}, max ${Math.max(...deletedAtKill)}; table intact ${intact}/${endToEnd.length}`,
  );
} finally {
  await server.destroy();
  rmSync(dir, { recursive: true, force: true });
}
