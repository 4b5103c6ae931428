// Dev-only (never loaded from dist/): boots the store's write worker when rowtrail runs from TypeScript
// source (vitest, tsx). Node 20 does not hand tsx's loader to a worker, so it is registered here, through
// tsx's own API, before the .ts entry is imported. See write-worker.ts.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
