/**
 * The guard runner with a real store and resolver: a replayed transaction (rowtrail's replication session
 * reconnected mid-transaction, the server resends it) keeps one alert, whose outcome the replay settles.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { Store } from '../../src/store/index.js';
import { createResolver } from '../../src/identity/index.js';
import { GuardRunner } from '../../src/guard/index.js';
import { silentLogger } from '../../src/log/index.js';
import type { InFlightTx } from '../../src/sources/source.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const message = JSON.stringify([1, '4242', null, 'svc', 'none', 'runner', null, null, "/*agent='deploy-bot'*/ DELETE FROM t"]);
const tx = (xid: string): InFlightTx => ({ source: 'pg', xid, streamed: true, messages: [message], preciseExpected: true });

describe('guard runner', () => {
  it('a replay settles the one alert; nothing fires twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rowtrail-guard-runner-'));
    dirs.push(dir);
    const store = Store.open(dir, { synchronous: 'NORMAL' });
    const cfg = parseConfig(
      { sources: [{ name: 'pg', kind: 'postgres', url: 'postgres://u@127.0.0.1:1/db' }], guards: [{ name: 'g', match: { agent: 'deploy-bot' }, when: { rowsOver: 3 }, action: 'alert' }] },
      {},
    );
    const resolver = createResolver();
    const saved: string[] = [];
    const runner = new GuardRunner({ source: 'pg', guards: cfg.guards, url: 'postgres://u@127.0.0.1:1/db', store, resolver, log: silentLogger, onAlert: (a) => saved.push(String(a.evidence.outcome)) });
    const first = tx('900');
    for (let i = 0; i < 10; i++) runner.change(first, 'delete', 'public', 't');
    runner.end(first, 'dropped');
    const replay = tx('900');
    for (let i = 0; i < 10; i++) runner.change(replay, 'delete', 'public', 't');
    runner.end(replay, 'committed');
    await runner.stop();
    expect(saved).toEqual(['in-flight', 'unknown', 'committed']);
    const alerts = store.alerts({}).filter((a) => a.detector === 'guard');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ id: 'guard:pg:900:g', actor: { agent: 'deploy-bot', confidence: 'exact', sessionId: '4242' }, evidence: { outcome: 'committed', observed: 4 } });
    expect(resolver.stats().exact).toBe(0); // peeking is not attributing: the commit's resolve counts
    expect(runner.stats()).toEqual({ fired: 1, acted: 0 });
    store.close();
  });
});
