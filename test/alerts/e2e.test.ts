/**
 * Alert delivery end to end: real PostgreSQL (the harness's shared server), `rowtrail watch` started fresh as a
 * child process (no history), a Slack incoming webhook, PagerDuty Events v2 and a signed webhook, all real local
 * HTTP servers. An AI agent deletes most of a table in one transaction → each receiver gets exactly one
 * well-formed notification with the undo command, and no raw email of the table appears in any payload. The
 * commit → webhook latency is printed (measured, not asserted).
 *
 * Then a crash: the webhook hangs on the next alert, the daemon is SIGKILLed mid-request, and after a restart
 * the notification arrives (nothing lost) while what the receivers acknowledged before is not sent again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedPg } from '../harness/shared.js';
import { startWatch, type WatchDaemon } from '../harness/daemon.js';
import { setupSource, sql } from '../postgres/capture-helpers.js';
import { runCli } from '../harness/cli.js';
import { PD_KEY, Receiver } from './receivers.js';
import { envRef, SECRET, verifySignature } from './fixtures.js';

describe('alert delivery end to end (PostgreSQL, rowtrail watch)', () => {
  let url: string;
  let dir: string;
  let cfgFile: string;
  let hook: Receiver;
  let slack: Receiver;
  let pd: Receiver;
  let daemon: WatchDaemon | undefined;
  const env = { HOOK_SECRET: SECRET, PD_ROUTING_KEY: PD_KEY };

  beforeAll(async () => {
    const pg = sharedPg();
    url = pg.url(await pg.freshDatabase('alertdeliv'));
    await sql(url, `CREATE TABLE public.customers (id int PRIMARY KEY, name text, email text)`);
    await sql(url, `INSERT INTO customers SELECT g, 'c' || g, 'person' || g || '@example.org' FROM generate_series(1, 1000) g; ANALYZE customers`);
    const src = await setupSource(url, { identity: 'precise' });
    [hook, slack, pd] = await Promise.all([Receiver.start('webhook'), Receiver.start('slack-webhook'), Receiver.start('pagerduty')]);
    dir = mkdtempSync(join(tmpdir(), 'rowtrail-alerts-e2e-'));
    cfgFile = join(dir, 'rowtrail.yaml');
    const cfg = {
      sources: [{ name: src.name, kind: 'postgres', url, slot: src.slot, publication: src.publication, identity: 'precise' }],
      store: { path: join(dir, 'store') },
      actors: [{ match: { agent: 'deploy-bot' }, kind: 'ai-agent' }],
      alerts: {
        slack: { webhookUrl: `${slack.url}/services/T0/B0/secretpart`, minSeverity: 'warning' },
        pagerduty: { routingKey: envRef('PD_ROUTING_KEY'), url: `${pd.url}/v2/enqueue`, minSeverity: 'warning' },
        webhook: { url: `${hook.url}/rowtrail`, secret: envRef('HOOK_SECRET') },
        timeoutSeconds: 2,
      },
    };
    writeFileSync(cfgFile, JSON.stringify(cfg));
  });

  afterAll(async () => {
    daemon?.kill('SIGKILL');
    await daemon?.waitExit(5000);
    await Promise.all([hook, slack, pd].map((r) => r?.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function startDaemon(): Promise<WatchDaemon> {
    const d = startWatch(cfgFile, { env });
    await d.waitLog((l) => l.msg === 'rowtrail watching');
    await d.waitLog((l) => l.msg === 'alerts: delivering');
    // capture is live once the source streams: a marker row must reach the store
    return d;
  }

  async function captured(marker: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await runCli(['changes', '--config', cfgFile, '--table', 'public.customers', '--json'], { env });
      if (r.stdout.includes(`"${marker}"`)) return;
      if (Date.now() > deadline) throw new Error(`capture did not start: ${daemon?.output().slice(-2000)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  /** Waits until `rowtrail alerts --json` shows the alert's delivery (the newest alert's without an id) as given. */
  async function delivered(id: string | null, want: string[]): Promise<void> {
    const deadline = Date.now() + 20_000;
    let have: string[] = [];
    while (Date.now() < deadline) {
      const out = await runCli(['alerts', '--config', cfgFile, '--json'], { env });
      const all = out.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const a = (id ? all.find((x) => x.id === id) : all[0]) ?? {};
      have = (a.delivery ?? []).map((d: any) => `${d.channel} ${d.event} ${d.state}`).sort();
      if (JSON.stringify(have) === JSON.stringify(want)) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`delivery state is ${JSON.stringify(have)}, not ${JSON.stringify(want)}`);
  }

  it('an agent deletes most of a table: one Slack message, one PagerDuty trigger, one signed webhook, within seconds', async () => {
    daemon = await startDaemon();
    await sql(url, `UPDATE customers SET name = name WHERE id = 1000`);
    await captured(1000);
    const before = hook.got.length;
    await sql(url, `/*agent='deploy-bot',run='r-9'*/ DELETE FROM customers WHERE id <= 700`);
    const committed = Date.now();
    const [w] = (await hook.waitAcked(before + 1, 30_000)).slice(before);
    const latencyMs = w!.at - committed;
    console.log(`alert delivery: commit → webhook received in ${latencyMs} ms`);
    await slack.waitAcked(1, 10_000);
    await pd.waitAcked(1, 10_000);
    // nothing more arrives
    await new Promise((res) => setTimeout(res, 2500));
    expect(hook.got).toHaveLength(1);
    expect(slack.got).toHaveLength(1);
    expect(pd.got).toHaveLength(1);

    // webhook: the Alert contract, signed
    const a = w!.json;
    expect(a).toMatchObject({ detector: 'bulk-transaction', severity: 'critical', state: 'open', table: 'public.customers' });
    expect(a.actor).toMatchObject({ agent: 'deploy-bot', kind: 'ai-agent', confidence: 'exact' });
    expect(a.evidence).toMatchObject({ deleted: 700 });
    expect(a.undo).toMatch(/^rowtrail undo --tx \S+ --source /);
    expect(await verifySignature(SECRET, w!.headers, w!.body)).toBe(true);
    expect(w!.headers['x-rowtrail-event']).toBe('opened');

    // Slack: blocks with the undo command, and the fallback text
    const m = slack.got[0]!.json;
    expect(m.blocks[0]).toMatchObject({ type: 'header' });
    expect(JSON.stringify(m.blocks)).toContain(`\`\`\`${a.undo}\`\`\``);
    expect(m.text).toContain(a.undo);
    expect(m.text).toContain('deploy-bot');

    // PagerDuty: a trigger with the alert's dedup_key, the undo command in custom_details
    const e = pd.got[0]!.json;
    expect(e).toMatchObject({ event_action: 'trigger', routing_key: PD_KEY, dedup_key: `rowtrail-${a.id}`, payload: { severity: 'critical' } });
    expect(e.payload.custom_details.undo).toBe(a.undo);

    // no raw row value (the table's emails) in any payload
    for (const r of [...hook.got, ...slack.got, ...pd.got]) expect(r.body).not.toMatch(/person\d+@example\.org/);

    // `rowtrail alerts --json` shows the delivery per channel
    await delivered(a.id, ['pagerduty opened sent', 'slack opened sent', 'webhook opened sent']);
    // /metrics counts per channel
    const token = readFileSync(join(dir, 'store', 'http-token'), 'utf8').trim();
    const metrics = await (await fetch(`http://127.0.0.1:${daemon.httpPort()}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    for (const ch of ['slack', 'pagerduty', 'webhook']) {
      expect(metrics).toContain(`rowtrail_alert_notifications_sent_total{channel="${ch}",kind="${ch}"} 1`);
      expect(metrics).toContain(`rowtrail_alert_notifications_queued{channel="${ch}",kind="${ch}"} 0`);
    }
    expect(daemon.output()).not.toContain(SECRET);
    expect(daemon.output()).not.toContain('secretpart');
    expect(daemon.output()).not.toContain(PD_KEY);
  });

  it('SIGKILL while a notification is in flight: after a restart it arrives; acknowledged ones are not sent again', async () => {
    // the webhook stops answering (every request hangs past the 2 s timeout) until the restart
    hook.plan.push(...Array.from({ length: 50 }, () => 'hang' as const));
    const before = { hook: hook.got.length, slack: slack.got.length, pd: pd.got.length };
    await sql(url, `/*agent='deploy-bot',run='r-10'*/ DELETE FROM customers WHERE id > 700 AND id <= 950`);
    await hook.waitGot(before.hook + 1, 30_000);
    const id = hook.got[before.hook]!.json.id as string;
    // capture goes on while the webhook hangs: 100 small transactions are captured
    for (let i = 0; i < 100; i++) await sql(url, `UPDATE customers SET name = 'n${i}' WHERE id = 1000`);
    await sql(url, `INSERT INTO customers VALUES (5000, 'marker', 'm@example.org')`);
    await captured(5000);
    await slack.waitAcked(before.slack + 1, 10_000);
    await pd.waitAcked(before.pd + 1, 10_000);
    // the daemon recorded Slack's and PagerDuty's 2xx (a kill between a 2xx and its record resends: at least once)
    await delivered(id, ['pagerduty opened sent', 'slack opened sent', 'webhook opened queued']);
    daemon!.kill('SIGKILL');
    await daemon!.waitExit(5000);
    expect(hook.got.filter((g) => g.acked && g.json.id === id)).toHaveLength(0);
    hook.plan.length = 0;
    daemon = await startDaemon();
    await delivered(id, ['pagerduty opened sent', 'slack opened sent', 'webhook opened sent']);
    await new Promise((res) => setTimeout(res, 2500));
    // the webhook got the alert once acknowledged, every attempt with the same delivery id
    const tries = hook.got.filter((g) => g.json.id === id);
    expect(tries.filter((g) => g.acked)).toHaveLength(1);
    expect(tries.length).toBeGreaterThanOrEqual(2);
    expect(new Set(tries.map((g) => g.headers['x-rowtrail-delivery'])).size).toBe(1);
    expect(tries.at(-1)!.json.evidence.deleted).toBe(250);
    // no receiver acknowledged any notification twice
    for (const r of [hook, slack, pd]) {
      const keys = r.acked.map((g) => g.headers['x-rowtrail-delivery'] ?? g.json.dedup_key ?? JSON.stringify(g.json.blocks?.at(-1)));
      expect(new Set(keys).size, r.kind).toBe(keys.length);
    }
    expect(slack.got.filter((g) => JSON.stringify(g.json).includes(id))).toHaveLength(1);
    expect(pd.got.filter((g) => g.json.dedup_key === `rowtrail-${id}`)).toHaveLength(1);
  });
});
