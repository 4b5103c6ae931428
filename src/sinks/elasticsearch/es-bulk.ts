/**
 * The bulk request's pure parts: the NDJSON lines of a batch and what each item of the response means.
 *
 * Every document is written with the `create` op and its deterministic id: data streams accept only `create`,
 * and `create` never overwrites, so a replay (the daemon crashed after Elasticsearch stored a bulk but before
 * the cursor moved) gets 409 for what is already there, which counts as stored. Per item: 2xx stored, 409 already
 * stored, 429 and 5xx retried (only the failed items), 400 (a document the mapping rejects) dead-lettered with
 * the reason; anything else (401/403/404: credentials, privileges, missing templates) is a cluster problem, not
 * the document's, so it is retried too and reported.
 */
import type { estypes } from '@elastic/elasticsearch';
import type { Doc } from './es-documents.js';

export interface BulkDoc {
  id: string;
  /** The data stream. */
  target: string;
  /** The document as JSON (serialized once: sent as is, and kept as is when dead-lettered). */
  json: string;
}

export type ItemOutcome =
  | { kind: 'stored' }
  | { kind: 'duplicate' }
  | { kind: 'retry'; status: number; reason: string }
  | { kind: 'dead'; status: number; reason: string };

export function bulkDoc(id: string, target: string, doc: Doc): BulkDoc {
  return { id, target, json: JSON.stringify(doc) };
}

/** The bulk body: an action line and a document line per document (strings: the client sends them verbatim). */
export function bulkLines(docs: BulkDoc[]): string[] {
  const out: string[] = new Array(docs.length * 2);
  for (let i = 0; i < docs.length; i++) {
    out[2 * i] = JSON.stringify({ create: { _index: docs[i].target, _id: docs[i].id } });
    out[2 * i + 1] = docs[i].json;
  }
  return out;
}

function reasonOf(e: estypes.ErrorCause | undefined): string {
  if (!e) return 'no reason given';
  const cause = e.caused_by?.reason ? ` (caused by: ${e.caused_by.reason})` : '';
  return `${e.type}: ${e.reason ?? ''}${cause}`;
}

/** What one response item means for its document. */
export function classifyItem(item: Partial<Record<estypes.BulkOperationType, estypes.BulkResponseItem>>): ItemOutcome {
  const r = item.create ?? item.index ?? Object.values(item)[0];
  if (!r) return { kind: 'retry', status: 0, reason: 'empty bulk response item' };
  const status = r.status;
  if (status >= 200 && status < 300) return { kind: 'stored' };
  if (status === 409) return { kind: 'duplicate' };
  const reason = reasonOf(r.error);
  if (status === 400) return { kind: 'dead', status, reason };
  return { kind: 'retry', status, reason };
}
