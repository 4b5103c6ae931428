/**
 * The faults, each a procedure against a test bed (PostgreSQL or MariaDB): run the workload, inject the
 * fault, recover, and compare the store with the ledger. Correctness is asserted (0 lost, 0 duplicated, no
 * wrong actor, health truthful, a clean stop); timings are recorded as figures, never asserted.
 *
 * Cases marked `depends on:` assert issue 11 behaviour that other branches implement (health contract,
 * receive watchdog, abort during connect, store lock); on a branch without it those assertions fail.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { Store } from '../../src/store/index.js';
import { startWatch } from '../harness/daemon.js';
import { BUILT, type Bed, type Scenario } from './bed.js';
import { recordFigure, type FaultFigure } from './figures.js';

type Row = Omit<FaultFigure, 'db' | 'committedTx' | 'changes' | 'lost' | 'duplicated' | 'wrongActors'>;

/** A warning about capture, not about the identity sampler. */
const capture = (msg: string) => !/^identity/.test(msg);
const rand = (lo: number, hi: number) => Math.round(lo + Math.random() * (hi - lo));

/** The blackhole lasts until the daemon reports it (+2 s) or this long: past the keepalive/watchdog bound. */
const BLACKHOLE_MAX_MS = Number(process.env.ROWTRAIL_FAULTS_BLACKHOLE_MAX_MS ?? 40_000);

/**
 * What /healthz said over a fault. `down`: capture was broken, so it must have said 503 at least once and
 * 200 again after recovery; `up`: capture kept working, so never 503; `after`: too brief or the daemon was
 * dead, so only 200 after recovery.
 */
function healthVerdict(sc: Scenario, kind: 'down' | 'up' | 'after', from: number, to: number, healthyAfter: boolean): string {
  const { ok, bad } = sc.healthIn(from, to);
  if (!healthyAfter) return 'not 200 after recovery';
  if (kind === 'down' && bad === 0) return `200 throughout the fault (${ok} samples)`;
  if (kind === 'up' && bad > 0) return `503 while capture worked (${bad} of ${ok + bad} samples)`;
  return kind === 'after' ? 'truthful (after recovery)' : 'truthful';
}

/** Stops the scenario, records its figure rows, and asserts what a user relies on. */
async function conclude(sc: Scenario, rows: Row[]): Promise<void> {
  const v = await sc.finish();
  for (const r of rows) {
    recordFigure({ db: sc.bed.db, committedTx: v.committed, changes: v.changes, lost: v.lost, duplicated: v.duplicated, wrongActors: v.wrongActors, ...r });
  }
  expect.soft(v.committed, 'the workload committed transactions').toBeGreaterThan(10);
  expect.soft(v.lost, 'changes lost').toBe(0);
  expect.soft(v.duplicated, 'changes duplicated').toBe(0);
  expect.soft(v.wrongActors, 'changes attributed to another user').toBe(0);
  expect.soft(v.ackedNotInDb, 'commits the database itself lost (harness check)').toBe(0);
  // depends on (after a blackhole, MariaDB): a daemon that logged "stopped" exits (issue 11)
  expect.soft(v.stopCode, `exit code after SIGTERM: ${sc.daemon.output().slice(-800)}`).toBe(0);
}

/** SIGKILL or SIGTERM of the daemon mid-stream, during connect, and mid large transaction; then a restart. */
export async function daemonSignals(bed: Bed, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const sc = await bed.scenario(signal.toLowerCase());
  try {
    await sc.warm();
    const notes: string[] = [];
    const stop = async (label: string) => {
      const stored = sc.storedTx();
      const committed = (await sc.target.truth()).size;
      const t = Date.now();
      sc.daemon.kill(signal);
      const code = await sc.daemon.waitExit(15_000);
      notes.push(`${label}: ${stored}/${committed} tx stored at the signal, exit ${code} after ${Date.now() - t} ms`);
      // depends on: abort during connect (the 'during connect' signal)
      const tail = code === 0 || code === null ? '' : `; its last output: ${sc.daemon.output().slice(-1200)}`;
      if (signal === 'SIGTERM') expect.soft(code, `${label}: a clean exit after SIGTERM${tail}`).toBe(0);
    };
    // 1. mid-stream
    await sleep(rand(300, 1500));
    await stop('mid-stream');
    // 2. during connect: a slow network (300 ms each way) makes the connect phase last seconds
    await sc.proxy.set({ kind: 'delay', ms: 300 });
    const before = sc.proxy.accepted;
    const d = sc.startDaemon();
    while (sc.proxy.accepted === before && d.exitCode() === undefined) await sleep(20);
    await sleep(rand(0, 800));
    const streaming = d.logs().some((l) => l.msg === 'streaming changes');
    await stop(`during connect${streaming ? ' (already streaming)' : ''}`);
    await sc.proxy.set({ kind: 'pass' });
    // 3. mid large transaction: 10k rows (streamed in progress by PostgreSQL: logical_decoding_work_mem is
    //    64 kB on the fault server), signalled while the daemon decodes and stores it
    sc.startDaemon();
    await sc.recovered(60_000);
    await sc.workload.large(10_000);
    await sleep(rand(0, 300));
    await stop('mid large tx');
    const t1 = Date.now();
    sc.startDaemon();
    const rec = await sc.recovered(60_000, t1);
    const healthy = await sc.healthyNow();
    await conclude(sc, [{ fault: `${signal} of the daemon (mid-stream, during connect, mid 10k-row tx)`, detectMs: undefined, recoverMs: rec, health: healthVerdict(sc, 'after', t1, Date.now(), healthy), note: notes.join('; ') }]);
  } finally {
    await sc.cleanup();
  }
}

/** SIGTERM while the database cannot be reached (every packet dropped): the daemon must still exit. */
export async function sigtermUnreachable(bed: Bed): Promise<void> {
  const sc = await bed.scenario('sigterm_unreachable');
  try {
    await sc.proxy.set({ kind: 'blackhole' });
    const before = sc.proxy.accepted; // setup connected through the proxy already
    const d = sc.startDaemon();
    while (sc.proxy.accepted === before && d.exitCode() === undefined) await sleep(20);
    await sleep(1_500);
    const t0 = Date.now();
    d.kill('SIGTERM');
    const code = await d.waitExit(15_000);
    const stopMs = Date.now() - t0;
    // depends on: abort during connect (issue 11, "Stop during connect hangs")
    expect.soft(code, `exit after SIGTERM while connecting to an unreachable server: ${d.output().slice(-800)}`).toBe(0);
    await sc.proxy.set({ kind: 'pass' });
    await sc.warm();
    await sleep(1_000);
    await conclude(sc, [{ fault: 'SIGTERM while the database is unreachable', detectMs: undefined, recoverMs: undefined, health: 'n/a', note: `exit ${code} after ${stopMs} ms` }]);
  } finally {
    await sc.cleanup();
  }
}

/** The database restarts under the daemon: fast (clean) and immediate (crash), 2 s down each. */
export async function serverRestarts(bed: Bed): Promise<void> {
  const sc = await bed.scenario('restart');
  try {
    await sc.warm();
    const rows: Row[] = [];
    for (const mode of ['fast', 'immediate'] as const) {
      await sleep(1_000);
      const t0 = Date.now();
      await bed.restart(mode, 2_000);
      const t1 = Date.now();
      const rec = await sc.recovered(60_000, t1);
      const healthy = await sc.healthyNow();
      // depends on: health contract (503 while not streaming)
      const health = healthVerdict(sc, 'down', t0, t1 + (rec ?? 0), healthy);
      expect.soft(health, `/healthz during the ${mode} restart`).toBe('truthful');
      rows.push({ fault: `database restart, ${mode} (2 s down)`, detectMs: sc.detectedAfter(t0, capture), recoverMs: rec, health });
    }
    await conclude(sc, rows);
  } finally {
    await sc.cleanup();
  }
}

/** A network blackhole (packets dropped, sockets open) until the daemon notices, then the network returns. */
export async function blackhole(bed: Bed): Promise<void> {
  const sc = await bed.scenario('blackhole');
  try {
    await sc.warm();
    await sleep(1_000);
    const t0 = Date.now();
    await sc.proxy.set({ kind: 'blackhole' });
    while (Date.now() - t0 < BLACKHOLE_MAX_MS && sc.detectedAfter(t0, capture) === null) await sleep(200);
    const detect = sc.detectedAfter(t0, capture);
    if (detect !== null) await sleep(2_000); // let /healthz be sampled while reconnecting
    const t1 = Date.now();
    await sc.proxy.set({ kind: 'pass' });
    const rec = await sc.recovered(30_000, t1);
    const healthy = await sc.healthyNow();
    // depends on: receive watchdog (PostgreSQL: issue 11, "A silently dead PostgreSQL connection")
    expect.soft(detect, `a dead connection noticed within ${BLACKHOLE_MAX_MS} ms`).not.toBeNull();
    // depends on: health contract
    const health = healthVerdict(sc, 'down', t0, t1 + (rec ?? 0), healthy);
    expect.soft(health, '/healthz during the blackhole').toBe('truthful');
    await conclude(sc, [{ fault: 'network blackhole until noticed', detectMs: detect, recoverMs: rec, health, note: `blackhole held ${t1 - t0} ms` }]);
  } finally {
    await sc.cleanup();
  }
}

/** Connections reset three times, then refused for 3 s. */
export async function resets(bed: Bed): Promise<void> {
  const sc = await bed.scenario('reset');
  try {
    await sc.warm();
    await sleep(1_000);
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      await sc.proxy.set({ kind: 'reset' });
      await sleep(1_500);
    }
    const t1 = Date.now();
    const rec1 = await sc.recovered(45_000, t1);
    const h1 = healthVerdict(sc, 'after', t0, Date.now(), await sc.healthyNow());
    const rows: Row[] = [{ fault: 'connection reset (3×, 1.5 s apart)', detectMs: sc.detectedAfter(t0, capture), recoverMs: rec1, health: h1 }];
    const t2 = Date.now();
    await sc.proxy.set({ kind: 'refuse' });
    await sleep(3_000);
    const t3 = Date.now();
    await sc.proxy.set({ kind: 'pass' });
    const rec2 = await sc.recovered(45_000, t3);
    // depends on: health contract
    const h2 = healthVerdict(sc, 'down', t2, t3 + (rec2 ?? 0), await sc.healthyNow());
    expect.soft(h2, '/healthz while connections are refused').toBe('truthful');
    rows.push({ fault: 'connection refused (3 s)', detectMs: sc.detectedAfter(t2, capture), recoverMs: rec2, health: h2 });
    await conclude(sc, rows);
  } finally {
    await sc.cleanup();
  }
}

/** Why a size-limited file system cannot be had here, or null when tmpfs mounts work. */
function cannotMount(): string | null {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a size-limited tmpfs';
  const probe = mkdtempSync(join(tmpdir(), 'rowtrail-mnt-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `mount -t tmpfs failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** Whether the disk-full case can run; prints the reason when not. */
export function diskFullSkip(): string | null {
  const why = cannotMount();
  if (why) console.warn(`fault "store disk full" skipped: ${why}`);
  return why;
}

/** The store's file system fills up (a tmpfs shrunk to what is used + 256 kB), then space returns. */
export async function diskFull(bed: Bed): Promise<void> {
  const mnt = mkdtempSync(join(tmpdir(), 'rowtrail-faults-mnt-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt]);
  const sc = await bed.scenario('disk_full', { storePath: join(mnt, 'data') });
  try {
    await sc.warm();
    await sleep(1_000);
    const fs = statfsSync(mnt);
    const used = (fs.blocks - fs.bfree) * fs.bsize;
    const t0 = Date.now();
    execFileSync('mount', ['-o', `remount,size=${Math.ceil((used + 256 * 1024) / 4096) * 4}k`, mnt]);
    // full until the daemon says so (or exits), then 3 s more
    while (Date.now() - t0 < 20_000 && sc.detectedAfter(t0, capture) === null && sc.daemon.exitCode() === undefined) await sleep(200);
    await sleep(3_000);
    const exit = sc.daemon.exitCode();
    const t1 = Date.now();
    execFileSync('mount', ['-o', 'remount,size=64m', mnt]);
    if (exit !== undefined) {
      // a fatal stop must say so: non-zero, with its reason
      expect.soft(exit, `exit code of a daemon that stopped on a full disk: ${sc.daemon.output().slice(-800)}`).not.toBe(0);
      sc.startDaemon();
    }
    const rec = await sc.recovered(60_000, t1);
    // depends on: health contract
    const health = exit !== undefined ? healthVerdict(sc, 'after', t1, Date.now(), await sc.healthyNow()) : healthVerdict(sc, 'down', t0, t1 + (rec ?? 0), await sc.healthyNow());
    if (exit === undefined) expect.soft(health, '/healthz while the store cannot write').toBe('truthful');
    await conclude(sc, [
      {
        fault: 'store disk full (tmpfs), then space returns',
        detectMs: sc.detectedAfter(t0, capture),
        recoverMs: rec,
        health,
        note: exit === undefined ? 'daemon kept running' : `daemon exited ${exit}; restarted after space returned`,
      },
    ]);
  } finally {
    await sc.cleanup();
    execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
}

/** The identity sampler's sessions are ended again and again for 3 s: capture goes on, attribution resumes. */
export async function samplerAway(bed: Bed): Promise<void> {
  const sc = await bed.scenario('sampler');
  try {
    await sc.warm();
    await sleep(1_500);
    const t0 = Date.now();
    let ended = 0;
    while (Date.now() - t0 < 3_000) {
      ended += await bed.killSampler();
      await sleep(200);
    }
    const t1 = Date.now();
    expect.soft(ended, 'sampler sessions ended (the fault landed)').toBeGreaterThan(0);
    // attribution resumes: a transaction committed after the fault names the workload's user
    let resumed: number | null = null;
    for (const deadline = Date.now() + 15_000; resumed === null && Date.now() < deadline; await sleep(250)) {
      resumed = firstAttributedAfter(sc, t1);
    }
    expect.soft(resumed, 'a transaction attributed again after the sampler came back').not.toBeNull();
    const health = healthVerdict(sc, 'up', t0, t1, await sc.healthyNow());
    expect.soft(health, '/healthz while only the sampler is down').toBe('truthful');
    await conclude(sc, [
      {
        fault: "identity sampler's sessions killed (3 s)",
        detectMs: sc.detectedAfter(t0, (m) => /sampler/.test(m)),
        recoverMs: resumed,
        health,
        note: `${ended} sampler sessions ended; recover = first attributed commit after the fault`,
      },
    ]);
  } finally {
    await sc.cleanup();
  }
}

/** Ms from `t` to the commit time of the first transaction after `t` attributed to the workload's user. */
function firstAttributedAfter(sc: Scenario, t: number): number | null {
  const s = Store.open(sc.store, { readonly: true });
  try {
    const r = s.db
      .prepare(`SELECT min(commit_us) AS us FROM transactions WHERE state = 'committed' AND source = ? AND actor_user = ? AND commit_us > ?`)
      .get(sc.bed.source, sc.workload.user, t * 1000) as { us: number | null };
    return r.us === null ? null : Math.round(r.us / 1000 - t);
  } finally {
    s.close();
  }
}

/**
 * A second `watch` on the same store (another process holds it). depends on: store lock (issue 11, "Two
 * daemons on one store lose data"): the second exits non-zero with a one-line reason; the first loses nothing.
 */
export async function storeLocked(bed: Bed): Promise<void> {
  const sc = await bed.scenario('store_locked');
  try {
    await sc.warm();
    await sleep(1_000);
    const t0 = Date.now();
    const second = startWatch(sc.config, { built: BUILT });
    const code = await second.waitExit(15_000);
    const t1 = Date.now();
    const out = second.output().trim();
    expect.soft(code, `the second daemon on a locked store: ${out.slice(-800)}`).not.toBe('timeout');
    expect.soft(code, 'the second daemon exits non-zero').not.toBe(0);
    expect.soft(out, 'a one-line reason, no stack trace').not.toMatch(/^\s+at /m);
    await sleep(1_000);
    const health = healthVerdict(sc, 'up', t0, t1, await sc.healthyNow());
    expect.soft(health, "/healthz of the first daemon while the second tries").toBe('truthful');
    await conclude(sc, [
      {
        fault: 'store locked by another daemon (second watch)',
        detectMs: code === 'timeout' ? null : t1 - t0,
        recoverMs: undefined,
        health,
        note: `second daemon: ${code === 'timeout' ? 'still running after 15 s (killed)' : `exit ${code}`}; detect = time until it refused`,
      },
    ]);
  } finally {
    await sc.cleanup();
  }
}
