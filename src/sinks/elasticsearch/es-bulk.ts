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

/** The bulk body's lines: an action line (JSON.stringify({ create: { _index, _id } })) and the document, per document. */
export function bulkLines(docs: BulkDoc[]): string[] {
  const out: string[] = new Array(docs.length * 2);
  for (let i = 0; i < docs.length; i++) {
    out[2 * i] = actionLine(docs[i]);
    out[2 * i + 1] = docs[i].json;
  }
  return out;
}

function actionLine(d: { id: string; target: string }): string {
  return `{"create":{"_index":${JSON.stringify(d.target)},"_id":${JSON.stringify(d.id)}}}`;
}

/**
 * A bulk request's body, encoded (UTF-8) as the documents are added: the bytes the client would send for
 * `bulkLines` (each line and a newline), with no document kept as a string meanwhile (a batch of them
 * outlived several young-generation collections, and copying them was a tenth of the sink's time). The
 * transport sends a Buffer as is. A document's JSON is decoded back only when it is dead-lettered.
 */
export class BulkBody {
  private buf: Buffer;
  private len = 0;
  private readonly ids: string[] = [];
  private readonly targets: string[] = [];
  /** Per document: where its action line starts, where its JSON starts and ends (before the newline). */
  private readonly offsets: number[] = [];

  constructor(sizeHint = 1 << 16) {
    this.buf = Buffer.allocUnsafe(sizeHint);
  }

  get size(): number {
    return this.ids.length;
  }

  add(d: BulkDoc): void {
    const action = actionLine(d);
    // UTF-8 takes at most 3 bytes per UTF-16 unit (2 newlines more); counted exactly only when that may not fit.
    const worst = 3 * (action.length + d.json.length) + 2;
    if (this.buf.length - this.len < worst) this.reserve(Buffer.byteLength(action) + Buffer.byteLength(d.json) + 2);
    const start = this.len;
    this.len += this.buf.write(action, this.len);
    this.buf[this.len++] = 10;
    const json = this.len;
    this.len += this.buf.write(d.json, this.len);
    this.offsets.push(start, json, this.len);
    this.buf[this.len++] = 10;
    this.ids.push(d.id);
    this.targets.push(d.target);
  }

  /** The body's bytes (a view: valid until the next add). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  id(i: number): string {
    return this.ids[i];
  }

  target(i: number): string {
    return this.targets[i];
  }

  /** Document `i`'s JSON, as sent. */
  json(i: number): string {
    return this.buf.toString('utf8', this.offsets[3 * i + 1], this.offsets[3 * i + 2]);
  }

  /** The body of some of its documents (those to send again), in their order. */
  subset(indexes: number[]): BulkBody {
    const out = new BulkBody(64);
    for (const i of indexes) {
      const from = this.offsets[3 * i];
      const to = this.offsets[3 * i + 2] + 1;
      out.reserve(to - from);
      const start = out.len;
      out.len += this.buf.copy(out.buf, out.len, from, to);
      out.offsets.push(start, start + this.offsets[3 * i + 1] - from, out.len - 1);
      out.ids.push(this.ids[i]);
      out.targets.push(this.targets[i]);
    }
    return out;
  }

  private reserve(n: number): void {
    if (this.buf.length - this.len >= n) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.len + n));
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }
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
