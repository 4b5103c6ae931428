/**
 * `rowtrail demo`: the core story on an embedded PostgreSQL, in one process and under a minute.
 *
 * An embedded PostgreSQL starts in a fresh temp dir on a free port; `rowtrail setup` (precise identity) and the
 * daemon run against it in this process; the story of `demo-story.ts` plays; then the report reads the store
 * with the library functions the commands use (actors, changes, blame, undo), applies the undo and proves with
 * row counts and checksums that the tables are back. Everything is removed on exit, Ctrl-C included.
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig, sourceUrl, type Config } from '../config/index.js';
import { RowtrailError, oneLine } from '../errors.js';
import { createLogger } from '../log/index.js';
import { startDaemon, type Daemon } from '../daemon.js';
import type { Alert } from '../model/index.js';
import { sourceKind } from '../sources/index.js';
import { Store } from '../store/index.js';
import { applyUndo, prepareUndo, renderSql } from '../undo/index.js';
import { blame } from '../history/index.js';
import { actorText, actorsTable, changeLines, changesSummary, changesText, historyHeading, table } from '../present/index.js';
import {
  AGENT,
  AGENT_TX,
  BLAME_ROW,
  DATABASE,
  SCHEMA_SQL,
  SOURCE,
  STORY,
  TABLES,
  checksumSql,
  demoConfigYaml,
  rolesSql,
  type StoryActor,
  type StoryTx,
} from './demo-story.js';
import { serverUser } from './embedded.js';
import { agentPage, openBrowser, startDemoUi } from './demo-ui.js';
import { startWebhookReceiver, type WebhookReceiver } from './receiver.js';
import { evidenceLine } from '../alerts/alert-text.js';
import { Interrupted, Resources, ensurePortFree, freePort, makeTempDir, printer, startPostgres, streams, write, type Printer } from './session.js';

export interface DemoOptions {
  /** Pause between sections (only at a terminal). `--no-ui` turns it off. */
  ui: boolean;
  /** Leave PostgreSQL and the daemon running until Ctrl-C. */
  keep: boolean;
  /** Port for PostgreSQL on 127.0.0.1; default a free one. */
  port?: number;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const CAPTURE_TIMEOUT_MS = 20_000;

/** Why the demo stopped early: a signal, its output closed, or an error thrown where nothing awaited it. */
type Stop = { signal: NodeJS.Signals } | { epipe: true } | { error: unknown };

/**
 * Plays the demo; whatever ends it — the end of the story, Ctrl-C, SIGTERM, SIGHUP, a closed stdout
 * (`demo | head`, or `--keep | tee` and Ctrl-C), an error — stops the daemon and PostgreSQL and removes the
 * temp dir before it returns (or throws).
 */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const p = printer();
  const ac = new AbortController();
  let stop: Stop | null = null;
  const halt = (why: Stop) => {
    if (stop) return; // a second Ctrl-C while cleaning up: the cleanup is already under way
    stop = why;
    if ('signal' in why) write(process.stderr, `\nrowtrail demo: ${why.signal}: stopping the daemon and PostgreSQL, removing the temp dir…\n`);
    ac.abort();
  };
  const onSignal = (signal: NodeJS.Signals) => halt({ signal });
  const onStreamError = (e: NodeJS.ErrnoException) => {
    streams.closed = true; // EPIPE and the like: the reader is gone, so is the point of going on
    halt(e.code === 'EPIPE' ? { epipe: true } : { error: e });
  };
  const onFatal = (error: unknown) => halt({ error });
  // Why the CLI's own listeners are set aside: on a closed stdout it exits at once (process.exit), which would
  // leave PostgreSQL's data and the temp dir behind; the demo stops and cleans up first.
  const cliListeners = { stdout: process.stdout.listeners('error'), stderr: process.stderr.listeners('error') };
  process.stdout.removeAllListeners('error');
  process.stderr.removeAllListeners('error');
  for (const s of SIGNALS) process.on(s, onSignal);
  process.stdout.on('error', onStreamError);
  process.stderr.on('error', onStreamError);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);

  const res = new Resources();
  let code = 0;
  try {
    code = await play(opts, p, ac.signal, res);
  } catch (e) {
    // After a stop, whatever failed (a query on a server the terminal's Ctrl-C also stopped) is moot.
    if (!stop) throw e;
  } finally {
    await res.cleanup();
    for (const s of SIGNALS) process.off(s, onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
    if (!streams.closed) {
      // the demo's own listeners stay where output is gone (a late write must not crash); else the CLI's return
      process.stdout.off('error', onStreamError);
      process.stderr.off('error', onStreamError);
      for (const l of cliListeners.stdout) process.stdout.on('error', l as (e: Error) => void);
      for (const l of cliListeners.stderr) process.stderr.on('error', l as (e: Error) => void);
    }
  }
  const why = stop as Stop | null;
  if (why && 'error' in why) throw why.error;
  if (why && 'epipe' in why) return 141; // as if killed by SIGPIPE, the shell's convention
  if (why) {
    write(process.stderr, `rowtrail demo: interrupted; nothing left running${res.dir ? `, ${res.dir} removed` : ''}\n`);
    return 128 + (constants.signals[why.signal] ?? 2); // the shell's convention: 130 for Ctrl-C, 143 for SIGTERM
  }
  return code;
}

async function play(opts: DemoOptions, p: Printer, signal: AbortSignal, res: Resources): Promise<number> {
  const checkpoint = () => {
    if (signal.aborted) throw new Interrupted();
  };
  const pause = async () => {
    checkpoint();
    if (!opts.ui || !process.stdin.isTTY || !process.stdout.isTTY) return;
    await pressEnter(p, signal);
    checkpoint();
  };
  const t0 = Date.now();

  p.out(p.bold('rowtrail demo') + ' — a person, a billing service and an AI agent write to one shop database;');
  p.out('rowtrail records every row change, says who made it, and puts the agent\'s damage back.');

  // 1. embedded PostgreSQL
  const port = opts.port ?? (await freePort());
  if (opts.port !== undefined) await ensurePortFree(opts.port);
  const runAs = serverUser();
  res.dir = makeTempDir(runAs);
  const dir = res.dir;
  const password = randomBytes(12).toString('hex');
  p.heading(1, `Embedded PostgreSQL on 127.0.0.1:${port}`);
  const tPg = Date.now();
  await startPostgres(dir, port, password, runAs, res, signal);
  checkpoint();
  const adminUrl = (db: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`;
  const roleUrl = (role: string) => `postgres://${role}:${password}@127.0.0.1:${port}/${DATABASE}`;
  await withClient(adminUrl('postgres'), 'rowtrail-demo', (c) => c.query(`CREATE DATABASE ${DATABASE}`));
  const admin = await connect(adminUrl(DATABASE), 'rowtrail-demo', res);
  for (const sql of [...SCHEMA_SQL, ...rolesSql(password)]) await admin.query(sql);
  const version = (await admin.query(`SELECT current_setting('server_version') AS v`)).rows[0].v as string;
  p.out(`PostgreSQL ${version} started in ${secs(Date.now() - tPg)} in ${dir}`);
  p.out(`database ${DATABASE}: customers (with emails), products (with prices), orders; roles alice, svc_billing, svc_app`);
  checkpoint();

  // 2. setup + daemon
  p.heading(2, 'rowtrail setup (precise identity) and rowtrail watch');
  const configFile = join(dir, 'rowtrail.yaml');
  const hook = { secret: randomBytes(24).toString('hex'), url: '' };
  const receiver = await startWebhookReceiver(hook.secret);
  res.clients.push({ end: () => receiver.close() });
  hook.url = receiver.url;
  writeFileSync(configFile, demoConfigYaml(adminUrl(DATABASE), join(dir, 'rowtrail-data'), hook), { mode: 0o600 });
  // Why an empty env: a ROWTRAIL_STORE_PATH (or similar) of the user's own setup must not redirect the demo.
  const cfg = loadConfig(configFile, {});
  const src = cfg.sources[0]!;
  p.cmd('rowtrail setup --replica-identity full');
  const setup = await sourceKind(src).setup(sourceUrl(src), src, { replicaIdentity: 'full' });
  p.indent(setup.notes.map((n) => `${src.name}: ${n}`));
  p.cmd('rowtrail watch   (running inside this process)');
  res.logStream = createWriteStream(join(dir, 'daemon.log'));
  const log = createLogger({ pretty: false, stream: res.logStream });
  const daemon = startDaemon(cfg, log);
  res.daemon = daemon;
  let daemonError: unknown = null;
  daemon.done.catch((e) => (daemonError = e));
  res.reader = Store.open(cfg.store.path, { readonly: true });
  const store = res.reader;
  await pause();

  // 3. the story
  p.heading(3, 'The story');
  for (const step of STORY) {
    p.out(p.bold(`${step.actor.label}`) + p.dim(`  [role ${step.actor.role}, application ${step.actor.application}]`));
    await runStep(step.actor, step.txs, roleUrl(step.actor.role), res, p, signal);
    checkpoint();
  }
  const before = await checksums(admin);
  p.out(p.bold(AGENT_TX.actor.label) + p.dim(`  [role ${AGENT_TX.actor.role}, application ${AGENT_TX.actor.application}]`));
  p.out(`  ${AGENT_TX.says}:`);
  p.indent(['BEGIN;', ...AGENT_TX.statements.map((s) => `${s};`), 'COMMIT;'], '    ');
  await runStep(AGENT_TX.actor, [AGENT_TX], roleUrl(AGENT_TX.actor.role), res, p, signal, true);
  const afterAgent = await checksums(admin);
  const agentEvents = await waitFor(p, signal, () => daemonError, 'the agent\'s transaction', () => {
    const evs = [...store.changes({ source: SOURCE, agentRun: AGENT.run })];
    return evs.length ? evs : null;
  });
  await pause();

  // 4. the alert, as the user's own endpoint receives it
  const tx = agentEvents[0]!.tx;
  p.heading(4, 'The alert');
  await showAlerts(p, daemon, receiver, tx.id, signal);
  await pause();

  // 5. who changed what
  p.heading(5, 'Who changed what');
  p.cmd('rowtrail actors');
  const actors = store.actors({ source: SOURCE });
  p.indent(actorsTable(actors));
  p.out(p.dim('  svc_app is one shared account: the shop app and the agent both use it; the agent\'s sqlcommenter tag tells them apart.'));
  await pause();

  // 6. the agent's transaction
  const a = agentEvents[0]!.actor;
  p.heading(6, "The agent's transaction");
  p.cmd(`rowtrail changes --tx ${tx.id}`);
  const samples = [
    ...agentEvents.filter((e) => e.table === 'products').slice(0, 3),
    ...agentEvents.filter((e) => e.table === 'customers').slice(0, 2),
    ...agentEvents.filter((e) => e.table === 'orders').slice(0, 1),
  ];
  // What `rowtrail changes` prints for these changes, with the session and a count after its heading.
  const [heading, ...body] = [...changesText(samples)];
  p.out(`  ${heading}`);
  const pairs = Object.entries(a.context ?? {}).map(([k, v]) => `${k}=${v}`);
  p.out(`    session: role ${a.user}, application ${a.application}, pid ${a.sessionId}; context: ${pairs.join(', ')}`);
  p.out(`    ${tx.size} row changes: ${changesSummary(agentEvents)}; some of them:`);
  p.indent(body);
  p.out(p.dim(`  … and ${agentEvents.length - samples.length} more (rowtrail changes --tx ${tx.id} --json prints them all)`));
  await pause();

  // 7. blame
  p.heading(7, 'One damaged row');
  p.cmd(`rowtrail blame ${BLAME_ROW.table} ${BLAME_ROW.key}`);
  for (const ev of blame(store, { table: BLAME_ROW.table, values: [BLAME_ROW.key], source: SOURCE })) {
    p.out(`  ${historyHeading(ev, false)}`);
    p.indent(changeLines(ev), '  ');
  }
  await pause();

  // 8. the undo script
  p.heading(8, "The undo for the agent's transaction");
  p.cmd(`rowtrail undo --tx ${tx.id}`);
  const { plan, dialect, conn } = await prepareUndo(store, cfg as Config, { filter: { source: SOURCE, txIds: [tx.id] } });
  res.clients.push({ end: () => conn.close() });
  if (plan.conflicts.length || plan.refusals.length) {
    throw new RowtrailError('UNDO', `the undo reported ${plan.conflicts.length} conflict(s) and ${plan.refusals.length} refusal(s); the demo expected none`);
  }
  p.indent(abbreviate(renderSql(plan, dialect), 26));
  await pause();

  // 9. apply and prove
  p.heading(9, 'Apply the undo and prove the tables are back');
  p.cmd(`rowtrail undo --tx ${tx.id} --apply --yes`);
  const applied = await applyUndo(conn, dialect, plan);
  p.out(`  applied undo ${applied.runId}: ${applied.statements} statement(s), ${applied.rows} row(s), in one transaction`);
  const afterUndo = await checksums(admin);
  const undoEvents = await waitFor(p, signal, () => daemonError, 'the undo', () => {
    const evs = [...store.changes({ source: SOURCE, agentRun: applied.runId })];
    return evs.length ? evs : null;
  });
  p.out(`  the undo itself was captured: tx ${undoEvents[0]!.tx.id} by ${actorText(undoEvents[0]!)}, run ${applied.runId}, ${undoEvents.length} row changes`);
  p.out();
  const restored = TABLES.every((t) => before[t]!.n === afterUndo[t]!.n && before[t]!.sum === afterUndo[t]!.sum);
  const cell = (c: { n: string; sum: string }) => `${c.n} rows  ${c.sum.slice(0, 12)}`;
  p.indent(
    table(
      ['table', 'before the agent', 'after the agent', 'after the undo', ''],
      TABLES.map((t) => {
        const same = before[t]!.sum === afterUndo[t]!.sum && before[t]!.n === afterUndo[t]!.n;
        return [t, cell(before[t]!), cell(afterAgent[t]!), cell(afterUndo[t]!), same ? 'restored' : 'DIFFERENT'];
      }),
    ),
  );
  p.out(p.dim('  checksum: md5 of every row in its text form, in key order (first 12 hex digits shown)'));
  p.out(
    restored
      ? p.green(`RESULT: restored — all ${TABLES.length} tables have the row counts and checksums they had before the agent`)
      : p.red('RESULT: NOT restored — some table differs from its state before the agent'),
  );
  p.out(p.dim(`(demo took ${secs(Date.now() - t0)})`));

  // 10. the web UI, at a terminal (not with --no-ui): open on the agent's alert until Ctrl-C.
  if (opts.ui && process.stdin.isTTY && process.stdout.isTTY && restored) {
    p.heading(10, 'The web UI');
    const page = await agentPage(daemon, AGENT.agent, signal);
    const ui = await startDemoUi(cfg as Config, daemon, log, page);
    res.clients.push({ end: () => ui.http.close() });
    p.out(`  ${page.startsWith('/alerts/') ? "the agent's alert" : "the agent's changes"}: ${ui.link}`);
    p.out(p.dim(`  (a one-time login link for this run; ${openBrowser(ui.link) ? 'opened in your browser' : 'open it in a browser on this machine'})`));
    if (!opts.keep) {
      p.out('press Ctrl-C to stop the daemon and PostgreSQL and remove ' + dir);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return 0;
    }
  }

  if (opts.keep) {
    printKeep(p, { port, dir, configFile, password, txId: tx.id, undoRun: applied.runId });
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    return restored ? 0 : 1;
  }
  p.heading(null, 'Cleaning up');
  p.out('stopping the daemon and PostgreSQL, removing ' + dir);
  if (!restored) throw new RowtrailError('UNDO', 'the undo did not restore the tables (see the table above)');
  return 0;
}

/**
 * Waits for the alerts the detectors raised on the agent's transaction to reach the demo's webhook receiver,
 * and prints them as it got them. Fails when none arrives: the story is about that alert.
 */
async function showAlerts(p: Printer, daemon: Daemon, receiver: WebhookReceiver, txId: string, signal: AbortSignal): Promise<void> {
  const ofAgent = (a: Alert) => a.actor?.agent === AGENT.agent && a.txIds.includes(txId);
  const first = await receiver.next((r) => ofAgent(r.alert), CAPTURE_TIMEOUT_MS, signal);
  if (signal.aborted) throw new Interrupted();
  if (!first) {
    const stored = daemon.store.alerts({ limit: 50 }).filter(ofAgent).length;
    const why = stored ? `${stored} alert(s) stored but not delivered (${receiver.refused} refused by the receiver)` : 'no alert raised';
    throw new RowtrailError('INTERNAL', `the agent's alert did not reach the webhook receiver within ${CAPTURE_TIMEOUT_MS / 1000} s: ${why}`);
  }
  // The detectors read the whole transaction at once: every alert of it is stored by now; wait for their delivery.
  const ids = new Set(daemon.store.alerts({ limit: 50 }).filter(ofAgent).map((a) => a.id));
  const got = () => new Set(receiver.received.filter((r) => ids.has(r.alert.id)).map((r) => r.alert.id));
  await receiver.next(() => got().size >= ids.size, 5_000, signal);
  p.out(`rowtrail's detectors read each transaction once it is stored. The webhook receiver this demo runs at`);
  p.out(`${receiver.url} got, with a valid signature (X-Rowtrail-Signature, as README "Alert channels" checks it):`);
  const seen = new Set<string>();
  for (const { alert, event } of receiver.received) {
    if (!ofAgent(alert) || seen.has(alert.id)) continue;
    seen.add(alert.id);
    p.out(`  ${alert.severity === 'critical' ? p.red('[critical]') : p.bold(`[${alert.severity}]`)} ${alert.title}`);
    p.out(p.dim(`    ${event} · ${alert.detector} · ${evidenceLine(alert)} · alert ${alert.id}`));
    if (alert.undo) p.out(`    undo: ${alert.undo}`);
  }
}

function printKeep(p: Printer, k: { port: number; dir: string; configFile: string; password: string; txId: string; undoRun: string }): void {
  p.heading(null, 'Still running (--keep)');
  p.out(`PostgreSQL: 127.0.0.1:${k.port}, database ${DATABASE}; password of every role: ${k.password}`);
  p.out(`  psql 'postgres://alice:${k.password}@127.0.0.1:${k.port}/${DATABASE}'`);
  p.out(`config (the daemon runs in this process): ${k.configFile}`);
  p.out('try, in another terminal:');
  const c = `-c ${k.configFile}`;
  for (const line of [
    `npx rowtrail actors ${c}`,
    `npx rowtrail changes ${c} --actor pricing-agent`,
    `npx rowtrail blame ${c} ${BLAME_ROW.table} ${BLAME_ROW.key}`,
    `npx rowtrail undo ${c} --agent-run ${k.undoRun}        # the undo of the undo`,
    `npx rowtrail doctor ${c}`,
  ]) p.out(`  ${line}`);
  p.out('press Ctrl-C to stop the daemon and PostgreSQL and remove ' + k.dir);
}

/** Runs an actor's transactions: one session in order, or a pool running them concurrently. */
async function runStep(actor: StoryActor, txs: StoryTx[], url: string, res: Resources, p: Printer, signal: AbortSignal, quiet = false): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, application_name: actor.application, max: actor.pooled ?? 1 });
  pool.on('error', () => undefined);
  res.clients.push(pool);
  try {
    await Promise.all(
      txs.map(async (tx) => {
        if (signal.aborted) throw new Interrupted();
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          for (const s of tx.statements) await c.query(s);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        } finally {
          c.release();
        }
        if (!quiet && !signal.aborted) p.out(`  ${tx.says}`);
      }),
    );
  } finally {
    res.clients.splice(res.clients.indexOf(pool), 1);
    await pool.end();
  }
}

async function connect(url: string, app: string, res: Resources): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: app });
  c.on('error', () => undefined);
  await c.connect();
  res.clients.push(c);
  return c;
}

async function withClient<T>(url: string, app: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: app });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function checksums(c: pg.Client): Promise<Record<string, { n: string; sum: string }>> {
  const out: Record<string, { n: string; sum: string }> = {};
  for (const t of TABLES) out[t] = (await c.query(checksumSql(t))).rows[0];
  return out;
}

/** Polls the store until `probe` finds what it looks for; fails on timeout or when the daemon failed. */
async function waitFor<T>(_p: Printer, signal: AbortSignal, failed: () => unknown, what: string, probe: () => T | null): Promise<T> {
  const deadline = Date.now() + CAPTURE_TIMEOUT_MS;
  for (;;) {
    if (signal.aborted) throw new Interrupted();
    const err = failed();
    if (err) throw new RowtrailError('INTERNAL', `the daemon stopped: ${oneLine(err)}`, err);
    const got = probe();
    if (got) return got;
    if (Date.now() > deadline) throw new RowtrailError('INTERNAL', `capture did not record ${what} within ${CAPTURE_TIMEOUT_MS / 1000} s`);
    await sleep(50);
  }
}

/** The first lines of a long script, a count of what was left out, and its last lines. */
export function abbreviate(text: string, maxLines: number): string[] {
  const lines = text.replace(/\n$/, '').split('\n');
  if (lines.length <= maxLines) return lines;
  const head = lines.slice(0, maxLines - 4);
  const tail = lines.slice(-3);
  return [...head, `-- … ${lines.length - head.length - tail.length} more lines …`, ...tail];
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for Enter at the terminal (cooked mode, so Ctrl-C stays a real SIGINT). */
function pressEnter(p: Printer, signal: AbortSignal): Promise<void> {
  write(process.stdout, p.dim('  [Enter] to continue '));
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, terminal: false });
    const done = () => {
      rl.close();
      signal.removeEventListener('abort', done);
      resolve();
    };
    rl.once('line', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

