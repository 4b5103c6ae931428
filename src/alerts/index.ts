/**
 * Alert delivery: Slack, PagerDuty and signed webhooks from the store's outbox. Pure cores (config resolution,
 * routing, the three formats, the meaning of an answer) and two I/O edges: the delivery worker (daemon) and
 * `sendTest` (`rowtrail alerts test`).
 */
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { AlertRoute, Store } from '../store/index.js';
import { resolveAlerts, type AlertsSettings, type Channel, type ResolveOptions } from './alerts-config.js';
import { routeAlert } from './routing.js';
import { DeliveryWorker, type WorkerOptions } from './delivery-worker.js';
import { buildRequest, sendRequest, type Outcome } from './channel-send.js';
import { testAlert } from './alert-text.js';
import { randomUUID } from 'node:crypto';

export * from './alerts-config.js';
export { routeAlert, matches } from './routing.js';
export { DeliveryWorker, backoffMs, GROUP_AT, GROUP_MAX, MIN_INTERVAL_MS, type ChannelStats, type WorkerOptions } from './delivery-worker.js';
export { buildGroupRequest, buildRequest, classify, retryAfterMs, sendRequest, type HttpRequest, type Outcome } from './channel-send.js';
export { slackGroupMessage, slackMessage, slackResolvedReply, GROUP_SHOWN, escapeMrkdwn, SLACK_LIMITS, type SlackMessage } from './slack-format.js';
export { pagerdutyEvent, dedupKey, PD_LIMITS } from './pagerduty-format.js';
export { webhookBody, webhookHeaders, sign } from './webhook-format.js';
export { testAlert, clipText, type Notice } from './alert-text.js';

export interface Delivery {
  settings: AlertsSettings;
  route: AlertRoute;
  worker: DeliveryWorker;
}

/** The daemon's alert delivery, or null when no channel is configured. Throws RowtrailError(CONFIG). */
export function createDelivery(cfg: Config, store: Store, log: Logger, opts: ResolveOptions & WorkerOptions = {}): Delivery | null {
  const settings = resolveAlerts(cfg.alerts, opts);
  if (settings.channels.length === 0) return null;
  return {
    settings,
    route: (a) => routeAlert(settings.channels, a),
    worker: new DeliveryWorker(store, settings, log, opts),
  };
}

/** Sends one test notification to a channel, once (no retries): what the receiver said. */
export async function sendTest(ch: Channel, timeoutMs: number): Promise<Outcome> {
  const alert = testAlert(ch.name);
  const req = buildRequest(ch, 'test', alert, `test-${randomUUID()}`, null, Date.now());
  if ('skip' in req) return { kind: 'skipped', reason: req.skip };
  return sendRequest(ch, req, timeoutMs, new AbortController().signal);
}
