/**
 * The PostgreSQL side of the differential tests: a database with the workload types, rowtrail's slot(s)
 * and a `test_decoding` slot created before any workload, so both decoders read the same WAL.
 */
import pg from 'pg';
import { setupSource, sql } from '../postgres/capture-helpers.js';
import type { PgServer } from '../harness/postgres.js';
import type { SourceConfig } from '../../src/config/index.js';
import type { ChangeEvent } from '../../src/model/index.js';
import { parseTestDecoding } from './test-decoding.js';
import { expectedFromTd, firstDifference, fromRowtrail, type TableFacts } from './pg-compare.js';
import { Executor, type Workload } from './pg-workload.js';
import { TYPES_DDL } from './pg-values.js';

export interface DiffDb {
  url: string;
  db: string;
  tdSlot: string;
  /** rowtrail source configs, one slot each (set up before any workload). */
  sources: SourceConfig[];
}

/** A fresh database that streams any transaction over 64 kB, with `n` rowtrail slots and a test_decoding slot. */
export async function diffDatabase(server: PgServer, prefix: string, n = 1): Promise<DiffDb> {
  const db = await server.freshDatabase(prefix);
  const url = server.url(db);
  // Make the server stream (pgoutput protocol v2) any transaction over 64 kB before it commits.
  await sql(url, `ALTER DATABASE ${db} SET logical_decoding_work_mem = '64kB'`);
  await sql(url, TYPES_DDL);
  const sources: SourceConfig[] = [];
  for (let i = 0; i < n; i++) sources.push(await setupSource(url, i === 0 ? {} : { name: 'pg', slot: `s${i}_${db}` }, false));
  const tdSlot = `td_${db}`;
  await sql(url, `SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [tdSlot]);
  return { url, db, tdSlot, sources };
}

/** test_decoding's records up to now (consumed from its slot). */
export async function tdRecords(d: DiffDb): Promise<string[]> {
  const r = await sql(d.url, `SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL, 'include-xids', '1', 'include-timestamp', '1', 'skip-empty-xacts', '1')`, [d.tdSlot]);
  return r.rows.map((x) => x.data as string);
}

/**
 * Runs a workload on two sessions; returns the SQL it ran. `beforeDrop` runs before the workload's tables
 * are dropped (e.g. wait for live capture).
 */
export async function runWorkload(url: string, w: Workload, beforeDrop?: () => Promise<void>): Promise<string[]> {
  const a = new pg.Client({ connectionString: url });
  const b = new pg.Client({ connectionString: url });
  await a.connect();
  await b.connect();
  const ex = new Executor(a, b, w);
  try {
    await ex.runAll();
    if (w.drop.length) {
      await beforeDrop?.();
      await ex.dropTables();
    }
  } finally {
    await a.end();
    await b.end();
  }
  return ex.log;
}

export function tableFacts(w: Workload): TableFacts {
  return new Map(w.tables.map((t) => [`public.${t.name}`, { pk: t.pk, full: t.identity === 'full' }]));
}

/** Compares rowtrail's events with test_decoding's records; throws with the first difference and the SQL. */
export function assertSame(records: string[], events: ChangeEvent[], w: Workload, log: string[], label = 'rowtrail'): void {
  const expected = expectedFromTd(parseTestDecoding(records), tableFacts(w));
  const got = fromRowtrail(events);
  const diff = firstDifference(expected, got) ?? txShape(events);
  if (diff) {
    const sqlText = log.join(';\n').slice(0, 12_000);
    throw new Error(`${label} differs from test_decoding: ${diff}\n--- workload SQL ---\n${sqlText}`);
  }
}

/** Every stored transaction has changes 0…n-1 and says its size is n (ddl events included). */
function txShape(events: ChangeEvent[]): string | null {
  const byTx = new Map<string, ChangeEvent[]>();
  for (const e of events) byTx.set(e.tx.position, [...(byTx.get(e.tx.position) ?? []), e]);
  for (const [pos, evs] of byTx) {
    const idx = evs.map((e) => e.tx.index).sort((a, b) => a - b);
    if (idx.some((v, i) => v !== i) || evs.some((e) => e.tx.size !== evs.length)) {
      return `transaction at ${pos} (xid ${evs[0].tx.id}): indexes ${JSON.stringify(idx.slice(0, 20))}, sizes ${JSON.stringify([...new Set(evs.map((e) => e.tx.size))])}, ${evs.length} events`;
    }
  }
  return null;
}

/** Counts the events of each op (for the run summary). */
export function opCounts(events: ChangeEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[e.op] = (out[e.op] ?? 0) + 1;
  return out;
}
