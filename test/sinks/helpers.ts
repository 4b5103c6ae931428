/** Stores with synthetic transactions, a capturing logger, and the sink config for the sink tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Store } from '../../src/store/index.js';
import { createLogger, type Logger } from '../../src/log/index.js';
import { parseConfig } from '../../src/config/index.js';
import type { Actor, RowChange } from '../../src/model/index.js';
import type { EsConfig } from '../../src/sinks/elasticsearch/index.js';

const dirs: string[] = [];
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rowtrail-es-'));
  dirs.push(d);
  return d;
}
export function cleanup(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function esConfig(extra: Record<string, unknown> = {}): EsConfig {
  const cfg = parseConfig({ sources: [{ name: 'app', kind: 'postgres', url: 'postgres://u@h/db' }], elasticsearch: { node: 'http://localhost:9200', ...extra } }, {});
  return cfg.elasticsearch!;
}

export const agent: Actor = {
  user: 'svc_app',
  application: 'psql',
  clientAddr: '10.0.0.7',
  sessionId: '4242',
  agent: 'deploy-bot',
  kind: 'ai-agent',
  context: { run: 'r-17' },
  confidence: 'exact',
  method: 'precise-message',
};

export function row(id: number, v = 'x'): RowChange {
  return { schema: 'public', table: 'users', op: 'insert', key: { id: String(id) }, before: null, after: { id: String(id), v }, changed: ['id', 'v'] };
}

/** Writes `txs` transactions of `rows` inserts each (positions 0/1, 0/2, …) and returns the store. */
export function fill(store: Store, txs: number, rows: number, opts: { start?: number; value?: (i: number) => string } = {}): void {
  const w = store.writer('app', 'postgresql', 'app');
  const start = opts.start ?? 0;
  for (let t = start; t < start + txs; t++) {
    const tx = w.begin(String(1000 + t));
    for (let r = 0; r < rows; r++) w.add(tx, row(t * rows + r, opts.value?.(t * rows + r) ?? 'x'));
    const sec = String(t % 60).padStart(2, '0');
    w.commit(tx, { position: `0/${(t + 1).toString(16).toUpperCase()}`, commitTime: `2026-11-26T10:00:${sec}.123456Z`, actor: agent, resumePosition: `0/${t + 1}` });
    if (t % 200 === 0) w.flush();
  }
  w.flush();
}

export function openStore(dir = tempDir()): Store {
  return Store.open(dir);
}

/** A logger whose JSON lines are kept. */
export function captureLog(): { log: Logger; lines: () => { level: number; msg: string; [k: string]: unknown }[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  const log = createLogger({ stream, pretty: false, level: 'info' });
  return { log, lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}
