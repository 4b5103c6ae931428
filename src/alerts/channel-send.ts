/**
 * One notification to one channel: the HTTP request it takes (pure), what the answer means (pure), and the send
 * (fetch, with a timeout). Answers, per the services' documentation:
 * - 2xx: delivered. Slack's Web API answers 200 with `{ok:false, error}` on failure: `ratelimited` and the
 *   server-side errors are retried, the others (invalid_auth, channel_not_found, …) are permanent.
 * - 429: retried after `Retry-After` (seconds or an HTTP date); 408 and 5xx: retried with backoff.
 * - any other 4xx (a bad routing key is PagerDuty's 400, a revoked Slack webhook 403/404/410): permanent, the
 *   notification is marked failed and not retried.
 * - no answer (refused, reset, DNS, the timeout): retried with backoff.
 * Secrets (webhook URLs, routing keys, tokens) never enter an error text: errors name the channel and status.
 */
import type { Alert } from '../model/index.js';
import type { Notice } from './alert-text.js';
import type { Channel } from './alerts-config.js';
import { slackGroupMessage, slackMessage, slackResolvedReply } from './slack-format.js';
import { pagerdutyEvent } from './pagerduty-format.js';
import { webhookBody, webhookHeaders } from './webhook-format.js';

export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** What a 2xx answer's body gives back for threading (Slack's `ts`). */
  wantsRef?: boolean;
}

export type Outcome =
  | { kind: 'sent'; status: number; ref?: string | null }
  /** Nothing to send for this channel (an incoming webhook cannot edit a message: updates are not posted). */
  | { kind: 'skipped'; reason: string }
  | { kind: 'retry'; status: number | null; error: string; afterMs?: number }
  | { kind: 'failed'; status: number | null; error: string };

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'rowtrail' };

/** The request for a notification, or a skip. `ref` is what the channel returned for the alert's first message. */
export function buildRequest(
  ch: Channel,
  notice: Notice,
  alert: Alert,
  deliveryId: string,
  ref: string | null,
  nowMs: number,
): HttpRequest | { skip: string } {
  switch (ch.kind) {
    case 'slack': {
      if (ch.bot) {
        const api = (method: string, payload: Record<string, unknown>): HttpRequest => ({
          url: `${ch.bot!.apiUrl}/${method}`,
          headers: { ...JSON_HEADERS, authorization: `Bearer ${ch.bot!.token}` },
          body: JSON.stringify({ channel: ch.bot!.channel, ...payload }),
          wantsRef: method === 'chat.postMessage' && !payload.thread_ts,
        });
        if (notice === 'resolved' && ref) return api('chat.postMessage', { thread_ts: ref, ...slackResolvedReply(alert) });
        if (notice === 'updated' && ref) return api('chat.update', { ts: ref, ...slackMessage(alert, notice) });
        return api('chat.postMessage', { ...slackMessage(alert, notice), unfurl_links: false });
      }
      if (notice === 'updated') return { skip: 'an incoming webhook cannot edit the first message; updates go to bot-token channels only' };
      const msg = notice === 'resolved' ? slackResolvedReply(alert) : slackMessage(alert, notice);
      return { url: ch.webhookUrl!, headers: { ...JSON_HEADERS }, body: JSON.stringify(msg) };
    }
    case 'pagerduty':
      return { url: ch.url, headers: { ...JSON_HEADERS }, body: JSON.stringify(pagerdutyEvent(alert, notice, ch.routingKey)) };
    case 'webhook': {
      const body = webhookBody(alert);
      return { url: ch.url, headers: webhookHeaders(ch.secret, body, deliveryId, notice, nowMs), body };
    }
  }
}

/** One Slack message for several new alerts (a storm). */
export function buildGroupRequest(ch: Channel, alerts: Alert[]): HttpRequest {
  if (ch.kind !== 'slack') throw new Error('only Slack channels group alerts');
  const msg = slackGroupMessage(alerts);
  if (ch.bot) {
    return {
      url: `${ch.bot.apiUrl}/chat.postMessage`,
      headers: { ...JSON_HEADERS, authorization: `Bearer ${ch.bot.token}` },
      body: JSON.stringify({ channel: ch.bot.channel, ...msg, unfurl_links: false }),
    };
  }
  return { url: ch.webhookUrl!, headers: { ...JSON_HEADERS }, body: JSON.stringify(msg) };
}

/** `Retry-After` as milliseconds (seconds or an HTTP date), or undefined. */
export function retryAfterMs(v: string | null, nowMs: number): number | undefined {
  if (!v) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}

const SLACK_TRANSIENT = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org']);

/** What an HTTP answer means for this channel. */
export function classify(ch: Channel, req: HttpRequest, status: number, retryAfter: string | null, body: string, nowMs: number): Outcome {
  const short = body.replace(/\s+/g, ' ').trim().slice(0, 200);
  if (status === 429) return { kind: 'retry', status, error: `${ch.name}: 429 rate limited`, afterMs: retryAfterMs(retryAfter, nowMs) };
  if (status === 408 || status >= 500) return { kind: 'retry', status, error: `${ch.name}: HTTP ${status}${short ? ` ${short}` : ''}` };
  if (status >= 400) return { kind: 'failed', status, error: `${ch.name}: HTTP ${status}${short ? ` ${short}` : ''} (not retried)` };
  if (status < 200 || status >= 300) return { kind: 'retry', status, error: `${ch.name}: unexpected HTTP ${status}` };
  if (ch.kind === 'slack' && ch.bot) {
    let r: { ok?: boolean; error?: string; ts?: string };
    try {
      r = JSON.parse(body);
    } catch {
      return { kind: 'retry', status, error: `${ch.name}: Slack answered ${status} with a body that is not JSON` };
    }
    if (r.ok !== true) {
      const err = String(r.error ?? 'unknown_error');
      if (SLACK_TRANSIENT.has(err)) return { kind: 'retry', status, error: `${ch.name}: Slack ${err}`, afterMs: retryAfterMs(retryAfter, nowMs) };
      return { kind: 'failed', status, error: `${ch.name}: Slack ${err} (not retried)` };
    }
    return { kind: 'sent', status, ref: req.wantsRef ? (r.ts ?? null) : null };
  }
  return { kind: 'sent', status };
}

/** Sends one request and classifies the answer. Never throws; aborted (stop) reads as a retry. */
export async function sendRequest(ch: Channel, req: HttpRequest, timeoutMs: number, signal: AbortSignal, now = Date.now): Promise<Outcome> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.any([signal, timeout]), redirect: 'error' });
    let text = '';
    try {
      text = await res.text();
    } catch {
      // a body cut short: the status decides
    }
    return classify(ch, req, res.status, res.headers.get('retry-after'), text, now());
  } catch (e: any) {
    if (timeout.aborted && !signal.aborted) return { kind: 'retry', status: null, error: `${ch.name}: no answer within ${timeoutMs} ms` };
    if (signal.aborted) return { kind: 'retry', status: null, error: `${ch.name}: stopped` };
    // undici hides the reason in cause (ECONNREFUSED, ENOTFOUND, …); never the URL
    const code = e?.cause?.code ?? e?.code ?? e?.cause?.message ?? e?.message ?? 'error';
    return { kind: 'retry', status: null, error: `${ch.name}: request failed (${code})` };
  }
}
