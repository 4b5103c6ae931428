/**
 * The store's write worker (worker_threads): owns the write connection of the sources' writers, applies
 * each posted Batch in one SQLite transaction (see sqlite-batch.ts) and replies with the position that is
 * now durable. Messages are handled in order, so batches are written in the order the sources posted them.
 * After a failed write, a source's later batches are refused (they may continue a transaction whose
 * earlier slice was rolled back); the failure is fatal for that source (a STORE error).
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { BatchWriter, type Batch } from './sqlite-batch.js';

export type WorkerRequest = { no: number; batch: Batch };
export type WorkerReply = { no: number; position: string | null; error?: string };

const { path, synchronous } = workerData as { path: string; synchronous: 'FULL' | 'NORMAL' };
const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${synchronous}`);
db.pragma('busy_timeout = 5000');
db.pragma('cache_size = -16384');
const writer = new BatchWriter(db);
const failed = new Map<string, string>();

parentPort!.on('message', (m: WorkerRequest) => {
  const source = m.batch.source;
  let reply: WorkerReply;
  try {
    const earlier = failed.get(source);
    if (earlier !== undefined) throw new Error(`an earlier write failed: ${earlier}`);
    reply = { no: m.no, position: writer.apply(m.batch) };
  } catch (e: any) {
    const error = String(e?.message ?? e);
    failed.set(source, error);
    reply = { no: m.no, position: null, error };
  }
  parentPort!.postMessage(reply);
});
