/**
 * MariaDB statement-text attribution under contention: S sessions (default 12) each run N rounds (default 30) of
 * a text every session runs in that round (new each round: the window where the sampler has read it from one
 * session only) and a text of their own; every fifth round a session reconnects (ended threads). The real
 * source (resolution when written), the sampler every 20 ms; counts inferred and wrong attributions at commit
 * and once caught up. A wrong one is a row whose CONNECTION_ID() differs from the session named.
 *
 *   S=12 N=30 npx vitest run --config bench/identity-mariadb-stress/vitest.config.ts
 */
import { it, expect } from 'vitest';
import mysql from 'mysql2/promise';
import { startMariadb } from '../../test/harness/mariadb.js';
import { runSource, cleanup, gtidPos, client } from '../../test/mysql/helpers.js';
import { MysqlSampler } from '../../src/identity/mysql-sampler.js';
import { createResolver, type IdentityResolver, type TxFacts } from '../../src/identity/resolver.js';
import type { ChangeEvent } from '../../src/model/index.js';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
it('stress', async () => {
  const m = await startMariadb({ args: ['--performance-schema=ON', '--performance-schema-consumer-events-statements-current=ON', '--performance-schema-consumer-events-statements-history-long=ON', '--max-connections=200'] });
  const admin = await client(m);
  await admin.query(`CREATE TABLE hot (id BIGINT AUTO_INCREMENT PRIMARY KEY, conn BIGINT); CREATE TABLE u (id BIGINT AUTO_INCREMENT PRIMARY KEY, w VARCHAR(100), conn BIGINT); CREATE USER 'alice'@'%'; GRANT ALL ON test.* TO 'alice'@'%';`);
  const sampler = new MysqlSampler(m.url('test'), { intervalMs: 20 });
  await sampler.start();
  const resolver: any = createResolver({ index: sampler.index });
  const asked: TxFacts[] = [];
  const identity: IdentityResolver = { resolve: (f) => { asked.push(f); return resolver.resolve(f); }, ...(resolver.ready ? { ready: (f: TxFacts) => resolver.ready(f) } : {}) };
  while ((sampler.index as any).statementCoverage && !(((sampler.index as any).statementCoverage()?.fromCommitMs ?? Infinity) <= Date.now())) await sleep(20);
  const run = await runSource(m.url('test'), { startPosition: await gtidPos(admin), identity });
  const S = Number(process.env.S ?? 12), N = Number(process.env.N ?? 30);
  let expected = 0;
  const work: Promise<void>[] = [];
  for (let i = 0; i < S; i++) {
    work.push((async () => {
      await sleep(i * 3);
      let c = await mysql.createConnection({ host: '127.0.0.1', port: m.port, user: 'alice', database: 'test' });
      for (let n = 0; n < N; n++) {
        // a text new in each round, run by every session (the window where one session is all the sampler saw)
        await c.query(`INSERT INTO hot (conn) VALUES (CONNECTION_ID() + 0 * ${n})`);
        await c.query(`INSERT INTO u (w, conn) VALUES ('${i}-${n}', CONNECTION_ID())`);
        if (n % 5 === 4) { await c.end(); c = await mysql.createConnection({ host: '127.0.0.1', port: m.port, user: 'alice', database: 'test' }); }
      }
      await c.end();
    })());
    expected += 2 * N;
  }
  await Promise.all(work);
  const events = await run.waitFor((e) => new Set(e.map((x) => x.tx.position)).size >= expected, 120_000);
  await sleep(200);
  const late = createResolver({ index: sampler.index });
  const r = { atCommit: { inferred: 0, wrong: 0 }, caughtUp: { inferred: 0, wrong: 0 } };
  const seen = new Set<string>();
  for (const e of events as ChangeEvent[]) {
    if (seen.has(e.tx.position)) continue;
    seen.add(e.tx.position);
    const conn = String(e.after!.conn);
    const again = late.resolve(asked.find((x) => x.xid === e.tx.position)!);
    for (const [k, a] of [['atCommit', e.actor], ['caughtUp', again]] as const) {
      if (a.confidence !== 'unknown') { r[k].inferred++; if (a.sessionId !== conn) r[k].wrong++; }
    }
  }
  console.log(`STRESS S=${S} N=${N} tx=${seen.size}`, JSON.stringify(r));
  await run.stop(); cleanup(run.dir); await sampler.stop(); await admin.end(); await m.destroy();
  expect(seen.size).toBe(expected);
}, 300_000);
