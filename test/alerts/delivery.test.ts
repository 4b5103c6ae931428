/**
 * The outbox and the delivery worker against real local HTTP servers that answer like Slack, PagerDuty and a
 * webhook receiver (receivers.ts): once, in order, retries, Retry-After, permanent 4xx, restarts, threading,
 * rate limits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { alert, outboxRows, rig, SECRET, settled, verifySignature, type Rig } from './fixtures.js';
import { PD_KEY, Receiver, SLACK_TOKEN, type Kind } from './receivers.js';

let open: { r?: Rig; recv: Receiver[]; stops: (() => Promise<void>)[] } = { recv: [], stops: [] };
afterEach(async () => {
  for (const s of open.stops) await s();
  for (const x of open.recv) await x.close();
  open.r?.close();
  open = { recv: [], stops: [] };
});

async function receiver(kind: Kind) {
  const x = await Receiver.start(kind);
  open.recv.push(x);
  return x;
}

function setup(alerts: unknown, opts?: { timeoutSeconds?: number; giveUpAfter?: string }): Rig {
  open.r = rig(alerts, opts);
  return open.r;
}

function start(r: Rig, opts = {}) {
  const w = r.start(opts);
  open.stops.push(w.stop);
  return w;
}

describe('webhook', () => {
  it('delivers every notification once, in order, signed, with the Alert contract as the body', async () => {
    const hook = await receiver('webhook');
    const r = setup({ webhook: { url: `${hook.url}/rowtrail`, secret: SECRET } });
    const a1 = alert('bulk-transaction-a1');
    const a2 = alert('bulk-transaction-a2', { severity: 'critical' });
    r.save(a1, a2);
    r.save({ ...a1, state: 'resolved', window: { ...a1.window, to: '2026-11-29T04:00:00.000Z' } });
    start(r);
    const got = await hook.waitAcked(3);
    await new Promise((res) => setTimeout(res, 300));
    expect(hook.got).toHaveLength(3);
    expect(got.map((g) => [g.json.id, g.headers['x-rowtrail-event']])).toEqual([
      ['bulk-transaction-a1', 'opened'],
      ['bulk-transaction-a2', 'opened'],
      ['bulk-transaction-a1', 'resolved'],
    ]);
    expect(got[0]!.json).toEqual(a1);
    expect(got[2]!.json.state).toBe('resolved');
    for (const g of got) {
      expect(await verifySignature(SECRET, g.headers, g.body)).toBe(true);
      // a tampered body or a wrong key fails the same check
      expect(await verifySignature(SECRET, g.headers, g.body.replace('300', '301'))).toBe(false);
      expect(await verifySignature('another-secret-0000', g.headers, g.body)).toBe(false);
      // an old (replayed) request is refused by the window
      expect(await verifySignature(SECRET, g.headers, g.body, Date.now() / 1000 + 301)).toBe(false);
    }
    expect(new Set(got.map((g) => g.headers['x-rowtrail-delivery'])).size).toBe(3);
    expect((await settled(r)).map((x) => x.state)).toEqual(['sent', 'sent', 'sent']);
  });

  it('retries 500, timeouts and resets with backoff, keeping the delivery id; the next notification waits its turn', async () => {
    const hook = await receiver('webhook');
    const r = setup({ webhook: { url: hook.url, secret: SECRET } }, { timeoutSeconds: 0.3 });
    hook.plan.push({ status: 500, body: 'oops' }, 'hang', 'reset', { status: 408 });
    r.save(alert('a-1'));
    r.save(alert('a-2'));
    start(r);
    const got = await hook.waitAcked(2);
    expect(hook.got.map((g) => g.json.id)).toEqual(['a-1', 'a-1', 'a-1', 'a-1', 'a-1', 'a-2']);
    expect(new Set(hook.got.slice(0, 5).map((g) => g.headers['x-rowtrail-delivery'])).size).toBe(1);
    expect(got.map((g) => g.json.id)).toEqual(['a-1', 'a-2']);
    const rows = await settled(r);
    expect(rows.map((x) => [x.alert_id, x.state, x.attempts])).toEqual([
      ['a-1', 'sent', 5],
      ['a-2', 'sent', 1],
    ]);
    // backoff grows: the gaps between the retries of a-1 are not shrinking to nothing
    const t = hook.got.slice(0, 5).map((g) => g.at);
    expect(t[4]! - t[0]!).toBeGreaterThanOrEqual(100 / 2 + 200 / 2 + 400 / 2 + 800 / 2 - 20 + 300);
    // one warning when the channel started failing, one line when it recovered
    const warns = r.log.lines.filter((l) => l.msg.startsWith('alerts: delivery failing'));
    expect(warns).toHaveLength(1);
    expect(r.log.lines.filter((l) => l.msg === 'alerts: channel delivers again')).toHaveLength(1);
  });

  it('honours Retry-After on 429', async () => {
    const hook = await receiver('webhook');
    const r = setup({ webhook: { url: hook.url, secret: SECRET } });
    hook.plan.push({ status: 429, headers: { 'retry-after': '2' } });
    r.save(alert('a-1'));
    start(r);
    await hook.waitAcked(1);
    expect(hook.got).toHaveLength(2);
    expect(hook.got[1]!.at - hook.got[0]!.at).toBeGreaterThanOrEqual(1950);
  });

  it('survives a restart in the middle of a delivery: what was acknowledged is not sent again, the rest arrives', async () => {
    const hook = await receiver('webhook');
    const r = setup({ webhook: { url: hook.url, secret: SECRET } }, { timeoutSeconds: 30 });
    r.save(alert('a-1'), alert('a-2'));
    r.save(alert('a-3'));
    hook.plan.push({ status: 200 }, { status: 200 }, 'hang');
    const w = r.start();
    await hook.waitGot(3);
    // the third request hangs: stop the worker (the daemon stopping) and restart on a reopened store
    await w.stop();
    expect(outboxRows(r).map((x) => x.state)).toEqual(['sent', 'sent', 'queued']);
    r.reopen();
    start(r);
    await hook.waitAcked(3);
    await new Promise((res) => setTimeout(res, 300));
    expect(hook.acked.map((g) => g.json.id)).toEqual(['a-1', 'a-2', 'a-3']);
    // a-3 was sent twice (the first attempt never answered) with the same delivery id: receivers dedupe on it
    const a3 = hook.got.filter((g) => g.json.id === 'a-3');
    expect(a3).toHaveLength(2);
    expect(a3[0]!.headers['x-rowtrail-delivery']).toBe(a3[1]!.headers['x-rowtrail-delivery']);
    expect((await settled(r)).map((x) => x.state)).toEqual(['sent', 'sent', 'sent']);
  });

  it('survives a restart in the middle of a retry: the backoff is kept, then it is delivered once', async () => {
    const hook = await receiver('webhook');
    const r = setup({ webhook: { url: hook.url, secret: SECRET } });
    hook.plan.push({ status: 503 });
    r.save(alert('a-1'));
    const w = r.start({ backoffBaseMs: 1500 });
    await hook.waitGot(1);
    await new Promise((res) => setTimeout(res, 100));
    await w.stop();
    expect(outboxRows(r)[0]).toMatchObject({ state: 'queued', attempts: 1, error: 'webhook: HTTP 503' });
    r.reopen();
    start(r);
    const got = await hook.waitAcked(1);
    // the retry waited for its backoff (at least 750 ms after the first attempt), across the restart
    expect(got[0]!.at - hook.got[0]!.at).toBeGreaterThanOrEqual(740);
    expect((await settled(r)).map((x) => [x.state, x.attempts])).toEqual([['sent', 2]]);
    expect(hook.got).toHaveLength(2);
  });

  it('replaying the same alert (a restart of detection) enqueues nothing; a burst of updates folds into one', async () => {
    const hook = await receiver('webhook');
    const r = setup({ webhook: { url: hook.url, secret: SECRET } });
    const a = alert('a-1');
    r.save(a);
    r.save(a);
    for (let i = 1; i <= 20; i++) r.save({ ...a, evidence: { ...a.evidence, observed: 300 + i } });
    expect(outboxRows(r)).toHaveLength(1);
    start(r);
    const got = await hook.waitAcked(1);
    await new Promise((res) => setTimeout(res, 200));
    expect(hook.got).toHaveLength(1);
    expect(got[0]!.json.evidence.observed).toBe(320);
  });
});

describe('PagerDuty', () => {
  it('triggers and resolves with one stable dedup_key; severity mapped; summary within 1024', async () => {
    const pd = await receiver('pagerduty');
    const r = setup({ pagerduty: { routingKey: PD_KEY, url: `${pd.url}/v2/enqueue`, minSeverity: 'warning' } });
    const a = alert('bulk-transaction-pd', { title: 'x'.repeat(5000), severity: 'critical' });
    r.save(a);
    r.save({ ...a, state: 'resolved' });
    start(r);
    const got = await pd.waitAcked(2);
    expect(got.map((g) => g.json.event_action)).toEqual(['trigger', 'resolve']);
    expect(got[0]!.json.dedup_key).toBe('rowtrail-bulk-transaction-pd');
    expect(got[1]!.json.dedup_key).toBe(got[0]!.json.dedup_key);
    expect(got[0]!.json.payload.severity).toBe('critical');
    expect(got[0]!.json.payload.summary.length).toBeLessThanOrEqual(1024);
    expect(got[0]!.json.payload.custom_details.undo).toBe(a.undo);
    expect(got[0]!.json.payload.custom_details.evidence).toBe('observed 300 vs expected 200 (score 1)');
  });

  it('a bad routing key (400) is not retried: marked failed with one log line, the queue goes on', async () => {
    const pd = await receiver('pagerduty');
    const hook = await receiver('webhook');
    const r = setup({
      pagerduty: { routingKey: 'wrong-key', url: `${pd.url}/v2/enqueue`, minSeverity: 'info' },
      webhook: { url: hook.url, secret: SECRET },
    });
    r.save(alert('a-1'), alert('a-2'));
    start(r);
    await hook.waitAcked(2);
    await pd.waitGot(2);
    await new Promise((res) => setTimeout(res, 500));
    expect(pd.got).toHaveLength(2);
    const pdRows = outboxRows(r).filter((x) => x.channel === 'pagerduty');
    expect(pdRows.map((x) => [x.state, x.attempts])).toEqual([
      ['failed', 1],
      ['failed', 1],
    ]);
    expect(pdRows[0]!.error).toContain('HTTP 400');
    expect(pdRows[0]!.error).toContain('Invalid routing key');
    const errs = r.log.lines.filter((l) => l.level === 50);
    expect(errs).toHaveLength(2);
    expect(r.log.text()).not.toContain('wrong-key');
  });

  it('sends at most about 120 a minute', async () => {
    const pd = await receiver('pagerduty');
    const r = setup({ pagerduty: { routingKey: PD_KEY, url: `${pd.url}/v2/enqueue`, minSeverity: 'info' } });
    for (let i = 0; i < 5; i++) r.save(alert(`a-${i}`));
    start(r);
    const got = await pd.waitAcked(5);
    for (let i = 1; i < got.length; i++) expect(got[i]!.at - got[i - 1]!.at).toBeGreaterThanOrEqual(400); // 0.5 s apart when sent; arrival adds noise
    expect(got[4]!.at - got[0]!.at).toBeGreaterThanOrEqual(1900);
  });
});

describe('Slack', () => {
  it('incoming webhook: one message per alert, one a second, resolve as its own message, updates not posted', async () => {
    const slack = await receiver('slack-webhook');
    const r = setup({ slack: { webhookUrl: `${slack.url}/services/T0/B0/xyz`, minSeverity: 'info' } });
    const a = alert('a-1');
    r.save(a, alert('a-2'), alert('a-3'));
    start(r);
    const got = await slack.waitAcked(3);
    for (let i = 1; i < 3; i++) expect(got[i]!.at - got[i - 1]!.at).toBeGreaterThanOrEqual(800); // 1 s apart when sent; arrival adds noise
    expect(got[2]!.at - got[0]!.at).toBeGreaterThanOrEqual(1900);
    r.save({ ...a, evidence: { ...a.evidence, observed: 999 } });
    r.save({ ...a, evidence: { ...a.evidence, observed: 999 }, state: 'resolved' });
    const all = await slack.waitAcked(4);
    await new Promise((res) => setTimeout(res, 300));
    expect(slack.got).toHaveLength(4);
    expect(all[3]!.json.text).toMatch(/^Resolved: /);
    expect(outboxRows(r).map((x) => `${x.alert_id} ${x.event} ${x.state}`)).toEqual([
      'a-1 opened sent',
      'a-2 opened sent',
      'a-3 opened sent',
      'a-1 updated skipped',
      'a-1 resolved sent',
    ]);
    const m = got[0]!.json;
    expect(m.blocks[0].type).toBe('header');
    expect(m.text).toContain('deploy-bot');
    expect(m.text).toContain(a.undo);
    expect(JSON.stringify(m.blocks)).toContain(`\`\`\`${a.undo}\`\`\``);
  });

  it('a storm of new alerts is one message that shows ten and counts the rest; a later alert goes on its own', async () => {
    const slack = await receiver('slack-webhook');
    const r = setup({ slack: { webhookUrl: `${slack.url}/services/T0/B0/xyz`, minSeverity: 'info' } });
    const storm = Array.from({ length: 30 }, (_, i) => alert(`s-${i}`, { severity: i === 7 ? 'critical' : 'warning' }));
    r.save(...storm);
    start(r);
    const [m] = await slack.waitAcked(1);
    expect(m!.json.blocks[0].text.text).toBe('30 new alerts');
    expect(m!.json.blocks.filter((b: any) => b.type === 'section')).toHaveLength(10);
    expect(JSON.stringify(m!.json.blocks.at(-1))).toContain('and 20 more');
    expect(m!.json.text).toMatch(/^\[critical\] 30 new alerts: /);
    expect(JSON.stringify(m!.json.blocks)).toContain(storm[0]!.undo);
    expect((await settled(r)).every((x) => x.state === 'sent')).toBe(true);
    r.save(alert('late'));
    const got = await slack.waitAcked(2);
    expect(got[1]!.json.blocks[0].text.text).toContain('[late]');
    await new Promise((res) => setTimeout(res, 300));
    expect(slack.got).toHaveLength(2);
  });

  it('bot token: the first message is posted, updates edit it, the resolve is a threaded reply', async () => {
    const api = await receiver('slack-api');
    const r = setup({ slack: { botToken: SLACK_TOKEN, channel: 'C0ALERTS', apiUrl: `${api.url}/api`, minSeverity: 'info' } });
    const a = alert('a-1');
    r.save(a);
    start(r, { minIntervalMs: { slack: 0 } });
    const [first] = await api.waitAcked(1);
    r.save({ ...a, evidence: { ...a.evidence, observed: 400 } });
    await api.waitAcked(2);
    r.save({ ...a, evidence: { ...a.evidence, observed: 400 }, state: 'resolved' });
    const got = await api.waitAcked(3);
    expect(got.map((g) => g.path)).toEqual(['/api/chat.postMessage', '/api/chat.update', '/api/chat.postMessage']);
    const ts = '1700000000.000100'; // what the emulated Slack answered to the first postMessage
    expect(first!.json.thread_ts).toBeUndefined();
    expect(got[1]!.json.ts).toBe(ts);
    expect(got[2]!.json.thread_ts).toBe(ts);
    expect(got[2]!.json.text).toMatch(/^Resolved: /);
  });

  it('a wrong bot token is permanent (Slack ok:false invalid_auth)', async () => {
    const api = await receiver('slack-api');
    const r = setup({ slack: { botToken: 'xoxb-wrong', channel: 'C0ALERTS', apiUrl: `${api.url}/api`, minSeverity: 'info' } });
    r.save(alert('a-1'));
    start(r);
    await api.waitGot(1);
    await new Promise((res) => setTimeout(res, 400));
    expect(api.got).toHaveLength(1);
    expect(outboxRows(r)[0]).toMatchObject({ state: 'failed', error: 'slack: Slack invalid_auth (not retried)' });
    expect(r.log.text()).not.toContain('xoxb-wrong');
  });
});

describe('routing', () => {
  it('two Slack channels by severity; detector, source and table filters; resolves only where the alert went', async () => {
    const slack = await receiver('slack-webhook');
    const r = setup({
      slack: [
        { name: 'ops', webhookUrl: `${slack.url}/services/ops`, minSeverity: 'critical' },
        { name: 'data', webhookUrl: `${slack.url}/services/data`, minSeverity: 'info', tables: ['public.*'], detectors: ['bulk-transaction'] },
        { name: 'other-src', webhookUrl: `${slack.url}/services/x`, minSeverity: 'info', sources: ['shop'] },
      ],
    });
    const warn = alert('w-1');
    r.save(warn, alert('c-1', { severity: 'critical' }), alert('o-1', { table: 'audit.log' }), alert('d-1', { detector: 'first-seen' }));
    r.save({ ...warn, state: 'resolved' });
    expect(outboxRows(r).map((x) => `${x.channel} ${x.alert_id} ${x.event}`)).toEqual([
      'data w-1 opened',
      'ops c-1 opened',
      'data c-1 opened',
      'data w-1 resolved',
    ]);
  });

  it('an alert raised and resolved between two saves is opened and resolved on each channel', () => {
    const r = setup({ pagerduty: { routingKey: PD_KEY, url: 'http://127.0.0.1:9/v2/enqueue', minSeverity: 'info' } });
    r.save(alert('a-1', { state: 'resolved' }));
    expect(outboxRows(r).map((x) => `${x.alert_id} ${x.event}`)).toEqual(['a-1 opened', 'a-1 resolved']);
  });

  it('an alert that escalates into a channel opens there', () => {
    const r = setup({ webhook: { url: 'http://127.0.0.1:9/x', secret: SECRET, minSeverity: 'critical' } });
    const a = alert('a-1');
    r.save(a);
    r.save({ ...a, severity: 'critical', evidence: { ...a.evidence, observed: 900 } });
    expect(outboxRows(r).map((x) => `${x.alert_id} ${x.event}`)).toEqual(['a-1 opened']);
  });
});
