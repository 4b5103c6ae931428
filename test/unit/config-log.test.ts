import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';

import { parseConfig, sourceUrl, passwordEnvName } from '../../src/config/index.js';
import { createLogger, redactUrls } from '../../src/log/index.js';
import { RowtrailError } from '../../src/errors.js';

const base = { sources: [{ name: 'app-pg', kind: 'postgres', url: 'postgres://rowtrail@db:5432/app' }] };

function configError(raw: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(raw, env, 'rowtrail.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(RowtrailError);
    expect((e as RowtrailError).code).toBe('CONFIG');
    return (e as Error).message;
  }
  throw new Error('expected a config error');
}

describe('config', () => {
  it('fills defaults: store path, http on 127.0.0.1:7077', () => {
    const c = parseConfig(base, {});
    expect(c.store.path).toBe('./rowtrail-data');
    expect(c.http).toEqual({ host: '127.0.0.1', port: 7077 });
    expect(c.actors).toEqual([]);
  });

  it('explains every problem on one line with its path', () => {
    const msg = configError({ sources: [{ name: 'App PG', kind: 'postgres', url: 'x', extra: 1 }], http: { port: 'lots' } });
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toMatch(/^rowtrail\.yaml: /);
    expect(msg).toMatch(/sources\[0\]\.name: must be lower case/);
    expect(msg).toMatch(/extra/);
    expect(msg).toMatch(/http\.port/);
  });

  it('rejects duplicate source names and a url that does not match the kind', () => {
    expect(configError({ sources: [base.sources[0], base.sources[0]] })).toMatch(/two sources are named 'app-pg'/);
    expect(configError({ sources: [{ name: 'a', kind: 'mysql', url: 'postgres://x@h/db' }] })).toMatch(/scheme 'postgres:' does not match kind mysql/);
    expect(configError([])).toMatch(/expected a mapping/);
  });

  it('applies env overrides, and the password from ROWTRAIL_<NAME>_PASSWORD', () => {
    const env = { ROWTRAIL_STORE_PATH: '/var/lib/rowtrail', ROWTRAIL_HTTP_PORT: '9000', ROWTRAIL_APP_PG_PASSWORD: 'p@ss:w/rd' };
    const c = parseConfig(base, env);
    expect(c.store.path).toBe('/var/lib/rowtrail');
    expect(c.http.port).toBe(9000);
    expect(passwordEnvName('app-pg')).toBe('ROWTRAIL_APP_PG_PASSWORD');
    const u = new URL(sourceUrl(c.sources[0], env));
    expect(decodeURIComponent(u.password)).toBe('p@ss:w/rd');
    expect(u.username).toBe('rowtrail');
  });
});

describe('logging', () => {
  it('cuts passwords out of URLs', () => {
    expect(redactUrls('connect postgres://u:secret@h:5432/db failed')).toBe('connect postgres://u:***@h:5432/db failed');
    expect(redactUrls('mysql://repl:p%40ss@db/x and postgres://nopass@h/db')).toBe('mysql://repl:***@db/x and postgres://nopass@h/db');
  });

  it('never writes a secret: URL passwords, tokens and keys are redacted in JSON logs', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
    const log = createLogger({ pretty: false, stream: sink });
    log.info({ url: 'postgres://svc:hunter2@db/app', token: 'tok-123456', alerts: { webhookUrl: 'https://hooks/x', secret: 'shh' } }, 'connecting to postgres://svc:hunter2@db/app');
    log.error({ err: new Error('auth failed for mysql://root:toor@h/x') }, 'failed');
    await new Promise((r) => setTimeout(r, 10));
    const out = lines.join('');
    for (const secret of ['hunter2', 'tok-123456', 'https://hooks/x', 'shh', 'toor']) expect(out).not.toContain(secret);
    expect(out).toContain('postgres://svc:***@db/app');
  });
});
