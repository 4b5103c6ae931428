/**
 * `rowtrail watch` as a process serves the web UI and the API with the token it generated into the store
 * directory (mode 0600), logs where the token is and the UI's address, and never the token itself — not at
 * start, not after logins, wrong tokens or live-feed streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../harness/cli.js';
import { sharedPg } from '../harness/shared.js';
import { startWatch } from '../harness/daemon.js';

const pg = sharedPg();
let dir: string;
let db: string;
let config: string;

beforeAll(async () => {
  db = await pg.freshDatabase('watchui');
  await pg.psql(`CREATE TABLE t (id int PRIMARY KEY, v text)`, db);
  dir = mkdtempSync(join(tmpdir(), 'rowtrail-watchui-'));
  config = join(dir, 'rowtrail.yaml');
  writeFileSync(config, `sources:\n  - name: app\n    kind: postgres\n    url: ${pg.url(db)}\n    slot: s_${db}\n    publication: p_${db}\nstore:\n  path: ./data\n`);
  const setup = await runCli(['setup', '--config', config]);
  expect(setup.code, setup.stderr).toBe(0);
});

afterAll(async () => {
  await pg.psql(`SELECT pg_drop_replication_slot('s_${db}')`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('watch serves the web UI', () => {
  it('with the generated token, which no log line contains', async () => {
    const daemon = startWatch(config, { env: { ROWTRAIL_HTTP_PORT: '0', CI: '1' } });
    try {
      const ui = await daemon.waitLog((l) => l.msg === 'web UI: open it and log in with the token');
      const tokenFile = join(dir, 'data', 'http-token');
      expect(ui.tokenFrom).toBe(tokenFile);
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      const token = readFileSync(tokenFile, 'utf8').trim();
      const base = String(ui.url).replace(/\/$/, '');
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await page.text()).toContain('<script type="module" src="/ui/app.js"></script>');
      expect((await fetch(`${base}/ui/app.js`)).status).toBe(200);
      expect((await fetch(`${base}/ui/../package.json`)).status).not.toBe(200);

      expect((await fetch(`${base}/api/v1/changes`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      const login = await fetch(`${base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
      expect(login.status).toBe(204);
      await pg.psql(`INSERT INTO t VALUES (1, 'a')`, db);
      let changes: any[] = [];
      for (let i = 0; i < 100 && changes.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        changes = ((await (await fetch(`${base}/api/v1/changes`, { headers: { authorization: `Bearer ${token}` } })).json()) as any).changes;
      }
      expect(changes[0]).toMatchObject({ table: 't', op: 'insert', after: { id: '1', v: 'a' } });
      const stream = await fetch(`${base}/api/v1/changes/stream`, { headers: { authorization: `Bearer ${token}` } });
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await stream.body?.cancel();

      daemon.kill('SIGTERM');
      expect(await daemon.waitExit()).toBe(0);
      expect(daemon.output()).not.toContain(token);
    } finally {
      daemon.kill('SIGKILL');
    }
  });
});
