/**
 * The in-memory memory of samplers: bounded maps (oldest out first) that the resolver reads synchronously.
 * Pure (no I/O): samplers call `observe…`, the resolver calls the SessionIndex lookups.
 */
import type { SessionFacts, SessionIndex } from './resolver.js';

/**
 * Application names of rowtrail's own read-only connections (the PostgreSQL stream's catalog reader, the
 * samplers, doctor): never the author of a change, so samplers leave them out; otherwise "the only session
 * connected" could name one of them. rowtrail-setup and rowtrail-undo write, and stay candidates.
 */
export const OWN_READ_ONLY_APPLICATIONS: readonly string[] = ['rowtrail-meta', 'rowtrail-sampler', 'rowtrail-doctor'];

/** A Map that forgets its oldest entries beyond `max`. */
export class BoundedMap<K, V> {
  private m = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(k: K): V | undefined {
    return this.m.get(k);
  }
  set(k: K, v: V): void {
    if (this.m.has(k)) this.m.delete(k);
    this.m.set(k, v);
    while (this.m.size > this.max) this.m.delete(this.m.keys().next().value as K);
  }
  get size(): number {
    return this.m.size;
  }
}

/** Statement text → the key samplers and the resolver agree on (whitespace-trimmed, no final `;`, first 1024 chars: performance_schema cuts SQL_TEXT at 1024 by default). */
export function statementKey(text: string): string {
  let t = text.trim();
  while (t.endsWith(';')) t = t.slice(0, -1).trimEnd();
  return t.slice(0, 1024);
}

interface Sample {
  atMs: number;
  sessions: SessionFacts[];
}

export class SampledSessions implements SessionIndex {
  private xids = new BoundedMap<string, SessionFacts>(500_000);
  private sessions = new BoundedMap<string, SessionFacts>(100_000);
  private stmts = new BoundedMap<string, Map<string, SessionFacts>>(200_000);
  private samples: Sample[] = [];
  /** How far back (ms) `activeAround` may look, and the gap between samples it tolerates. */
  constructor(private readonly intervalMs = 20) {}

  observeSession(f: SessionFacts): void {
    this.sessions.set(f.sessionId, f);
  }
  observeXid(xid: string, f: SessionFacts): void {
    this.xids.set(xid, f);
  }
  observeStatement(text: string, f: SessionFacts): void {
    const k = statementKey(text);
    if (!k) return;
    const cur = this.stmts.get(k) ?? new Map<string, SessionFacts>();
    cur.set(f.sessionId, f);
    this.stmts.set(k, cur);
  }
  /** Records the set of client sessions connected at one instant (server clock, ms since epoch). */
  observeSample(atMs: number, sessions: SessionFacts[]): void {
    this.samples.push({ atMs, sessions });
    const keep = atMs - Math.max(60_000, this.intervalMs * 100);
    while (this.samples.length > 1 && this.samples[0]!.atMs < keep) this.samples.shift();
  }

  byXid(xid: string): SessionFacts | undefined {
    return this.xids.get(xid);
  }
  bySession(id: string): SessionFacts | undefined {
    return this.sessions.get(id);
  }
  byStatement(text: string): SessionFacts[] {
    const m = this.stmts.get(statementKey(text));
    return m ? [...m.values()] : [];
  }
  /**
   * The client sessions connected in the two samples around a commit, when the sampler ran on time there
   * (no gap longer than 3 intervals); null when it cannot say. A session that connected and left between
   * two samples would be missed, so the resolver only ever calls the result `inferred`.
   */
  activeAround(commitTime: string): SessionFacts[] | null {
    const t = Date.parse(commitTime);
    if (!Number.isFinite(t) || this.samples.length < 2) return null;
    let i = this.samples.findIndex((s) => s.atMs >= t);
    if (i <= 0) return null;
    const a = this.samples[i - 1]!;
    const b = this.samples[i]!;
    if (b.atMs - a.atMs > this.intervalMs * 3 + 50) return null;
    const ids = new Map<string, SessionFacts>();
    for (const s of [...a.sessions, ...b.sessions]) ids.set(s.sessionId, s);
    return [...ids.values()];
  }
}
