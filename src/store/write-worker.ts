/**
 * The write worker of a Store (worker_threads, entry sqlite-worker.ts): posts batches in order and calls
 * each one's callback with its reply. The worker is referenced only while writes are outstanding, so an idle
 * worker never keeps the process alive.
 */
import { Worker } from 'node:worker_threads';
import type { Batch } from './sqlite-batch.js';
import type { WorkerReply, WorkerRequest } from './sqlite-worker.js';

export class WriteWorker {
  private readonly worker: Worker;
  private lastNo = 0;
  private readonly waiting = new Map<number, (r: WorkerReply) => void>();
  private dead: string | null = null;

  constructor(path: string, synchronous: 'FULL' | 'NORMAL') {
    this.worker = startWorker({ path, synchronous });
    this.worker.on('message', (r: WorkerReply) => {
      const cb = this.waiting.get(r.no);
      this.waiting.delete(r.no);
      if (this.waiting.size === 0) this.worker.unref();
      cb?.(r);
    });
    const die = (why: string) => {
      this.dead ??= why;
      const cbs = [...this.waiting.values()];
      this.waiting.clear();
      for (const cb of cbs) cb({ no: 0, position: null, error: this.dead });
    };
    this.worker.on('error', (e) => die(`the store's write worker failed: ${e?.message ?? e}`));
    this.worker.on('exit', (code) => die(`the store's write worker exited (code ${code})`));
    this.worker.unref();
  }

  post(batch: Batch, cb: (r: WorkerReply) => void): void {
    if (this.dead !== null) {
      const error = this.dead;
      queueMicrotask(() => cb({ no: 0, position: null, error }));
      return;
    }
    const no = ++this.lastNo;
    this.waiting.set(no, cb);
    this.worker.ref();
    this.worker.postMessage({ no, batch } satisfies WorkerRequest);
  }

  close(): void {
    this.dead ??= 'the store was closed';
    void this.worker.terminate();
  }
}

function startWorker(workerData: { path: string; synchronous: 'FULL' | 'NORMAL' }): Worker {
  // A batch is garbage once written: a small young generation keeps the worker's heap (and RSS) small.
  const resourceLimits = { maxYoungGenerationSizeMb: 8 };
  // Built (dist/): the compiled entry beside this file. Running from TypeScript source (vitest, tsx; this
  // file is then a .ts), the worker needs tsx's loader, which Node 20 does not pass to a worker
  // (`execArgv: ['--import', 'tsx']` does not apply to its entry module): the dev-only boot file, which is
  // not compiled into dist/, registers tsx and imports the .ts entry.
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData, resourceLimits });
  const entry = new URL('./sqlite-worker.ts', import.meta.url).href;
  return new Worker(new URL('./ts-worker-boot.mjs', import.meta.url), { workerData: { ...workerData, entry }, resourceLimits });
}
