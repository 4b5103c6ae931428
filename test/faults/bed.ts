/**
 * The fault suite's test bed: one database server per test file, and per scenario a fresh database, a fault
 * proxy in front of it, a store, `rowtrail watch` as a child process pointing at the proxy, and the ledger
 * workload writing directly to the server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { Store } from '../../src/store/index.js';
import type { ChangeEvent } from '../../src/model/index.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { startMariadb, type MariaServer } from '../harness/mariadb.js';
import { startProxy, type TcpProxy } from '../harness/proxy.js';
import { runCli } from '../harness/cli.js';
import { healthz, startWatch, type LogLine, type WatchDaemon } from '../harness/daemon.js';
import { judge, mariaLedger, pgLedger, Workload, type LedgerTarget, type Verdict } from './ledger.js';
import type { FaultFigure } from './figures.js';

export type DbLabel = FaultFigure['db'];

export interface Bed {
  db: DbLabel;
  /** The source name in the config. */
  source: string;
  /** Stops the server (`fast`: clean; `immediate`: crash), keeps it down `downMs`, starts it again. */
  restart(mode: 'fast' | 'immediate', downMs: number): Promise<void>;
  /** Ends the identity sampler's sessions on the server; returns how many it ended. */
  killSampler(): Promise<number>;
  scenario(name: string, opts?: { storePath?: string }): Promise<Scenario>;
  destroy(): Promise<void>;
}

let counter = 0;

/**
 * The daemon and commands run from the compiled CLI (`npm run test:faults` builds first): a suite that starts
 * ~50 rowtrail processes spends half the start-up time that way. ROWTRAIL_FAULTS_TSX=1 runs src through tsx.
 */
export const BUILT = process.env.ROWTRAIL_FAULTS_TSX !== '1';

/** Bed.restart for a harness server (both kinds stop `fast` or `immediate` and start again). */
function restartFor(server: { stop(mode: 'fast' | 'immediate'): Promise<void>; start(): Promise<void> }): Bed['restart'] {
  return async (mode, downMs) => {
    await server.stop(mode);
    await sleep(downMs);
    await server.start();
  };
}

export async function postgresBed(): Promise<Bed> {
  // synchronous_commit on: a crash restart must not lose commits the workload saw succeed. A short
  // wal_sender_timeout: after a blackhole the server keeps the old walsender (and the slot) until it times
  // out; the default 60 s would dominate every recovery figure.
  const server: PgServer = await startPostgres({ conf: { synchronous_commit: 'on', wal_sender_timeout: "'10s'", logical_decoding_work_mem: "'64kB'" } });
  const bed: Bed = {
    db: 'PostgreSQL',
    source: 'pg',
    restart: restartFor(server),
    async killSampler() {
      const out = await server.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'rowtrail-sampler'`);
      return Number(out.trim());
    },
    async scenario(name, opts = {}) {
      const db = await server.freshDatabase(`f_${name.replace(/\W/g, '_')}`);
      const target = await pgLedger(server, db);
      const proxy = await startProxy(server.port);
      const dir = mkdtempSync(join(tmpdir(), 'rowtrail-faults-'));
      const slot = `f_${process.pid}_${counter++}`;
      const config = join(dir, 'rowtrail.yaml');
      const store = opts.storePath ?? join(dir, 'data');
      writeFileSync(
        config,
        `sources:\n  - name: pg\n    kind: postgres\n    url: ${proxy.rewrite(server.url(db))}\n    slot: ${slot}\n    publication: ${slot}\n` +
          `    tables: [public.ledger, public.items]\nstore:\n  path: ${store}\n`,
      );
      const setup = await runCli(['setup', '--config', config, '--replica-identity', 'full'], { built: BUILT });
      if (setup.code !== 0) throw new Error(`setup failed: ${setup.stderr}`);
      return new Scenario(bed, name, dir, config, store, proxy, target, async () => {
        await server.psql(`SELECT pg_drop_replication_slot('${slot}') WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}' AND NOT active)`);
      });
    },
    destroy: () => server.destroy(),
  };
  return bed;
}

export async function mariadbBed(): Promise<Bed> {
  // performance_schema: the sampler reads statement history (attribution), and the fault "sampler goes
  // away" finds the sampler's sessions by their program_name connect attribute.
  const server: MariaServer = await startMariadb({
    args: [
      '--performance-schema=ON',
      '--performance-schema-consumer-events-statements-current=ON',
      '--performance-schema-consumer-events-statements-history-long=ON',
      '--max-connections=200',
    ],
  });
  const admin = () => mysql.createConnection({ host: '127.0.0.1', port: server.port, user: 'root' });
  const bed: Bed = {
    db: 'MariaDB',
    source: 'maria',
    restart: restartFor(server),
    async killSampler() {
      const c = await admin();
      try {
        const [rows] = await c.query(
          `SELECT PROCESSLIST_ID AS id FROM performance_schema.session_connect_attrs WHERE ATTR_NAME = 'program_name' AND ATTR_VALUE = 'rowtrail-sampler'`,
        );
        let n = 0;
        for (const r of rows as { id: number }[]) n += await c.query(`KILL ${Number(r.id)}`).then(() => 1, () => 0);
        return n;
      } finally {
        await c.end();
      }
    },
    async scenario(name, opts = {}) {
      const db = `f_${name.replace(/\W/g, '_')}_${counter++}`;
      const target = await mariaLedger(server, db);
      const proxy = await startProxy(server.port);
      const dir = mkdtempSync(join(tmpdir(), 'rowtrail-faults-'));
      const config = join(dir, 'rowtrail.yaml');
      const store = opts.storePath ?? join(dir, 'data');
      writeFileSync(
        config,
        `sources:\n  - name: maria\n    kind: mysql\n    url: ${proxy.rewrite(server.url(db))}\n    serverId: ${4000 + counter}\n` +
          `    tables: [${db}.ledger, ${db}.items]\nstore:\n  path: ${store}\n`,
      );
      return new Scenario(bed, name, dir, config, store, proxy, target, async () => undefined);
    },
    destroy: () => server.destroy(),
  };
  return bed;
}

/** One scenario: its daemons (a new one after each kill), proxy, workload and store. */
export class Scenario {
  readonly daemons: WatchDaemon[] = [];
  readonly workload: Workload;

  constructor(
    readonly bed: Bed,
    readonly name: string,
    readonly dir: string,
    readonly config: string,
    readonly store: string,
    readonly proxy: TcpProxy,
    readonly target: LedgerTarget,
    private readonly dropExtra: () => Promise<void>,
  ) {
    this.workload = new Workload(target);
  }

  get daemon(): WatchDaemon {
    return this.daemons[this.daemons.length - 1]!;
  }

  startDaemon(): WatchDaemon {
    const d = startWatch(this.config, { built: BUILT });
    this.daemons.push(d);
    return d;
  }

  /** Starts a daemon and the workload, and waits until a first transaction is in the store. */
  async warm(): Promise<void> {
    const d = this.startDaemon();
    // MySQL stores its start position (the end of the binlog) before it streams: write only after that.
    const deadline = Date.now() + 60_000;
    while (this.position() === null && !d.logs().some((l) => l.msg === 'streaming changes')) {
      if (Date.now() > deadline || d.exitCode() !== undefined) throw new Error(`daemon never started: ${d.output().slice(-1500)}`);
      await sleep(100);
    }
    this.workload.start();
    if ((await this.recovered(60_000)) === null) throw new Error(`nothing captured: ${d.output().slice(-1500)}`);
  }

  position(): string | null {
    try {
      const s = Store.open(this.store, { readonly: true });
      try {
        return s.position(this.bed.source);
      } finally {
        s.close();
      }
    } catch {
      return null;
    }
  }

  /** Distinct ledger rows (= committed transactions) in the store. */
  storedTx(): number {
    try {
      const s = Store.open(this.store, { readonly: true });
      try {
        const r = s.db
          .prepare(
            `SELECT count(DISTINCT c.key) AS n FROM changes c JOIN transactions t ON t.tx_pk = c.tx_pk
             WHERE t.state = 'committed' AND t.source = ? AND c.tbl = 'ledger' AND c.op = 'insert'`,
          )
          .get(this.bed.source) as { n: number };
        return r.n;
      } finally {
        s.close();
      }
    } catch {
      return 0;
    }
  }

  /** Waits until the store has every transaction the database has committed by now: ms taken, or null. */
  async catchUp(timeoutMs = 45_000, from = Date.now()): Promise<number | null> {
    const target = (await this.truthRetrying()).size;
    const deadline = Date.now() + timeoutMs;
    while (this.storedTx() < target) {
      if (Date.now() > deadline) return null;
      await sleep(100);
    }
    return Date.now() - from;
  }

  /**
   * Waits until capture flows again: the store has every transaction committed before this call and at least
   * one committed after it (the workload keeps committing). Ms since `from`, or null after `timeoutMs`.
   */
  async recovered(timeoutMs = 45_000, from = Date.now()): Promise<number | null> {
    const before = (await this.truthRetrying()).size;
    const deadline = Date.now() + timeoutMs;
    while (this.storedTx() <= before) {
      if (Date.now() > deadline) return null;
      await sleep(100);
    }
    return Date.now() - from;
  }

  private async truthRetrying(): Promise<Map<number, number>> {
    for (let i = 0; ; i++) {
      try {
        return await this.target.truth();
      } catch (e) {
        if (i > 100) throw e;
        await sleep(200);
      }
    }
  }

  /** Ms from `since` to the first warning or error any daemon logged after it; null when none. */
  detectedAfter(since: number, pred: (msg: string) => boolean = () => true): number | null {
    const hit = this.firstWarning(since, pred);
    return hit ? hit.time - since : null;
  }

  /** The first warning or error any daemon logged at or after `since`. */
  firstWarning(since: number, pred: (msg: string) => boolean = () => true): LogLine | null {
    const hits = this.daemons.flatMap((d) => d.logs()).filter((l) => l.time >= since && l.level >= 40 && pred(l.msg));
    return hits.sort((a, b) => a.time - b.time)[0] ?? null;
  }

  /** /healthz samples of every daemon in [from, to], without the ones where nothing answered. */
  healthIn(from: number, to: number): { ok: number; bad: number } {
    const s = this.daemons.flatMap((d) => d.health()).filter((h) => h.at >= from && h.at <= to && h.status !== 0);
    return { ok: s.filter((h) => h.status === 200).length, bad: s.filter((h) => h.status !== 200).length };
  }

  /** /healthz of the running daemon, waiting up to 5 s for 200 (health may trail the recovery a little). */
  async healthyNow(): Promise<boolean> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const port = this.daemon.httpPort();
      if (port !== null && (await healthz(port)) === 200) return true;
      if (Date.now() > deadline) return false;
      await sleep(250);
    }
  }

  /**
   * Ends the scenario: stops the workload, waits for the store to catch up, stops the daemon with SIGTERM
   * and compares `rowtrail changes --json` against the ledger.
   */
  async finish(): Promise<Verdict & { stopCode: number | null | 'timeout' }> {
    await this.workload.stop();
    await this.catchUp(20_000);
    this.daemon.kill('SIGTERM');
    const stopCode = await this.daemon.waitExit(20_000);
    const out = await runCli(['changes', '--json', '--config', this.config, '--source', this.bed.source], { timeoutMs: 120_000, built: BUILT });
    if (out.code !== 0) throw new Error(`rowtrail changes failed: ${out.stderr}`);
    const events = out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChangeEvent);
    const verdict = judge(await this.truthRetrying(), this.workload.acked, events, this.workload.user);
    return { ...verdict, stopCode };
  }

  async cleanup(): Promise<void> {
    await this.workload.stop();
    for (const d of this.daemons) {
      d.kill('SIGKILL');
      await d.waitExit(5_000);
    }
    await this.proxy.close();
    await this.dropExtra().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
