/**
 * Vitest global setup: one throwaway PostgreSQL for the whole run (tests make their own databases on it).
 * Tests that restart or break a server start their own with startPostgres().
 */
import type { TestProject } from 'vitest/node';
import { startPostgres, type PgServer } from './postgres.js';

let pg: PgServer | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  pg = await startPostgres({ native: true });
  project.provide('pg', { port: pg.port, dir: pg.dir, bin: pg.bin });
  project.provide('pgNativeMissing', pg.nativeMissing ?? null);
  if (pg.nativeMissing) console.warn(`native precise trigger not built, its tests are skipped: ${pg.nativeMissing}`);
  return async () => {
    await pg?.destroy();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pg: { port: number; dir: string; bin: string };
    /** Why the shared server cannot load native/postgres (null: it can). */
    pgNativeMissing: string | null;
  }
}
