/**
 * The `alerts:` section made concrete: every configured channel with its secrets resolved (`${ENV}` inside a
 * value, or a `…File` key), its URL checked, and its routing. Runs once at start (daemon, `alerts test`), so a
 * malformed URL or a missing secret stops the command with one line that names the channel and the key, never
 * the secret itself.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { RowtrailError } from '../errors.js';
import type { Severity } from '../model/index.js';
import { parseDuration } from '../store/index.js';

export type ChannelKind = 'slack' | 'pagerduty' | 'webhook';

export interface Routing {
  minSeverity: Severity;
  detectors?: string[];
  sources?: string[];
  tables?: string[];
}

interface Base {
  name: string;
  kind: ChannelKind;
  routing: Routing;
}

export interface SlackChannel extends Base {
  kind: 'slack';
  /** Incoming webhook (one message per notification) … */
  webhookUrl: string | null;
  /** … or the Web API with a bot token: updates and resolves thread under the first message. */
  bot: { token: string; channel: string; apiUrl: string } | null;
}

export interface PagerdutyChannel extends Base {
  kind: 'pagerduty';
  routingKey: string;
  url: string;
}

export interface WebhookChannel extends Base {
  kind: 'webhook';
  url: string;
  secret: string;
}

export type Channel = SlackChannel | PagerdutyChannel | WebhookChannel;

export interface AlertsSettings {
  channels: Channel[];
  /** Per-request timeout (ms). */
  timeoutMs: number;
  /** A notification undelivered after this long is marked failed (ms). */
  giveUpMs: number;
}

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
export const SLACK_API_URL = 'https://slack.com/api';

const DEFAULT_MIN: Record<ChannelKind, Severity> = { slack: 'warning', pagerduty: 'critical', webhook: 'info' };

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Folder that relative `…File` paths are resolved against (the config file's). Default: the working directory. */
  baseDir?: string;
  /** Reads a secret file (tests). */
  readFile?: (path: string) => string;
}

/** Every channel of the config, secrets resolved. Throws RowtrailError(CONFIG) with one line. */
export function resolveAlerts(alerts: Config['alerts'], opts: ResolveOptions = {}): AlertsSettings {
  const env = opts.env ?? process.env;
  const read = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const channels: Channel[] = [];
  const names = new Set<string>();
  const kinds: ChannelKind[] = ['slack', 'pagerduty', 'webhook'];
  for (const kind of kinds) {
    const raw = alerts[kind];
    if (!raw) continue;
    const list = (Array.isArray(raw) ? raw : [raw]) as Record<string, any>[];
    list.forEach((c, i) => {
      const name = c.name ?? (i === 0 ? kind : `${kind}-${i + 1}`);
      if (names.has(name)) throw new RowtrailError('CONFIG', `alerts: two channels are named '${name}'; give each a unique name`);
      names.add(name);
      const where = `alerts.${kind}${list.length > 1 || Array.isArray(raw) ? `[${i}]` : ''} (${name})`;
      const secret = (key: string): string | null => {
        const fileKey = `${key}File`;
        if (c[key] !== undefined && c[fileKey] !== undefined) throw new RowtrailError('CONFIG', `${where}: give ${key} or ${fileKey}, not both`);
        if (c[fileKey] !== undefined) {
          const path = isAbsolute(c[fileKey]) ? c[fileKey] : resolve(opts.baseDir ?? '.', c[fileKey]);
          let text: string;
          try {
            text = read(path);
          } catch (e: any) {
            throw new RowtrailError('CONFIG', `${where}: ${fileKey} ${path}: ${e?.code === 'ENOENT' ? 'file not found' : e?.message}`, e);
          }
          const v = text.trim();
          if (!v) throw new RowtrailError('CONFIG', `${where}: ${fileKey} ${path} is empty`);
          return v;
        }
        if (c[key] === undefined) return null;
        return interpolate(String(c[key]), env, `${where}: ${key}`);
      };
      const routing: Routing = {
        minSeverity: c.minSeverity ?? DEFAULT_MIN[kind],
        detectors: c.detectors,
        sources: c.sources,
        tables: c.tables,
      };
      if (kind === 'slack') {
        const webhookUrl = secret('webhookUrl');
        const token = secret('botToken');
        if (webhookUrl) checkUrl(webhookUrl, `${where}: webhookUrl`);
        const apiUrl = c.apiUrl ? interpolate(c.apiUrl, env, `${where}: apiUrl`) : SLACK_API_URL;
        if (token) {
          if (!c.channel) throw new RowtrailError('CONFIG', `${where}: botToken needs channel (the channel id, e.g. C0123456789)`);
          checkUrl(apiUrl, `${where}: apiUrl`);
        }
        if (!webhookUrl && !token) throw new RowtrailError('CONFIG', `${where}: needs webhookUrl or botToken with channel`);
        channels.push({
          name,
          kind,
          routing,
          webhookUrl: token ? null : webhookUrl,
          bot: token ? { token, channel: c.channel, apiUrl: apiUrl.replace(/\/+$/, '') } : null,
        });
      } else if (kind === 'pagerduty') {
        const routingKey = secret('routingKey');
        if (!routingKey) throw new RowtrailError('CONFIG', `${where}: needs routingKey (or routingKeyFile)`);
        const url = c.url ? interpolate(c.url, env, `${where}: url`) : PAGERDUTY_EVENTS_URL;
        checkUrl(url, `${where}: url`);
        channels.push({ name, kind, routing, routingKey, url });
      } else {
        const url = interpolate(c.url, env, `${where}: url`);
        checkUrl(url, `${where}: url`);
        const key = secret('secret');
        if (!key) throw new RowtrailError('CONFIG', `${where}: needs secret (or secretFile) so receivers can verify the signature`);
        if (key.length < 16) throw new RowtrailError('CONFIG', `${where}: secret is shorter than 16 characters; use a long random key`);
        channels.push({ name, kind, routing, url, secret: key });
      }
    });
  }
  return {
    channels,
    timeoutMs: Math.round((alerts.timeoutSeconds ?? 10) * 1000),
    giveUpMs: parseDuration(alerts.giveUpAfter ?? '24h'),
  };
}

/** `${NAME}` → the variable's value; a missing variable is a config error naming it (not its value). */
export function interpolate(v: string, env: NodeJS.ProcessEnv, where: string): string {
  return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const got = env[name];
    if (got === undefined || got === '') throw new RowtrailError('CONFIG', `${where}: environment variable ${name} is not set`);
    return got;
  });
}

/** An http(s) URL, or a config error that names the key but never prints the value (URLs carry secrets). */
function checkUrl(v: string, where: string): void {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new RowtrailError('CONFIG', `${where} is not a URL (expected https://…)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RowtrailError('CONFIG', `${where}: scheme '${u.protocol}' is not http or https`);
}
