/**
 * Two sources in precise mode on one PostgreSQL database (issue 11): setting up the second keeps the first's
 * triggers, and `setup --uninstall --source X` removes only X's; the shared objects go with the last source.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { sharedPg } from '../harness/shared.js';
import { tempDir } from './helpers.js';

describe('precise mode, two sources on one database', () => {
  const pg = sharedPg();
  it("setup keeps the other source's triggers; uninstall removes only its own", async () => {
    const db = await pg.freshDatabase('twosrc');
    await pg.psql(`CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)`, db);
    const dir = tempDir('twosrc');
    const config = join(dir, 'rowtrail.yaml');
    const src = (name: string, table: string) =>
      `  - name: ${name}\n    kind: postgres\n    url: ${pg.url(db)}\n    tables: [${table}]\n    identity: precise\n    slot: ${name}_${db}\n    publication: ${name}\n`;
    writeFileSync(config, `sources:\n${src('one', 'public.a')}${src('two', 'public.b')}store:\n  path: ${join(dir, 'data')}\n`);
    const triggers = async () =>
      (
        await pg.psql(`SELECT string_agg(tgrelid::regclass::text, ',' ORDER BY 1) FROM pg_trigger WHERE tgname = 'rowtrail_session'`, db)
      ).trim();
    const schema = async () => (await pg.psql(`SELECT count(*) FROM pg_namespace WHERE nspname = 'rowtrail'`, db)).trim();

    for (const name of ['one', 'two']) {
      const r = await runCli(['setup', '--config', config, '--source', name]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(await triggers()).toBe('a,b');

    const preview = await runCli(['setup', '--config', config, '--source', 'one', '--uninstall', '--dry-run']);
    expect(preview.stdout).toContain('DROP TRIGGER IF EXISTS rowtrail_session ON "public"."a";');
    expect(preview.stdout).not.toContain('"public"."b"');

    const one = await runCli(['setup', '--config', config, '--source', 'one', '--uninstall']);
    expect(one.code, one.stderr).toBe(0);
    expect(await triggers()).toBe('b');
    expect(await schema()).toBe('1');
    // The DDL trigger still knows which tables the remaining source watches.
    expect((await pg.psql(`SELECT tables FROM rowtrail.precise_config`, db)).trim()).toBe('{public.b}');
    const doctor = await runCli(['doctor', '--config', config, '--source', 'two']);
    expect(doctor.stdout).toMatch(/ok {3}two: precise identity v\d+ on 1 table\(s\)/);

    const two = await runCli(['setup', '--config', config, '--source', 'two', '--uninstall']);
    expect(two.code, two.stderr).toBe(0);
    expect(await triggers()).toBe('');
    expect(await schema()).toBe('0');
  });
});
