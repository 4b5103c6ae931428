/**
 * The seam between sources and identity: a source tells the resolver what it saw inside a transaction
 * (logical messages, annotated statements, the session/thread id) and asks for the Actor at commit.
 * Pure: no I/O here; samplers feed it from the edges.
 */
import type { Actor } from '../model/index.js';

/** What a source knows about one transaction when it commits. */
export interface TxFacts {
  source: string;
  xid: string;
  commitTime: string;
  /** Contents of rowtrail logical messages (PostgreSQL precise mode), in order. */
  messages: string[];
  /** Statement texts seen in the stream (MySQL ANNOTATE_ROWS / ROWS_QUERY). */
  statements: string[];
  /** Session / thread id where the stream carries one (MySQL BEGIN query event). */
  sessionId?: string;
}

export interface IdentityResolver {
  resolve(tx: TxFacts): Actor;
}

/** The resolver used until identity is configured: every transaction `unknown`. */
export const unknownResolver: IdentityResolver = {
  resolve: () => ({ kind: 'unknown', confidence: 'unknown', method: 'none' }),
};
