/**
 * The JSON API on a real daemon over a real PostgreSQL: the token guards everything but /healthz; the
 * changes page by cursor and stay stable while new changes arrive; a row's history names its actors; the
 * alert comes with its evidence and undo command; the undo preview lists a conflict made by another
 * session; bad parameters are a 400 with the reason; /metrics parses as Prometheus text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startWebRig, TOKEN, type WebRig } from './rig.js';
import { startHttp } from '../../src/http/index.js';
import { LiveFeed } from '../../src/http/feed.js';
import { agentPage, startDemoUi } from '../../src/demo/demo-ui.js';
import { silentLogger } from '../../src/log/index.js';

let rig: WebRig;

beforeAll(async () => {
  rig = await startWebRig(
    'webapi',
    `CREATE TABLE public.accounts (id int PRIMARY KEY, owner text, balance numeric(12,2));
     INSERT INTO accounts SELECT g, 'owner' || g, g * 10 FROM generate_series(1, 1000) g; ANALYZE accounts;`,
  );
});
afterAll(async () => {
  await rig?.stop();
});

describe('the HTTP API', () => {
  it('answers 401 without the token or with a wrong one, on every API path and /metrics; /healthz is open', async () => {
    for (const p of ['/api/v1/changes', '/api/v1/actors', '/api/v1/alerts', '/api/v1/sources', '/api/v1/changes/stream', '/metrics', '/api/v1/nope']) {
      expect((await rig.get(p, { token: null })).status, p).toBe(401);
      expect((await rig.get(p, { token: `${TOKEN}x` })).status, p).toBe(401);
    }
    const wrongCookie = await fetch(`${rig.url}/api/v1/changes`, { headers: { cookie: 'rowtrail_session=forged' } });
    expect(wrongCookie.status).toBe(401);
    // Open, and per source: 503 while the source still connects, 200 once it streams.
    let h = await rig.get('/healthz', { token: null });
    for (const end = Date.now() + 30_000; h.status !== 200 && Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      expect(h.status).toBe(503);
      h = await rig.get('/healthz', { token: null });
    }
    expect(h.status).toBe(200);
    expect(h.body.sources[rig.cfg.sources[0].name].state).toBe('streaming');
  });

  it('logs a browser in with the token: an HttpOnly cookie that is not the token', async () => {
    const bad = await fetch(`${rig.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'nope' }) });
    expect(bad.status).toBe(401);
    const ok = await fetch(`${rig.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
    expect(ok.status).toBe(204);
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^rowtrail_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain(TOKEN);
    const r = await fetch(`${rig.url}/api/v1/sources`, { headers: { cookie: cookie.split(';')[0] } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as any).sources[0]).toMatchObject({ name: rig.cfg.sources[0].name, kind: 'postgres', state: 'streaming', healthy: true });
  });

  it('pages changes newest first by cursor, stable while new changes arrive', async () => {
    for (let i = 1; i <= 30; i++) await rig.sql(`/*agent='deploy-bot',run='r-page'*/ UPDATE accounts SET balance = balance + 1 WHERE id = ${i}`);
    await rig.settled();
    const first = await rig.get('/api/v1/changes?table=public.accounts&op=update&limit=10');
    expect(first.status).toBe(200);
    expect(first.body.changes.map((c: any) => c.key.id)).toEqual(['30', '29', '28', '27', '26', '25', '24', '23', '22', '21']);
    expect(first.body.next).toMatch(/^\d+\.\d+$/);
    // New writes between pages must not shift or repeat what the next page holds.
    for (let i = 31; i <= 35; i++) await rig.sql(`/*agent='deploy-bot',run='r-page'*/ UPDATE accounts SET balance = balance + 1 WHERE id = ${i}`);
    await rig.settled();
    const seen: string[] = first.body.changes.map((c: any) => c.key.id);
    let next = first.body.next;
    while (next) {
      const page = await rig.get(`/api/v1/changes?table=public.accounts&op=update&limit=10&cursor=${next}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.changes.map((c: any) => c.key.id));
      next = page.body.next;
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => String(30 - i)));
    // The same filters as the CLI: actor, agent run.
    const byActor = await rig.get('/api/v1/changes?actor=deploy-bot&agentRun=r-page&limit=500');
    expect(byActor.body.changes).toHaveLength(35);
    expect(byActor.body.changes[0].actor).toMatchObject({ agent: 'deploy-bot', kind: 'ai-agent', confidence: 'exact' });
    // Values keep the database's text form.
    expect(byActor.body.changes.find((c: any) => c.key.id === '7').after.balance).toBe('71.00');
  });

  it('rejects bad parameters with 400 and the reason; SQL-looking values are only values', async () => {
    const cases: [string, RegExp][] = [
      ['/api/v1/changes?limit=100000', /limit must be <= 500/],
      ['/api/v1/changes?limit=abc', /limit must be integer/],
      ['/api/v1/changes?op=drop', /op must be equal to one of the allowed values/],
      ['/api/v1/changes?bogus=1', /must NOT have additional properties/],
      ['/api/v1/changes?cursor=1;drop', /cursor must match pattern/],
      ['/api/v1/changes?since=yesterday', /since 'yesterday': expected a duration/],
      ['/api/v1/history?table=public.accounts&key=notjson', /key: expected a JSON object/],
      ['/api/v1/history?key=%7B%7D', /must have required property 'table'/],
      ['/api/v1/undo/preview', /select what to revert/],
    ];
    for (const [path, why] of cases) {
      const r = await rig.get(path);
      expect(r.status, path).toBe(400);
      expect(r.body.error, path).toMatch(why);
    }
    const sqlish = await rig.get(`/api/v1/changes?table=${encodeURIComponent("accounts' OR '1'='1")}&actor=${encodeURIComponent("x'; DROP TABLE changes; --")}`);
    expect(sqlish.status).toBe(200);
    expect(sqlish.body.changes).toEqual([]);
    expect((await rig.get('/api/v1/changes?limit=1')).body.changes).toHaveLength(1);
    const nowhere = await rig.get('/nothing/here');
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.error).toBe('no such path: GET /nothing/here');
    const unknownAlert = await rig.get('/api/v1/alerts/nope');
    expect(unknownAlert.status).toBe(404);
  });

  it("gives a row's history newest first with who made each change", async () => {
    await rig.sql(`/*agent='deploy-bot',run='r-hist'*/ UPDATE accounts SET owner = 'bot-was-here' WHERE id = 150`);
    await rig.sql(`UPDATE accounts SET owner = 'fixed-by-hand' WHERE id = 150`);
    await rig.settled();
    const r = await rig.get(`/api/v1/history?table=public.accounts&key=${encodeURIComponent('{"id":"150"}')}`);
    expect(r.status).toBe(200);
    expect(r.body.changes.map((c: any) => [c.after.owner, c.actor.agent ?? c.actor.user])).toEqual([
      ['fixed-by-hand', 'postgres'],
      ['bot-was-here', 'deploy-bot'],
    ]);
    const byValue = await rig.get('/api/v1/history?table=public.accounts&value=150&limit=1');
    expect(byValue.body.changes).toHaveLength(1);
    expect(byValue.body.next).not.toBeNull();
    expect((await rig.get('/api/v1/history?table=public.accounts&value=99999999')).status).toBe(404);
  });

  it('lists actors with kind and confidence', async () => {
    const r = await rig.get('/api/v1/actors?since=1h');
    expect(r.status).toBe(200);
    const bot = r.body.actors.find((a: any) => a.agent === 'deploy-bot');
    expect(bot).toMatchObject({ kind: 'ai-agent', confidence: 'exact', tables: ['public.accounts'] });
    expect(bot.changes).toBeGreaterThanOrEqual(36);
  });

  it('shows the alert with its evidence and undo command; the undo preview lists a conflict by another session', async () => {
    await rig.sql(`/*agent='deploy-bot',run='r-bulk'*/ DELETE FROM accounts WHERE id % 10 < 3`);
    await rig.settled();
    let alert: any;
    for (const end = Date.now() + 30_000; !alert && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
      alert = (await rig.get('/api/v1/alerts')).body.alerts.find((a: any) => a.detector === 'bulk-transaction');
    }
    expect(alert, 'a bulk-transaction alert').toBeTruthy();
    const one = await rig.get(`/api/v1/alerts/${encodeURIComponent(alert.id)}`);
    expect(one.status).toBe(200);
    expect(one.body.alert).toMatchObject({ actor: { agent: 'deploy-bot' }, evidence: { deleted: 300, tableRows: 1000 } });
    expect(one.body.alert.undo).toMatch(/^rowtrail undo /);
    expect(one.body.changes.length).toBe(100); // the first page of the evidence rows
    expect(one.body.more).toBe(true);
    expect(one.body.changes.every((c: any) => c.op === 'delete')).toBe(true);

    const tx = one.body.alert.txIds[0];
    const clean = await rig.get(`/api/v1/undo/preview?tx=${encodeURIComponent(tx)}`);
    expect(clean.status).toBe(200);
    expect(clean.body).toMatchObject({ changes: 300, conflicts: [], refusals: [] });
    expect(clean.body.steps).toHaveLength(300);
    expect(clean.body.steps.every((s: any) => s.kind === 'insert')).toBe(true);
    expect(clean.body.command).toBe(`rowtrail undo --tx ${tx} --apply`);
    // Nothing in the preview is SQL with the rows' values.
    expect(JSON.stringify(clean.body)).not.toMatch(/INSERT INTO|owner10\b/);

    // Another session re-creates one of the deleted rows: the undo would collide with it.
    await rig.sql(`INSERT INTO accounts VALUES (10, 'someone else', 1)`);
    await rig.settled();
    const blocked = await rig.get(`/api/v1/undo/preview?tx=${encodeURIComponent(tx)}`);
    expect(blocked.status).toBe(200);
    expect(blocked.body.conflicts).toHaveLength(1);
    expect(blocked.body.conflicts[0]).toMatchObject({ table: 'public.accounts', key: { id: '10' }, found: 'exists' });
    expect(blocked.body.conflicts[0].since[0]).toMatchObject({ op: 'insert', actor: 'postgres' });
  });

  it('serves /metrics as Prometheus text with the capture, per-op and latency series', async () => {
    await rig.sql(`INSERT INTO accounts VALUES (1001, 'm', 1)`);
    await rig.settled();
    await new Promise((r) => setTimeout(r, 600)); // one feed tick
    const r = await rig.get('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseProm(r.body as string);
    const src = rig.cfg.sources[0].name;
    expect(samples.get(`rowtrail_source_connected{source="${src}",kind="postgres"}`)).toBe(1);
    expect(samples.get(`rowtrail_changes_by_op_total{source="${src}",op="insert"}`)).toBeGreaterThanOrEqual(1);
    expect(samples.get(`rowtrail_changes_by_op_total{source="${src}",op="delete"}`)).toBe(300);
    expect(samples.get(`rowtrail_commit_to_readable_seconds_count{source="${src}"}`)).toBeGreaterThan(0);
    expect(samples.get('rowtrail_alerts{severity="warning",state="open"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('rowtrail_store_bytes')).toBeGreaterThan(0);
    expect(samples.has('process_resident_memory_bytes')).toBe(true);
    expect(samples.has(`rowtrail_lag_seconds{source="${src}",kind="postgres"}`)).toBe(true);
  });
});

describe("the demo's last section", () => {
  it("opens the UI on the agent's alert with a one-time link that logs in", async () => {
    const page = await agentPage(rig.daemon, 'deploy-bot', new AbortController().signal);
    const alert = rig.daemon.store.alerts({}).find((a) => a.actor?.agent === 'deploy-bot')!;
    expect(page).toBe(`/alerts/${encodeURIComponent(alert.id)}`);
    expect(await agentPage(rig.daemon, 'nobody', new AbortController().signal)).toBe('/feed?actor=nobody');
    const ui = await startDemoUi(rig.cfg, rig.daemon, silentLogger, page);
    try {
      const m = /^(http:\/\/127\.0\.0\.1:\d+)\/#token=([\w-]+)&go=(.+)$/.exec(ui.link)!;
      expect(m, ui.link).not.toBeNull();
      expect(decodeURIComponent(m[3])).toBe(page);
      const login = await fetch(`${m[1]}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: m[2] }) });
      expect(login.status).toBe(204);
      const cookie = login.headers.get('set-cookie')!.split(';')[0];
      const r = await fetch(`${m[1]}/api/v1${page}`, { headers: { cookie } });
      expect(r.status).toBe(200);
      expect(((await r.json()) as any).alert.id).toBe(alert.id);
    } finally {
      await ui.http.close();
    }
  });
});

describe('bad input', () => {
  it('fails with one clear line when the port is taken', async () => {
    const second = startHttp({ host: '127.0.0.1', port: rig.http.port, token: TOKEN, metrics: () => [], health: () => ({ healthy: true, sources: {} }) });
    await expect(second).rejects.toThrow(`http: 127.0.0.1:${rig.http.port} is in use; set http.port (or ROWTRAIL_HTTP_PORT)`);
    expect((await rig.get('/healthz', { token: null })).status).toBe(200);
  });

  it('sends a burst larger than a tick allows as its newest events in commit order, and says how many it left out', async () => {
    const feed = new LiveFeed(rig.daemon.store, { intervalMs: 50, maxEventsPerTick: 3 });
    const server = createServer((_req, res) => feed.subscribe(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const reader = res.body!.getReader();
      let text = '';
      const read = async (until: RegExp) => {
        while (!until.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      };
      await read(/event: hello/);
      feed.start();
      await rig.sql(`UPDATE accounts SET owner = owner || '.' WHERE id IN (13, 14, 15, 16, 17, 18, 19, 23, 24, 25)`);
      await read(/event: skipped\ndata: .*\n\n/);
      const changes = [...text.matchAll(/event: change\ndata: (.*)\n\n/g)].map((m) => JSON.parse(m[1]));
      const all = [...rig.daemon.store.changes({ txIds: [changes[0].tx.id] })];
      expect(all).toHaveLength(10);
      expect(changes.map((c) => c.id)).toEqual(all.slice(-3).map((c) => c.id));
      expect(JSON.parse(/event: skipped\ndata: (.*)\n/.exec(text)![1])).toEqual({ count: 7 });
      await reader.cancel();
    } finally {
      feed.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('disconnects a live-feed client that never reads, instead of buffering for it', async () => {
    const feed = new LiveFeed(rig.daemon.store, { intervalMs: 50, maxEventsPerTick: 1_000_000, maxBufferedBytes: 256 * 1024 });
    const server = createServer((_req, res) => feed.subscribe(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    feed.start();
    try {
      // A client that sends its request and then never reads a byte.
      const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
      await new Promise<void>((r) => sock.once('connect', r));
      sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      sock.pause();
      const closed = new Promise<void>((r) => sock.once('close', () => r()));
      await expect.poll(() => feed.size).toBe(1);
      // Several MB of changes: more than the kernel's socket buffers and the feed's bound.
      for (let i = 0; i < 12; i++) await rig.sql(`UPDATE accounts SET owner = owner || '' WHERE id <= 1000`);
      await rig.settled();
      await rig.sql(`UPDATE accounts SET owner = owner || '' WHERE id = 1`); // one more tick with data
      await expect.poll(() => feed.dropped, { timeout: 10_000 }).toBe(1);
      expect(feed.size).toBe(0);
      sock.resume(); // drain what the kernel held: then the server's close arrives
      await closed;
    } finally {
      feed.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('metrics under load', () => {
  it('the lag series move while capture is behind, and come back to 0', async () => {
    const src = rig.cfg.sources[0].name;
    const lag = async () => {
      const m = parseProm((await rig.get('/metrics')).body as string);
      const series = (name: string) => m.get(`${name}{source="${src}",kind="postgres"}`) ?? 0;
      return { bytes: series('rowtrail_lag_bytes'), seconds: series('rowtrail_lag_seconds'), retained: series('rowtrail_retained_wal_bytes') };
    };
    let scraping = true;
    let max = { bytes: 0, seconds: 0, retained: 0 };
    const scraper = (async () => {
      while (scraping) {
        const l = await lag();
        max = { bytes: Math.max(max.bytes, l.bytes), seconds: Math.max(max.seconds, l.seconds), retained: Math.max(max.retained, l.retained) };
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // 300k rows in one transaction: capture needs a while to decode and store them. A scrape can miss that
    // window on a fast or busy machine (the server position is polled): up to three rounds until both moved.
    for (let round = 0, from = 100001; round < 3 && (max.bytes === 0 || max.seconds === 0); round++, from += 300000) {
      await rig.sql(`INSERT INTO accounts SELECT g, 'load' || g, g FROM generate_series(${from}, ${from + 299999}) g`);
      await rig.settled();
    }
    scraping = false;
    await scraper;
    console.log(`lag under load: max ${max.bytes} bytes, ${max.seconds} s; WAL retained for the slot: max ${max.retained} bytes`);
    expect(max.bytes).toBeGreaterThan(0);
    // the slot cannot release WAL rowtrail has not confirmed: the retained WAL is at least the lag seen
    expect(max.retained).toBeGreaterThan(0);
    expect(max.seconds).toBeGreaterThan(0);
    await expect.poll(async () => (await lag()).seconds, { timeout: 30_000 }).toBe(0);
  }, 120_000);
});

/**
 * A strict reader of the Prometheus text format (0.0.4): every line is a comment (# HELP / # TYPE with a
 * known type) or `name{label="value",…} number`; each family has one TYPE before its samples. NaN and Inf
 * in any case, as Prometheus reads them (Go's ParseFloat): prom-client writes an empty event-loop histogram's
 * mean as `Nan`.
 */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped'], line).toContain(m[3]);
        expect(typed.has(m[2]), `second TYPE for ${m[2]}`).toBe(false);
        typed.add(m[2]);
      }
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-][Ii]nf)( -?\d+)?$/.exec(line);
    expect(m, `not a Prometheus sample line: ${line}`).not.toBeNull();
    const family = m![1].replace(/_(bucket|sum|count)$/, '');
    expect(typed.has(m![1]) || typed.has(family), `sample before its TYPE: ${line}`).toBe(true);
    out.set(`${m![1]}${m![2] ?? ''}`, Number(m![3]));
  }
  return out;
}

// Last: its changes (a table, an insert, a delete) must not count in the tests above (actors, per-op metrics).
describe('masking', () => {
  it('serves masked values only: the pseudonym and the last four, never the address or the card (masking is on by default)', async () => {
    const email = 'api.masking-3391@example.com';
    const card = '4111111111111111';
    await rig.sql(`CREATE TABLE public.contacts (id int PRIMARY KEY, email text, card_number text)`);
    await rig.sql(`INSERT INTO public.contacts VALUES (1, '${email}', '${card}')`);
    await rig.sql(`/*agent='deploy-bot',run='r-mask'*/ DELETE FROM public.contacts`);
    await rig.settled();
    const bodies = [
      await rig.get('/api/v1/changes?table=public.contacts'),
      await rig.get(`/api/v1/history?table=public.contacts&key=${encodeURIComponent('{"id":"1"}')}`),
      await rig.get('/api/v1/undo/preview?agentRun=r-mask'),
    ];
    const text = bodies.map((b) => JSON.stringify(b.body)).join('\n');
    expect(bodies[0].status).toBe(200);
    const insert = bodies[0].body.changes.find((c: any) => c.op === 'insert');
    expect(insert.after.email).toMatch(/^h:[a-z2-7]{16}$/);
    expect(bodies.map((b) => b.status)).toEqual([200, 200, 200]);
    expect(text).toContain('••••1111');
    expect(text).not.toContain(email);
    expect(text).not.toContain(card);
  });
});
