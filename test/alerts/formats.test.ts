/**
 * Payloads: Slack blocks within Block Kit's limits whatever the alert holds (fast-check, checked by a validator
 * written apart from the formatter), PagerDuty's field limits, the webhook signature against an independent
 * HMAC (WebCrypto), and the config: secrets from env and files, one-line errors that never print a secret.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, parseConfig } from '../../src/config/index.js';
import { classify, pagerdutyEvent, slackGroupMessage, resolveAlerts, retryAfterMs, slackMessage, webhookHeaders, type Channel } from '../../src/alerts/index.js';
import type { Alert } from '../../src/model/index.js';
import { alert, envRef, SECRET, verifySignature } from './fixtures.js';
import { blockProblems } from './receivers.js';

const text = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'grapheme', maxLength: 4000 }),
  fc.string({ unit: fc.constantFrom('&', '<', '>', '`', '*', '😀', 'a', '\n', ' '), minLength: 0, maxLength: 9000 }),
);

const hugeAlert: fc.Arbitrary<Alert> = fc
  .record({
    title: text,
    summary: text,
    table: fc.option(text, { nil: null }),
    source: text,
    detector: text,
    id: fc.string({ minLength: 1, maxLength: 400 }),
    extra: fc.dictionary(fc.string({ maxLength: 30 }), fc.oneof(text, fc.array(text, { maxLength: 20 }), fc.double()), { maxKeys: 60 }),
    txIds: fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 3000 }),
    undo: fc.option(fc.oneof(fc.constant('rowtrail undo --tx 771 --source app-pg'), text), { nil: null }),
    agent: fc.option(text, { nil: null }),
    severity: fc.constantFrom('info', 'warning', 'critical') as fc.Arbitrary<Alert['severity']>,
    observed: fc.oneof(fc.nat(), fc.double()),
  })
  .map((x) => ({
    ...alert('x'),
    ...x,
    actor: { agent: x.agent, user: 'svc', kind: 'ai-agent', confidence: 'exact' } as Alert['actor'],
    evidence: { ...x.extra, observed: x.observed, expected: 10 },
  }));

describe('Slack Block Kit', () => {
  it('stays within the documented limits for any alert, and never throws', () => {
    fc.assert(
      fc.property(hugeAlert, fc.constantFrom('opened', 'updated', 'resolved', 'test') as fc.Arbitrary<'opened'>, (a, n) => {
        const m = slackMessage(a, n);
        expect(blockProblems(m.blocks)).toEqual([]);
        expect(m.text.length).toBeGreaterThan(0);
        expect(m.text.length).toBeLessThanOrEqual(3000);
        // valid JSON without lone surrogates (Slack rejects those)
        const json = JSON.stringify(m);
        expect(json).not.toMatch(/\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])/i);
        // the undo command appears whole (escaped) or not at all
        if (a.undo) {
          const esc = a.undo.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
          const undoBlock = JSON.stringify(m.blocks.find((b: any) => String(b.text?.text ?? '').startsWith('*Undo*')));
          if (undoBlock.includes('```')) expect(undoBlock).toContain(JSON.stringify(esc).slice(1, -1));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('fits a really huge alert (1 MB summary, 5,000 evidence keys, 10,000 transactions) and keeps the undo command whole', () => {
    const big = 'é&<>😀'.repeat(200_000);
    const evidence = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, big.slice(0, 500)]));
    const a = alert('huge', { title: big, summary: big, evidence: { observed: 1, expected: 2, ...evidence }, txIds: Array.from({ length: 10_000 }, (_, i) => String(i)) });
    const m = slackMessage(a, 'opened');
    expect(blockProblems(m.blocks)).toEqual([]);
    // cut to 150, one less where the cut would split the emoji's surrogate pair
    expect((m.blocks[0] as any).text.text.length).toBeGreaterThanOrEqual(149);
    expect((m.blocks[0] as any).text.text.endsWith('…')).toBe(true);
    expect(JSON.stringify(m.blocks)).toContain(`\`\`\`${a.undo}\`\`\``);
    expect(m.text.endsWith(`Undo: ${a.undo}`)).toBe(true);
    const e: any = pagerdutyEvent(a, 'opened', 'k');
    expect(e.payload.summary).toHaveLength(1024);
    expect(Buffer.byteLength(JSON.stringify(e))).toBeLessThan(512 * 1024);
    expect(e.payload.custom_details.undo).toBe(a.undo);
  });

  it('a grouped message stays within the limits too', () => {
    fc.assert(
      fc.property(fc.array(hugeAlert, { minLength: 1, maxLength: 60 }), (as) => {
        const m = slackGroupMessage(as);
        expect(blockProblems(m.blocks)).toEqual([]);
        expect(m.text.length).toBeLessThanOrEqual(3000);
      }),
      { numRuns: 40 },
    );
  });

  it('escapes mrkdwn so that values cannot mention or link', () => {
    const m = slackMessage(alert('a', { title: 't', summary: '<!channel> <https://evil|click> & co' }), 'opened');
    expect(JSON.stringify(m.blocks)).toContain('&lt;!channel&gt; &lt;https://evil|click&gt; &amp; co');
  });
});

describe('PagerDuty event', () => {
  it('keeps summary ≤ 1024, dedup_key ≤ 255 and the event under 512 KB for any alert', () => {
    fc.assert(
      fc.property(hugeAlert, (a) => {
        const e: any = pagerdutyEvent(a, 'opened', 'k');
        expect(e.payload.summary.length).toBeGreaterThan(0);
        expect(e.payload.summary.length).toBeLessThanOrEqual(1024);
        expect(e.dedup_key.length).toBeLessThanOrEqual(255);
        expect(['critical', 'error', 'warning', 'info']).toContain(e.payload.severity);
        expect(Buffer.byteLength(JSON.stringify(e))).toBeLessThan(512 * 1024);
        const r: any = pagerdutyEvent(a, 'resolved', 'k');
        expect(r).toEqual({ routing_key: 'k', event_action: 'resolve', dedup_key: e.dedup_key });
      }),
      { numRuns: 100 },
    );
  });

  it('maps severities', () => {
    for (const s of ['info', 'warning', 'critical'] as const) expect((pagerdutyEvent(alert('a', { severity: s }), 'opened', 'k') as any).payload.severity).toBe(s);
  });
});

describe('webhook signature', () => {
  it('verifies with an independent HMAC for any body; a changed byte or timestamp fails', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 2000 }), fc.string({ minLength: 16, maxLength: 64 }), async (body, secret) => {
        const h = webhookHeaders(secret, body, 'd-1', 'opened', Date.now());
        expect(await verifySignature(secret, h, body)).toBe(true);
        expect(await verifySignature(secret, h, `${body} `)).toBe(false);
        expect(await verifySignature(secret, { ...h, 'x-rowtrail-timestamp': String(Number(h['x-rowtrail-timestamp']) - 1) }, body)).toBe(false);
      }),
      { numRuns: 100 },
    );
    expect(SECRET.length).toBeGreaterThanOrEqual(16);
  });
});

describe('answers', () => {
  const hook: Channel = { name: 'w', kind: 'webhook', url: 'http://x', secret: SECRET, routing: { minSeverity: 'info' } };
  const req = { url: 'http://x', headers: {}, body: '' };
  it('2xx sent; 429 retried after Retry-After (seconds or date); 408/5xx retried; other 4xx permanent', () => {
    const now = Date.parse('2026-11-29T00:00:00Z');
    expect(classify(hook, req, 204, null, '', now).kind).toBe('sent');
    expect(classify(hook, req, 429, '7', '', now)).toMatchObject({ kind: 'retry', afterMs: 7000 });
    expect(classify(hook, req, 429, 'Sun, 29 Nov 2026 00:00:30 GMT', '', now)).toMatchObject({ kind: 'retry', afterMs: 30_000 });
    expect(classify(hook, req, 408, null, '', now).kind).toBe('retry');
    expect(classify(hook, req, 503, null, 'busy', now).kind).toBe('retry');
    for (const s of [400, 401, 403, 404, 410, 413, 422]) expect(classify(hook, req, s, null, '', now).kind).toBe('failed');
    expect(retryAfterMs('garbage', now)).toBeUndefined();
    // Slack's Web API: 200 with ok:false; garbage where JSON is expected is retried, not taken as delivered
    const bot: Channel = { name: 's', kind: 'slack', webhookUrl: null, bot: { token: 't', channel: 'C', apiUrl: 'http://x' }, routing: { minSeverity: 'info' } };
    expect(classify(bot, { ...req, wantsRef: true }, 200, null, '{"ok":true,"ts":"1.2"}', now)).toEqual({ kind: 'sent', status: 200, ref: '1.2' });
    expect(classify(bot, req, 200, null, '{"ok":false,"error":"ratelimited"}', now).kind).toBe('retry');
    expect(classify(bot, req, 200, null, '{"ok":false,"error":"channel_not_found"}', now).kind).toBe('failed');
    expect(classify(bot, req, 200, null, '<html>proxy error</html>', now).kind).toBe('retry');
  });
});

describe('config', () => {
  const base = { sources: [{ name: 'a', kind: 'postgres', url: 'postgres://u@h/db' }] };
  const resolve = (alerts: unknown, env: NodeJS.ProcessEnv = {}, baseDir?: string) =>
    resolveAlerts(parseConfig({ ...base, alerts }, {}).alerts, { env, baseDir });

  it('takes the DESIGN.md example, lists of a kind, and secrets from env variables and files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rowtrail-alerts-cfg-'));
    try {
      writeFileSync(join(dir, 'pd.key'), 'KEYFROMFILE\n');
      const s = resolve(
        {
          slack: [
            { name: 'ops', webhookUrl: envRef('SLACK_URL'), minSeverity: 'critical' },
            { name: 'data', botToken: envRef('SLACK_TOKEN'), channel: 'C1', tables: ['public.*'] },
          ],
          pagerduty: { routingKeyFile: 'pd.key' },
          webhook: { url: 'https://example.internal/rowtrail', secret: envRef('HOOK_SECRET') },
        },
        { SLACK_URL: 'https://hooks.slack.com/services/T/B/X', SLACK_TOKEN: 'xoxb-1', HOOK_SECRET: 'a'.repeat(32) },
        dir,
      );
      expect(s.channels.map((c) => `${c.name}:${c.kind}:${c.routing.minSeverity}`)).toEqual([
        'ops:slack:critical',
        'data:slack:warning',
        'pagerduty:pagerduty:critical',
        'webhook:webhook:info',
      ]);
      expect(s.channels[2]).toMatchObject({ routingKey: 'KEYFROMFILE', url: 'https://events.pagerduty.com/v2/enqueue' });
      expect(s.channels[1]).toMatchObject({ webhookUrl: null, bot: { token: 'xoxb-1', channel: 'C1', apiUrl: 'https://slack.com/api' } });
      expect(s.timeoutMs).toBe(10_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad input: one line naming the channel and key, never the secret', () => {
    const err = (alerts: unknown, env: NodeJS.ProcessEnv = {}) => {
      try {
        resolve(alerts, env);
      } catch (e: any) {
        expect(e.code).toBe('CONFIG');
        expect(e.message).not.toContain('\n');
        return e.message as string;
      }
      throw new Error('no error');
    };
    expect(err({ slack: { webhookUrl: 'hooks.slack.com/services/SECRETPART' } })).toBe('alerts.slack (slack): webhookUrl is not a URL (expected https://…)');
    expect(err({ webhook: { url: 'https://x.io/h', secret: envRef('NOPE') } })).toBe('alerts.webhook (webhook): secret: environment variable NOPE is not set');
    expect(err({ webhook: { url: 'https://x.io/h', secret: 'short' } })).toContain('shorter than 16');
    expect(err({ pagerduty: { routingKeyFile: '/nonexistent/pd.key' } })).toBe('alerts.pagerduty (pagerduty): routingKeyFile /nonexistent/pd.key: file not found');
    expect(err({ slack: [{ webhookUrl: 'https://a.io/1' }, { name: 'slack', webhookUrl: 'https://a.io/2' }] })).toContain("two channels are named 'slack'");
    expect(err({ webhook: { url: 'ftp://x.io/h', secret: SECRET } })).toContain("scheme 'ftp:'");
    expect(() => parseConfig({ ...base, alerts: { webhook: { url: 'https://x.io' } } }, {})).toThrow(/webhook needs secret/);
    expect(() => parseConfig({ ...base, alerts: { slack: { channel: 'C1' } } }, {})).toThrow(/slack needs webhookUrl/);
    expect(() => configSchema.parse({ ...base, alerts: { slack: { webhookUrl: 'https://a.io', extra: 1 } } })).toThrow();
  });
});
