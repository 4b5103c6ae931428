/**
 * Pure: capture lag measured against the server, for `health()` and `stats()`.
 *
 * - Bytes: the server's newest known WAL position (pg_current_wal_lsn(), polled on the catalog connection,
 *   or a keepalive's WAL end, whichever is newer) minus the durable position. Never negative.
 * - Seconds: 0 when nothing is behind; else the age of the oldest change the server has that is not durable
 *   yet: the commit time of the oldest received-but-not-durable transaction, or, for WAL the stream has not
 *   reached, the time the server was first seen holding it (a lower bound: its commit time is not known yet).
 *   Never "now minus the last commit", which grows on a caught-up idle database.
 *
 * WAL that holds nothing for this slot (other databases, checkpoints) counts as behind until the server's
 * WAL sender says it has read past it: a keepalive's WAL end is the position it has decoded up to, so when
 * nothing is in flight every position at or below it is either durable or not ours.
 */
import { parseLsn } from './postgres-position.js';

interface Mark {
  lsn: bigint;
  /** ms since the epoch: commit time (received commits) or first observation (server positions). */
  at: number;
}

/** At most this many marks of each kind are kept; the oldest ones are what matter. */
const MAX_MARKS = 2048;

export class LagTracker {
  private server: bigint | null = null;
  /** Received transactions not durable yet (commit times), in position order. */
  private commits: Mark[] = [];
  /** Server positions the stream has not passed yet (first seen), in position order. */
  private seen: Mark[] = [];
  private passed = -1n;

  /** The server holds WAL up to `lsn` (observed at `nowMs`). */
  serverAt(lsn: string, nowMs: number): void {
    const v = parseLsn(lsn);
    if (this.server !== null && v <= this.server) return;
    this.server = v;
    if (v > this.passed) push(this.seen, { lsn: v, at: nowMs });
  }

  /** A received transaction ending at `endLsn`, committed at `commitTime` (ISO), is not durable yet. */
  received(endLsn: string, commitTime: string): void {
    const at = Date.parse(commitTime);
    push(this.commits, { lsn: parseLsn(endLsn), at: Number.isNaN(at) ? Date.now() : at });
  }

  /** Everything up to `lsn` is durable in the store. */
  durable(lsn: string): void {
    const v = parseLsn(lsn);
    drop(this.commits, v);
    this.pass(v);
  }

  /** The server's WAL sender has decoded up to `lsn` and nothing of it is in flight here (a keepalive). */
  pass(lsn: string | bigint): void {
    const v = typeof lsn === 'bigint' ? lsn : parseLsn(lsn);
    if (v > this.passed) this.passed = v;
    drop(this.seen, v);
  }

  /** Bytes between the server's newest known position and the durable one; null until both are known. */
  bytes(durable: string | null): number | null {
    if (this.server === null || durable === null) return null;
    const d = this.server - parseLsn(durable);
    return d > 0n ? Number(d) : 0;
  }

  /** Seconds the oldest not-yet-durable change has waited; 0 when nothing is behind; null when unknown. */
  seconds(durable: string | null, nowMs: number): number | null {
    const oldest = Math.min(this.commits[0]?.at ?? Infinity, this.seen[0]?.at ?? Infinity);
    if (oldest === Infinity) return this.server === null && durable === null ? null : 0;
    return Math.max(0, (nowMs - oldest) / 1000);
  }
}

function push(list: Mark[], m: Mark): void {
  // Positions arrive in order (commits in commit order, server positions only grow): append, bounded.
  list.push(m);
  if (list.length > MAX_MARKS) list.splice(MAX_MARKS / 2, 1);
}

function drop(list: Mark[], upTo: bigint): void {
  let i = 0;
  while (i < list.length && list[i].lsn <= upTo) i++;
  if (i) list.splice(0, i);
}
