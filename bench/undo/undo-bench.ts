/**
 * bench/undo: time and peak RSS to select, plan and print (render the SQL script of) an undo of 100k changes
 * from the embedded store. Target: under 10 s and 300 MB.
 *
 * Baseline (same run, same store): only reading the selected changes out of the store, the floor any undo
 * pays. The conflict check against a live database is not included (it is one UNION query per 200 rows).
 *
 *   npx tsx bench/undo/undo-bench.ts [changes=100000]
 *
 * Each measurement runs in a fresh process so peak RSS is its own.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '../../src/store/index.js';
import { collectUndo, finishPlan, postgresDialect, writeSql, newRunId, selectChanges, type UndoPlan } from '../../src/undo/index.js';

const TYPES = { id: 'bigint', email: 'text', balance: 'numeric(12,2)', seen: 'timestamp with time zone', tags: 'text[]', doc: 'jsonb' };

function generate(dir: string, total: number): void {
  const store = Store.open(dir, { synchronous: 'NORMAL' });
  const w = store.writer('bench', 'postgresql', 'app');
  const row = (id: number, v: number) => ({
    id: String(id),
    email: `user${id}+${v}@example.com`,
    balance: `${(id * 7 + v) % 100000}.${String(v % 100).padStart(2, '0')}`,
    seen: `2026-11-26 10:00:00.${String(v % 1_000_000).padStart(6, '0')}+00`,
    tags: `{a,"b c",${v}}`,
    doc: `{"n": ${v}, "s": "it's"}`,
  });
  let n = 0;
  let tx = 0;
  const live: number[] = [];
  let next = 1;
  while (n < total) {
    const h = w.begin(String(++tx));
    for (let k = 0; k < 100 && n < total; k++, n++) {
      const r = n % 5;
      if (r < 2 || live.length < 10) {
        const id = next++;
        live.push(id);
        w.add(h, { schema: 'public', table: 'accounts', op: 'insert', key: { id: String(id) }, before: null, after: row(id, n), changed: Object.keys(TYPES), types: TYPES });
      } else if (r < 4) {
        const id = live[(n * 7919) % live.length];
        w.add(h, { schema: 'public', table: 'accounts', op: 'update', key: { id: String(id) }, before: row(id, n - 1), after: row(id, n), changed: ['email', 'balance', 'seen', 'tags', 'doc'], types: TYPES });
      } else {
        const id = live.splice((n * 104729) % live.length, 1)[0];
        w.add(h, { schema: 'public', table: 'accounts', op: 'delete', key: { id: String(id) }, before: row(id, n), after: null, changed: Object.keys(TYPES), types: TYPES });
      }
    }
    const position = `0/${tx.toString(16).toUpperCase()}`;
    w.commit(h, { position, commitTime: new Date(Date.UTC(2026, 10, 26, 10) + tx).toISOString(), actor: { agent: 'bench-bot', user: 'svc', kind: 'ai-agent', confidence: 'exact' }, resumePosition: position });
    if (w.shouldFlush) w.flush();
  }
  w.flush();
  store.close();
}

function measure(dir: string, mode: 'read' | 'undo', outFile: string): void {
  const t0 = process.hrtime.bigint();
  const store = Store.open(dir, { readonly: true });
  store.db.pragma('cache_size = -8192'); // as `rowtrail undo` does
  const events = selectChanges(store, { actor: 'bench-bot' });
  let statements = 0;
  let bytes = 0;
  let changes = 0;
  if (mode === 'read') {
    // Baseline: the changes only read from the store (the floor of any undo).
    for (const _ of events) changes++;
  } else {
    const collected = collectUndo(events, postgresDialect);
    changes = collected.changes;
    const base = finishPlan(collected);
    const plan: UndoPlan = { ...base, runId: newRunId(), source: 'bench', system: 'postgresql', database: 'app', conflicts: [], skipped: [] };
    const fd = openSync(outFile, 'w');
    writeSql(plan, postgresDialect, (t) => {
      writeSync(fd, t);
      bytes += Buffer.byteLength(t);
    });
    closeSync(fd);
    statements = plan.steps.length;
  }
  store.close();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ mode, changes, statements, bytes, ms, rssMb }) + '\n');
}

const [mode, dir, outFile] = process.argv.slice(2);
if (mode === 'read' || mode === 'undo') {
  measure(dir, mode, outFile);
} else {
  const total = Number(mode ?? 100_000) || 100_000;
  const work = mkdtempSync(join(tmpdir(), 'rowtrail-undo-bench-'));
  try {
    const g0 = Date.now();
    generate(join(work, 'store'), total);
    process.stdout.write(`store with ${total} changes written in ${Date.now() - g0} ms\n`);
    const self = fileURLToPath(import.meta.url);
    const run = (m: string) => JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', self, m, join(work, 'store'), join(work, 'undo.sql')], { encoding: 'utf8' }));
    const read = run('read');
    const undo = run('undo');
    process.stdout.write(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}\n`);
    process.stdout.write(`baseline (read ${read.changes} changes from the store): ${read.ms.toFixed(0)} ms, peak RSS ${read.rssMb.toFixed(0)} MB\n`);
    process.stdout.write(`undo (select + plan + print ${undo.statements} statements, ${(undo.bytes / 1e6).toFixed(1)} MB of SQL): ${undo.ms.toFixed(0)} ms, peak RSS ${undo.rssMb.toFixed(0)} MB\n`);
    process.stdout.write(`ratio undo/baseline: time ${(undo.ms / read.ms).toFixed(2)}x, RSS ${(undo.rssMb / read.rssMb).toFixed(2)}x; target < 10000 ms and < 300 MB: ${undo.ms < 10_000 && undo.rssMb < 300 ? 'met' : 'NOT met'}\n`);
  } finally {
    if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
    else process.stdout.write(`kept ${work}\n`);
  }
}
