/** Alerts, a store and the delivery worker for the delivery tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Store } from '../../src/store/index.js';
import type { Alert } from '../../src/model/index.js';
import { configSchema } from '../../src/config/index.js';
import { DeliveryWorker, resolveAlerts, routeAlert, type AlertsSettings, type WorkerOptions } from '../../src/alerts/index.js';

export function alert(id: string, over: Partial<Alert> = {}): Alert {
  return {
    id,
    detector: 'bulk-transaction',
    severity: 'warning',
    title: `AI agent deploy-bot (on svc_app, exact) deleted 300 rows of public.customers (30% of the table) in one transaction [${id}]`,
    summary: 'AI agent deploy-bot (on svc_app, exact) deleted 300 rows of public.customers (30% of the table) in one transaction.',
    source: 'app-pg',
    table: 'public.customers',
    actor: { user: 'svc_app', agent: 'deploy-bot', kind: 'ai-agent', confidence: 'exact' } as Alert['actor'],
    window: { from: '2026-11-29T03:00:00.123Z', to: '2026-11-29T03:00:00.123Z' },
    evidence: { observed: 300, expected: 200, score: 1, deleted: 300, updated: 0, inserted: 0, tableRows: 1000, fraction: 0.3 },
    txIds: ['771'],
    state: 'open',
    undo: `rowtrail undo --tx 771 --source app-pg --table public.customers`,
    ...over,
  };
}

/** A log that keeps its lines (JSON objects) for assertions. */
export function memoryLog(): { log: pino.Logger; lines: any[]; text: () => string } {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'debug', base: undefined }, stream), lines, text: () => lines.map((l) => JSON.stringify(l)).join('\n') };
}

export interface Rig {
  dir: string;
  store: Store;
  settings: AlertsSettings;
  /** Saves alerts the way the detection runner does (with their notifications, in one transaction). */
  save(...alerts: Alert[]): void;
  /** Starts a worker; returns a stop function that waits for it. */
  start(opts?: WorkerOptions): { worker: DeliveryWorker; stop: () => Promise<void> };
  /** Closes the store and opens it again (a restart). */
  reopen(): void;
  close(): void;
  log: ReturnType<typeof memoryLog>;
}

export function rig(alerts: unknown, opts: { timeoutSeconds?: number; giveUpAfter?: string } = {}): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'rowtrail-delivery-'));
  const parsed = configSchema.shape.alerts.parse({ ...(alerts as object), ...opts });
  const settings = resolveAlerts(parsed, { env: {} });
  const log = memoryLog();
  const r: Rig = {
    dir,
    store: Store.open(join(dir, 'store')),
    settings,
    log,
    save(...alerts) {
      r.store.saveDetection(alerts, 'engine', 0, {}, (a) => routeAlert(settings.channels, a));
    },
    start(wopts = {}) {
      const worker = new DeliveryWorker(r.store, settings, log.log, { pollMs: 50, backoffBaseMs: 100, ...wopts });
      const ac = new AbortController();
      const done = worker.run(ac.signal);
      return {
        worker,
        stop: async () => {
          ac.abort();
          await done;
        },
      };
    },
    reopen() {
      r.store.close();
      r.store = Store.open(join(dir, 'store'));
    },
    close() {
      r.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}

/** An independent check of X-Rowtrail-Signature (WebCrypto, not node:crypto's createHmac) with a 5 minute window. */
export async function verifySignature(secret: string, headers: Record<string, unknown>, rawBody: string, nowS = Date.now() / 1000): Promise<boolean> {
  const ts = Number(headers['x-rowtrail-timestamp']);
  const sig = String(headers['x-rowtrail-signature'] ?? '');
  if (!Number.isInteger(ts) || Math.abs(nowS - ts) > 300) return false;
  if (!sig.startsWith('sha256=')) return false;
  const key = await webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const mac = Uint8Array.from(sig.slice(7).match(/../g) ?? [], (h) => Number.parseInt(h, 16));
  return webcrypto.subtle.verify('HMAC', key, mac, new TextEncoder().encode(`${ts}.${rawBody}`));
}

export const SECRET = 'whsec-0123456789abcdef';

export function outboxRows(r: Rig): { alert_id: string; channel: string; event: string; state: string; attempts: number; error: string | null }[] {
  return r.store.db.prepare(`SELECT alert_id, channel, event, state, attempts, error FROM alert_outbox ORDER BY id`).all() as any;
}

/** Waits until no notification is queued (every one sent, skipped or failed). */
export async function settled(r: Rig, ms = 20_000): Promise<ReturnType<typeof outboxRows>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const rows = outboxRows(r);
    if (rows.every((x) => x.state !== 'queued')) return rows;
    if (Date.now() > deadline) throw new Error(`still queued after ${ms} ms: ${JSON.stringify(rows)}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** `${NAME}`, the config's reference to an environment variable. */
export function envRef(name: string): string {
  return '$'.concat('{', name, '}');
}
