/** `rowtrail alerts test`: one test notification per channel, what each receiver said, exit 1 when one failed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { cli } from '../undo/run-cli.js';
import { runCli } from '../harness/cli.js';
import { PD_KEY, Receiver } from './receivers.js';
import { envRef, SECRET, verifySignature } from './fixtures.js';

/** A port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('rowtrail alerts test', () => {
  let dir: string;
  let hook: Receiver;
  let slack: Receiver;
  let pd: Receiver;
  const write = (alerts: unknown) => {
    const f = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, JSON.stringify({ sources: [{ name: 'app', kind: 'postgres', url: 'postgres://u@127.0.0.1:1/app' }], store: { path: join(dir, 's') }, alerts }));
    return f;
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rowtrail-alerts-cli-'));
    [hook, slack, pd] = await Promise.all([Receiver.start('webhook'), Receiver.start('slack-webhook'), Receiver.start('pagerduty')]);
  });
  afterAll(async () => {
    await Promise.all([hook, slack, pd].map((r) => r?.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends one test notification to each channel, or to the one named', async () => {
    const cfg = write({
      slack: { webhookUrl: `${slack.url}/services/T/B/x` },
      pagerduty: { routingKey: PD_KEY, url: `${pd.url}/v2/enqueue` },
      webhook: { name: 'audit', url: `${hook.url}/in`, secret: SECRET },
    });
    const all = await cli('alerts', 'test', '--config', cfg);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.trim().split('\n')).toEqual([
      'slack (slack): delivered (HTTP 200)',
      'pagerduty (pagerduty): delivered (HTTP 202)',
      'audit (webhook): delivered (HTTP 200)',
    ]);
    expect(slack.got[0]!.json.text).toContain('rowtrail test notification for channel slack');
    expect(pd.got[0]!.json.event_action).toBe('trigger');
    expect(hook.got[0]!.headers['x-rowtrail-event']).toBe('test');
    expect(await verifySignature(SECRET, hook.got[0]!.headers, hook.got[0]!.body)).toBe(true);
    const one = await cli('alerts', 'test', '--channel', 'audit', '--config', cfg, '--json');
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ channel: 'audit', kind: 'webhook', ok: true, status: 200 });
    expect(hook.got).toHaveLength(2);
    expect(slack.got).toHaveLength(1);
  });

  it('a wrong routing key, an unreachable host and an unknown channel: one line each, exit non-zero', async () => {
    const cfg = write({
      pagerduty: { routingKey: 'not-the-key', url: `${pd.url}/v2/enqueue` },
      webhook: { url: `http://127.0.0.1:${await closedPort()}/x`, secret: SECRET },
    });
    const r = await cli('alerts', 'test', '--config', cfg);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      'pagerduty (pagerduty): FAILED: pagerduty: HTTP 400 {"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]} (not retried)',
      'webhook (webhook): FAILED: webhook: request failed (ECONNREFUSED)',
    ]);
    expect(r.stdout + r.stderr).not.toContain('not-the-key');
    const u = await cli('alerts', 'test', '--channel', 'nope', '--config', cfg);
    expect(u.code).toBe(2);
    expect(u.stderr.trim()).toBe("rowtrail: no alert channel named 'nope' (configured: pagerduty, webhook)");
    const bad = await cli('alerts', 'test', '--config', write({ webhook: { url: 'not a url', secret: SECRET } }));
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('rowtrail: alerts.webhook (webhook): url is not a URL (expected https://…)');
  });

  it('watch refuses a missing secret at start: one line, exit 2, before any source connects', async () => {
    const cfg = write({ webhook: { url: `${hook.url}/in`, secret: envRef('ROWTRAIL_TEST_NO_SUCH_SECRET') } });
    const r = await runCli(['watch', '--config', cfg], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('rowtrail: alerts.webhook (webhook): secret: environment variable ROWTRAIL_TEST_NO_SUCH_SECRET is not set');
  });
});
