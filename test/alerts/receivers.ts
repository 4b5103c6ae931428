/**
 * Real local HTTP servers that answer like the services rowtrail delivers to, as their documentation says:
 * - Slack incoming webhook: 200 `ok`; 400 `invalid_payload` for a body that is not a message; 400
 *   `invalid_blocks` for blocks over Block Kit's limits; 404 `no_service` for an unknown hook path.
 * - Slack Web API (chat.postMessage / chat.update): 200 `{ok:true, channel, ts}`; 200 `{ok:false, error}` with
 *   `not_authed`/`invalid_auth`, `channel_not_found`, `invalid_blocks`, `message_not_found` (update of an unknown ts).
 * - PagerDuty Events API v2 (/v2/enqueue): 202 `{status:"success", message:"Event processed", dedup_key}`;
 *   400 `{status:"invalid event", message:"Event object is invalid", errors:[…]}` for a bad routing key, a
 *   missing field or a summary over 1024 characters.
 * - a webhook receiver: 200.
 * Each can be told to misbehave for the next requests: a status (429 with Retry-After, 500, 408), hang past the
 * client's timeout, or reset the connection. Every request is recorded with the time it arrived and whether it
 * was acknowledged (2xx answered).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Kind = 'slack-webhook' | 'slack-api' | 'pagerduty' | 'webhook';

export type Behaviour =
  | { status: number; headers?: Record<string, string>; body?: string }
  | 'hang'
  | 'reset';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
  at: number;
  /** The receiver answered 2xx (the sender was told it was delivered). */
  acked: boolean;
  status: number | null;
}

export const SLACK_TOKEN = 'xoxb-test-token-1234567890';
export const PD_KEY = 'R0UT1NGKEY0000000000000000000000';

export class Receiver {
  readonly got: Received[] = [];
  readonly plan: Behaviour[] = [];
  private ts = 1_700_000_000;
  private readonly hanging = new Set<import('node:http').ServerResponse>();
  private waiters: (() => void)[] = [];

  private constructor(
    readonly kind: Kind,
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(kind: Kind): Promise<Receiver> {
    let self!: Receiver;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => self.handle(req.url ?? '/', req.headers, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    self = new Receiver(kind, server, `http://127.0.0.1:${port}`);
    return self;
  }

  /** Acknowledged requests only (what the sender was told was delivered). */
  get acked(): Received[] {
    return this.got.filter((r) => r.acked);
  }

  /** Resolves when at least n requests were acknowledged. */
  async waitAcked(n: number, ms = 20_000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    while (this.acked.length < n) {
      if (Date.now() > deadline) throw new Error(`${this.kind}: ${this.acked.length} of ${n} requests acknowledged within ${ms} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.acked;
  }

  /** Resolves when at least n requests arrived (acknowledged or not). */
  async waitGot(n: number, ms = 20_000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    while (this.got.length < n) {
      if (Date.now() > deadline) throw new Error(`${this.kind}: ${this.got.length} of ${n} requests within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.got;
  }

  async close(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private handle(path: string, headers: IncomingHttpHeaders, body: string, res: import('node:http').ServerResponse): void {
    let json: any = null;
    try {
      json = JSON.parse(body);
    } catch {
      // recorded as text
    }
    const rec: Received = { path, headers, body, json, at: Date.now(), acked: false, status: null };
    this.got.push(rec);
    const b = this.plan.shift();
    if (b === 'hang') {
      this.hanging.add(res);
      return;
    }
    if (b === 'reset') {
      res.socket?.destroy();
      return;
    }
    const answer = b ?? this.service(path, headers, json);
    rec.status = answer.status;
    rec.acked = answer.status >= 200 && answer.status < 300 && (this.kind !== 'slack-api' || JSON.parse(answer.body ?? '{}').ok === true);
    res.writeHead(answer.status, { 'content-type': this.kind === 'slack-webhook' ? 'text/plain' : 'application/json', ...(answer.headers ?? {}) });
    res.end(answer.body ?? '');
    for (const w of this.waiters.splice(0)) w();
  }

  /** What the real service answers to this request. */
  private service(path: string, headers: IncomingHttpHeaders, json: any): { status: number; body?: string; headers?: Record<string, string> } {
    switch (this.kind) {
      case 'webhook':
        return { status: 200, body: '{}' };
      case 'slack-webhook': {
        if (!path.startsWith('/services/')) return { status: 404, body: 'no_service' };
        if (!json || (typeof json.text !== 'string' && !Array.isArray(json.blocks))) return { status: 400, body: 'invalid_payload' };
        if (json.blocks && blockProblems(json.blocks).length) return { status: 400, body: 'invalid_blocks' };
        return { status: 200, body: 'ok' };
      }
      case 'slack-api': {
        const ok = (o: object) => ({ status: 200, body: JSON.stringify({ ok: true, ...o }) });
        const err = (e: string) => ({ status: 200, body: JSON.stringify({ ok: false, error: e }) });
        if (!headers.authorization) return err('not_authed');
        if (headers.authorization !== `Bearer ${SLACK_TOKEN}`) return err('invalid_auth');
        if (!json?.channel || json.channel !== 'C0ALERTS') return err('channel_not_found');
        if (json.blocks && blockProblems(json.blocks).length) return err('invalid_blocks');
        if (path === '/api/chat.postMessage') return ok({ channel: json.channel, ts: `${this.ts++}.000100` });
        if (path === '/api/chat.update') {
          const known = this.got.some((r) => r.path === '/api/chat.postMessage' && r.acked && r.json?.channel === json.channel);
          return known && json.ts ? ok({ channel: json.channel, ts: json.ts }) : err('message_not_found');
        }
        return { status: 404, body: JSON.stringify({ ok: false, error: 'unknown_method' }) };
      }
      case 'pagerduty': {
        const bad = (errors: string[]) => ({ status: 400, body: JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors }) });
        if (path !== '/v2/enqueue') return { status: 404, body: '{}' };
        if (!json) return bad(['Invalid JSON']);
        if (json.routing_key !== PD_KEY) return bad(['Invalid routing key']);
        if (!['trigger', 'acknowledge', 'resolve'].includes(json.event_action)) return bad(['Invalid event_action']);
        if (json.event_action === 'trigger') {
          const p = json.payload;
          if (!p?.summary || !p.source || !p.severity) return bad(['Missing required field']);
          if (p.summary.length > 1024) return bad(['summary is too long']);
          if (!['critical', 'error', 'warning', 'info'].includes(p.severity)) return bad(['Invalid severity']);
        } else if (!json.dedup_key) return bad(['dedup_key is required for resolve']);
        if (json.dedup_key && json.dedup_key.length > 255) return bad(['dedup_key is too long']);
        return { status: 202, body: JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: json.dedup_key ?? 'generated' }) };
      }
    }
  }
}

/** Block Kit limits a message breaks (Slack's block reference); empty when valid. Written apart from the sender's. */
export function blockProblems(blocks: any[]): string[] {
  const p: string[] = [];
  if (blocks.length > 50) p.push(`${blocks.length} blocks`);
  const len = (s: unknown) => (typeof s === 'string' ? s.length : Number.NaN);
  for (const b of blocks) {
    if (b.type === 'header') {
      if (b.text?.type !== 'plain_text') p.push('header not plain_text');
      if (!(len(b.text?.text) >= 1 && len(b.text?.text) <= 150)) p.push(`header ${len(b.text?.text)}`);
    } else if (b.type === 'section') {
      if (!b.text && !b.fields) p.push('section without text or fields');
      if (b.text && !(len(b.text.text) >= 1 && len(b.text.text) <= 3000)) p.push(`section text ${len(b.text.text)}`);
      if (b.fields) {
        if (b.fields.length > 10) p.push(`${b.fields.length} fields`);
        for (const f of b.fields) if (!(len(f.text) >= 1 && len(f.text) <= 2000)) p.push(`field ${len(f.text)}`);
      }
    } else if (b.type === 'context') {
      if (!(b.elements?.length >= 1 && b.elements.length <= 10)) p.push('context elements');
      for (const e of b.elements ?? []) if (!(len(e.text) >= 1 && len(e.text) <= 3000)) p.push(`context ${len(e.text)}`);
    } else p.push(`unknown block ${b.type}`);
  }
  return p;
}
