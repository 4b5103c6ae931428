/** A MariaDB server, a client and (optionally) a running MysqlSource for one test file; torn down after it. */
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { client, cleanup, gtidPos, runSource, type Running } from '../mysql/helpers.js';

export interface MariaFixture {
  m: MariaServer;
  c: mysql.Connection;
  /** The source, started at the server's position after `setup` (when asked for). */
  run: Running;
}

/** Registers beforeAll/afterAll; the returned object is filled before the first test. */
export function mariaFixture(opts: { source?: boolean; setup?: (c: mysql.Connection) => Promise<void> } = {}): MariaFixture {
  const f = {} as MariaFixture;
  beforeAll(async () => {
    f.m = await startMariadb();
    f.c = await client(f.m);
    await opts.setup?.(f.c);
    if (opts.source !== false) f.run = await runSource(f.m.url('test'), { startPosition: await gtidPos(f.c) });
  }, 120_000);
  afterAll(async () => {
    await f.run?.stop();
    if (f.run) cleanup(f.run.dir);
    await f.c?.end();
    await f.m?.destroy();
  });
  return f;
}
