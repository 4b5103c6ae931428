/**
 * Doctor after a switch from sampling to precise mode reports the mode in force: the rate of the transactions
 * since precise mode was installed, not the sampling history before it; read by the capture role itself.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exited, runCli, spawnCli } from '../harness/cli.js';
import { sharedPg } from '../harness/shared.js';
import { Store } from '../../src/store/index.js';
import { doctorJson, tempDir } from './helpers.js';

describe('doctor after a switch to precise mode', () => {
  const pg = sharedPg();
  it('counts only the transactions since precise mode was installed', { timeout: 120_000 }, async () => {
    const db = await pg.freshDatabase('switch');
    const cap = `cap_${db.slice(-6)}`;
    await pg.psql(`CREATE TABLE t (id int PRIMARY KEY); CREATE ROLE ${cap} LOGIN REPLICATION; GRANT pg_read_all_stats TO ${cap}`, db);
    const dir = tempDir('switch');
    const store = join(dir, 'data');
    const write = (file: string, user: string, identity: string) => {
      const f = join(dir, file);
      writeFileSync(
        f,
        `sources:\n  - name: app\n    kind: postgres\n    url: ${pg.url(db, user)}\n    tables: [public.t]\n    identity: ${identity}\n    slot: sw_${db}\n    publication: sw\nstore:\n  path: ${store}\n`,
      );
      return f;
    };
    const count = () => {
      try {
        const s = Store.open(store, { readonly: true });
        const n = (s.db.prepare('SELECT count(*) AS n FROM transactions').get() as { n: number }).n;
        s.close();
        return n;
      } catch {
        return 0;
      }
    };
    /** Runs watch until `n` transactions are stored. */
    const capture = async (config: string, sql: string[], n: number) => {
      const d = spawnCli(['watch', '--config', config]);
      for (const q of sql) await pg.psql(q, db);
      for (let i = 0; count() < n; i++) {
        if (i > 300) throw new Error(d.output());
        await new Promise((r) => setTimeout(r, 200));
      }
      d.kill('SIGTERM');
      await exited(d);
    };
    const sampling = write('sampling.yaml', 'postgres', 'sampling');
    expect((await runCli(['setup', '--config', sampling])).code).toBe(0);
    await capture(sampling, ['INSERT INTO t VALUES (1)', 'INSERT INTO t VALUES (2)', 'INSERT INTO t VALUES (3)'], 3);

    const precise = write('precise.yaml', 'postgres', 'precise');
    const setup = await runCli(['setup', '--config', precise]);
    expect(setup.code, setup.stderr).toBe(0);
    await capture(precise, ['INSERT INTO t VALUES (4)', 'INSERT INTO t VALUES (5)'], 5);

    // The capture role (no access to schema rowtrail) runs doctor.
    const { byId } = await doctorJson(write('capture.yaml', cap, 'precise'));
    expect(byId.identity_rate[0].message).toMatch(
      /^precise mode: attributed 100\.0% of 2 transactions since precise mode was installed \(/,
    );
    await pg.psql(`SELECT pg_drop_replication_slot('sw_${db}')`);
  });
});
