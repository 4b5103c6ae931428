/**
 * The in-memory memory of samplers: bounded maps (oldest out first) that the resolver reads synchronously.
 * Pure (no I/O): samplers call `observe…`, the resolver calls the SessionIndex lookups.
 */
import type { SessionFacts, SessionIndex, StatementCoverage } from './resolver.js';

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

/**
 * Statement text → the key samplers and the resolver agree on (whitespace-trimmed, no final `;`, first 1024 chars:
 * performance_schema cuts SQL_TEXT at 1024 by default).
 */
export function statementKey(text: string): string {
  let t = text.trim();
  while (t.endsWith(';')) t = t.slice(0, -1).trimEnd();
  return t.slice(0, 1024);
}

export class SampledSessions implements SessionIndex {
  private xids = new BoundedMap<string, SessionFacts>(500_000);
  private sessions = new BoundedMap<string, SessionFacts>(100_000);
  private stmts = new BoundedMap<string, Map<string, SessionFacts>>(200_000);
  private coverage: StatementCoverage | null = null;

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

  /** A run of `text` by a session the sampler cannot name (its thread ended before it was read). */
  observeUnidentified(text: string): void {
    this.observeStatement(text, { sessionId: '', user: null, application: null, clientAddr: null, sessionStart: null });
  }
  /**
   * The sampler read every statement run from server time `fromCommitMs` (a new span after a gap: a
   * (re)connect, a history that may have overflowed) until a sample that began at `untilReceived`.
   */
  coverStatements(fromCommitMs: number | null, untilReceived: number, maxTextBytes = 1024): void {
    if (fromCommitMs !== null) this.coverage = { fromCommitMs, untilReceived, maxTextBytes };
    else if (this.coverage) this.coverage = { ...this.coverage, untilReceived, maxTextBytes };
  }
  /** Nothing vouched for (no statement history, or a sample failed) until coverStatements starts a new span. */
  uncoverStatements(): void {
    this.coverage = null;
  }
  statementCoverage(): StatementCoverage | null {
    return this.coverage;
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
}
