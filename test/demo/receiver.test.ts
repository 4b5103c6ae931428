/**
 * The demo's webhook receiver checks rowtrail's signature the way README "Alert channels" tells receivers to:
 * a genuine delivery (signed by the alerts' own webhook headers) is kept; a wrong key, a stale timestamp or a
 * changed body gets 401 and is not kept.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { testAlert } from '../../src/alerts/alert-text.js';
import { webhookBody, webhookHeaders } from '../../src/alerts/webhook-format.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/demo/receiver.js';

const SECRET = 'a-secret-of-at-least-16-chars';
let rx: WebhookReceiver;
afterEach(() => rx?.close());

async function post(body: string, headers: Record<string, string>): Promise<number> {
  return (await fetch(rx.url, { method: 'POST', body, headers })).status;
}

describe('demo webhook receiver', () => {
  it('keeps a signed delivery and refuses forged, stale and altered ones', async () => {
    rx = await startWebhookReceiver(SECRET);
    const alert = testAlert('demo');
    const body = webhookBody(alert);
    const now = Date.now();
    expect(await post(body, webhookHeaders('another-secret-0123456', body, 'd1', 'opened', now))).toBe(401);
    expect(await post(body, webhookHeaders(SECRET, body, 'd2', 'opened', now - 10 * 60_000))).toBe(401);
    expect(await post(body.replace('"info"', '"critical"'), webhookHeaders(SECRET, body, 'd3', 'opened', now))).toBe(401);
    expect(rx.received).toEqual([]);
    expect(rx.refused).toBe(3);
    const waiting = rx.next((r) => r.alert.id === alert.id, 5_000, new AbortController().signal);
    expect(await post(body, webhookHeaders(SECRET, body, 'd4', 'opened', now))).toBe(204);
    expect(await waiting).toEqual({ alert, event: 'opened' });
  });
});
