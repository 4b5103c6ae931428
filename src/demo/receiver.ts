/**
 * The demo's webhook receiver: what a user's own endpoint does with rowtrail's signed webhook, on 127.0.0.1
 * and a free port. It checks each POST the way README "Alert channels" tells receivers to (HMAC-SHA256 of
 * `timestamp.body` with the shared secret, compared in constant time; a timestamp within 5 minutes), answers
 * 401 when the check fails and 204 when it passes, and keeps the verified alerts for the demo to print.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { sign } from '../alerts/webhook-format.js';
import type { Alert } from '../model/index.js';

export interface Received {
  alert: Alert;
  /** X-Rowtrail-Event: opened | updated | resolved | test. */
  event: string;
}

export interface WebhookReceiver {
  url: string;
  /** Verified deliveries so far, in arrival order. */
  received: Received[];
  /** POSTs refused (bad signature, stale timestamp, not JSON). */
  refused: number;
  /** Resolves with the first delivery `pick` accepts (waiting for it), or null after `ms` or on `signal`. */
  next(pick: (r: Received) => boolean, ms: number, signal: AbortSignal): Promise<Received | null>;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;
const MAX_SKEW_S = 300;

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const state = { refused: 0 };
  const server = createServer((req, res) => {
    void handle(req, res, secret).then((r) => {
      if (!r) state.refused++;
      else {
        received.push(r);
        for (const w of waiters) w();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/rowtrail`,
    received,
    get refused() {
      return state.refused;
    },
    next(pick, ms, signal) {
      return new Promise((resolve) => {
        const check = () => {
          const hit = received.find(pick);
          if (!hit && !signal.aborted) return;
          finish(hit ?? null);
        };
        const timer = setTimeout(() => finish(null), ms);
        const finish = (r: Received | null) => {
          clearTimeout(timer);
          waiters.delete(check);
          signal.removeEventListener('abort', check);
          resolve(r);
        };
        waiters.add(check);
        signal.addEventListener('abort', check, { once: true });
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Verifies one request; answers it; returns the alert when it was genuine. */
async function handle(req: IncomingMessage, res: ServerResponse, secret: string): Promise<Received | null> {
  const reply = (status: number): null => {
    res.statusCode = status;
    res.end();
    return null;
  };
  if (req.method !== 'POST') return reply(405);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) return reply(413);
    chunks.push(c);
  }
  const body = Buffer.concat(chunks).toString('utf8');
  const ts = Number(req.headers['x-rowtrail-timestamp']);
  const got = Buffer.from(String(req.headers['x-rowtrail-signature'] ?? ''));
  const want = Buffer.from(sign(secret, ts, body));
  const fresh = Number.isFinite(ts) && Math.abs(Date.now() / 1000 - ts) <= MAX_SKEW_S;
  if (!fresh || got.length !== want.length || !timingSafeEqual(got, want)) return reply(401);
  let alert: Alert;
  try {
    alert = JSON.parse(body) as Alert;
  } catch {
    return reply(400);
  }
  reply(204);
  return { alert, event: String(req.headers['x-rowtrail-event'] ?? '') };
}
