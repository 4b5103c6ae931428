/**
 * The signed webhook (pure): the body is the Alert contract as JSON (what `rowtrail alerts --json` prints), and
 *   X-Rowtrail-Timestamp: unix seconds at sending
 *   X-Rowtrail-Signature: sha256=<hex HMAC-SHA256(secret, `${timestamp}.${body}`)>
 *   X-Rowtrail-Delivery:  the notification's id, the same on every retry (receivers dedupe on it)
 *   X-Rowtrail-Event:     opened | updated | resolved | test
 * A receiver recomputes the HMAC over the raw body bytes, compares in constant time, and rejects a timestamp
 * more than 5 minutes from its clock (a replay); README "Alert channels" shows the check.
 */
import { createHmac } from 'node:crypto';
import type { Alert } from '../model/index.js';
import type { Notice } from './alert-text.js';

export function webhookBody(a: Alert): string {
  return JSON.stringify(a);
}

export function sign(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookHeaders(secret: string, body: string, deliveryId: string, notice: Notice, nowMs: number): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': 'rowtrail',
    'x-rowtrail-event': notice,
    'x-rowtrail-delivery': deliveryId,
    'x-rowtrail-timestamp': String(ts),
    'x-rowtrail-signature': sign(secret, ts, body),
  };
}
