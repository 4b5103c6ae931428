/**
 * A wrong password, on a harness PostgreSQL that requires one: the identity sampler backs off instead of
 * logging in every tick, and `undo --apply` says authentication failed (AUTH), not "cannot connect".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { runCli } from '../harness/cli.js';
import { PostgresSampler } from '../../src/identity/index.js';
import { connectSource } from '../../src/undo/index.js';
import { Store } from '../../src/store/index.js';
import { RowtrailError } from '../../src/errors.js';
import { maskLikeWatch } from '../harness/masking.js';

let pg: PgServer;
let proxy: Server;
let proxyPort: number;
/** TCP connections through the proxy: each one is a login attempt. */
let logins = 0;
let dir: string;

beforeAll(async () => {
  pg = await startPostgres({ password: 'right-pw' });
  proxy = createServer((sock) => {
    logins++;
    const up = connect(pg.port, '127.0.0.1');
    sock.on('error', () => up.destroy());
    up.on('error', () => sock.destroy());
    sock.pipe(up).pipe(sock);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyPort = (proxy.address() as { port: number }).port;
  dir = mkdtempSync(join(tmpdir(), 'rowtrail-wrongpw-'));
});

afterAll(async () => {
  proxy?.close();
  await pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const wrongUrl = () => `postgres://postgres:wrong-pw@127.0.0.1:${proxyPort}/postgres`;

describe('wrong password', () => {
  it('the identity sampler backs off: a bounded number of logins, one warning', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write: (c, _e, cb) => {
        lines.push(String(c));
        cb();
      },
    });
    const log = pino({ level: 'info' }, sink);
    const sampler = new PostgresSampler(wrongUrl(), { intervalMs: 20, log });
    logins = 0;
    await sampler.start();
    await new Promise((r) => setTimeout(r, 4000));
    await sampler.stop();
    const attempts = logins;
    // Without backoff a 20 ms interval means ~200 logins in 4 s. Backoff (0.5 s doubling, ±20 %): attempts
    // start at 0, ≥0.4, ≥1.2, ≥2.8 s, so at most 4 fit in 4 s; 6 leaves room for slow scheduling.
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(6);
    const warnings = lines.filter((l) => l.includes('identity sampler: cannot read'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).not.toContain('wrong-pw');
    // Stopped means stopped: no further logins.
    await new Promise((r) => setTimeout(r, 700));
    expect(logins).toBe(attempts);
  });

  it('undo reports an authentication failure as AUTH, with the fix, and applies nothing', async () => {
    await expect(connectSource('postgresql', wrongUrl(), 'app')).rejects.toSatisfy(
      (e: unknown) => e instanceof RowtrailError && e.code === 'AUTH' && /authentication failed/.test(e.message),
    );

    // The CLI end to end: a stored change to revert, and a config whose password is wrong.
    const s = Store.open(join(dir, 'data'), { synchronous: 'NORMAL' });
    maskLikeWatch(s);
    const w = s.writer('app', 'postgresql', 'postgres');
    const tx = w.begin('700');
    w.add(tx, { schema: 'public', table: 't', op: 'insert', key: { id: '1' }, before: null, after: { id: '1' }, changed: ['id'], types: { id: 'integer' } });
    w.commit(tx, { position: '0/AB', commitTime: '2026-11-26T10:00:00Z', actor: { kind: 'unknown', confidence: 'unknown' }, resumePosition: '0/AB' });
    w.flush();
    s.close();
    const config = join(dir, 'rowtrail.yaml');
    writeFileSync(config, `sources:\n  - name: app\n    kind: postgres\n    url: ${wrongUrl()}\nstore:\n  path: ./data\n`);
    const r = await runCli(['undo', '--config', config, '--tx', '700', '--apply', '--yes']);
    expect(r.stderr).toMatch(/^rowtrail: nothing was applied: source 'app': authentication failed for 127\.0\.0\.1:\d+: .*check the user and ROWTRAIL_APP_PASSWORD\n$/);
    expect(r.stderr).not.toContain('wrong-pw');
    expect(r.code).toBe(1);
  });
});
