/**
 * The change documents' JSON written straight from the store's rows, without making events of them: what
 * the bulk path spends its time on (issue 17). The row images, the key and the changed list are spliced in as
 * the store holds them — JSON text written by JSON.stringify (source-writer.ts, store-masking.ts), masked where
 * masking applies — and what is the same for every change of a transaction (its actor, commit time, position),
 * or of a table and operation in it, is serialized once.
 *
 * The result is byte for byte JSON.stringify(changeDocument(toEvent(row), seq)) (test/sinks/es-rowdoc.test.ts),
 * as JSON.stringify(JSON.parse(text)) gives JSON.stringify's own text back. A row this cannot vouch for takes
 * the event path instead: one with `extra` (incomplete, missing, truncate, ddl), an operation other than
 * insert, update or delete, an image or key that is not a flat object of strings and nulls, or with a member
 * named like an array index where JSON.stringify would not have put it (JSON.parse moves those first; the
 * store's own text always has them first, so this only guards text written otherwise).
 */
import { storedActor, toEvent, type SinkRow } from '../../store/index.js';
import { EVENT_TYPE, actorParts, actorPhrase, changeDocument, changeMessage } from './es-documents.js';
import type { BulkDoc } from './es-bulk.js';
import type { Op } from '../../model/index.js';

const s = JSON.stringify;
const QUOTE = 34;
const BACKSLASH = 92;
/** A JSON string token that names an array index (text holding one is left to the event path). */
const INDEX_NAME = /^"(?:0|[1-9]\d*)"$/;
/** An array of JSON strings. */
const STRINGS = /^\[(?:"(?:[^"\\]|\\.)*"(?:,"(?:[^"\\]|\\.)*")*)?\]$/;

/** The end (index of the closing quote) of the JSON string token opening at `at`, or -1. */
function stringEnd(text: string, at: number): number {
  let q = at;
  for (;;) {
    q = text.indexOf('"', q + 1);
    if (q < 0) return -1;
    let b = q - 1;
    while (text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - b) % 2 === 1) return q; // an even number of backslashes before it: not escaped
  }
}

/**
 * The member names (a JSON array) of JSON.stringify's text of a flat row — an object whose values are
 * strings or null — where splicing the text is exact (no array-index name); undefined for anything else.
 */
export function flatNames(text: string): string | undefined {
  if (text.charCodeAt(0) !== 123) return undefined;
  if (text === '{}') return '[]';
  let names = '[';
  let at = 1;
  for (;;) {
    if (text.charCodeAt(at) !== QUOTE) return undefined;
    const end = stringEnd(text, at);
    if (end < 0 || text.charCodeAt(end + 1) !== 58) return undefined;
    const name = text.slice(at, end + 1);
    if (INDEX_NAME.test(name)) return undefined;
    names += name;
    at = end + 2;
    if (text.charCodeAt(at) === QUOTE) {
      at = stringEnd(text, at);
      if (at < 0) return undefined;
      at++;
    } else if (text.startsWith('null', at)) at += 4;
    else return undefined;
    const c = text.charCodeAt(at);
    if (c === 125) return at === text.length - 1 ? `${names}]` : undefined;
    if (c !== 44) return undefined;
    names += ',';
    at++;
  }
}

/** What depends only on the operation: `event.type`, `event.action` and `db.operation.name`. */
const OPS = new Map(
  (['insert', 'update', 'delete'] as const).map((op) => [op as string, { event: `"type":${s(EVENT_TYPE[op])},"action":${s(op)}`, name: s(op.toUpperCase()) }]),
);

/** The JSON of a transaction's part of its documents, and of the last table and operation seen in it. */
interface TxJson {
  pk: number;
  seq: number;
  phrase: string;
  /** `"<source>:<position>:` (a change's id without its index and closing quote). */
  idHead: string;
  source: string;
  head: string;
  afterId: string;
  afterChangeId: string;
  txHead: string;
  txTail: string;
  tail: string;
  group: { schema: string; tbl: string; op: string; table: string; message: string; event: string; afterSeq: string; afterSource: string } | null;
}

/** Writes the documents of one read of the store (a bulk request's worth; its transactions' parts are kept). */
export class ChangeDocWriter {
  private tx: TxJson | null = null;
  /** Rows that took the event path (tests). */
  slow = 0;

  constructor(private readonly target: string) {}

  doc(r: SinkRow, seq: number): BulkDoc {
    return { id: `${r.source}:${r.position}:${r.idx}`, target: this.target, json: this.json(r, seq) };
  }

  /** JSON.stringify(changeDocument(toEvent(r), seq)). */
  json(r: SinkRow, seq: number): string {
    const op = r.op;
    if (r.extra !== null || !OPS.has(op)) return this.slowJson(r, seq);
    // The member names of each image (checked flat and exact); for an insert or delete, its changed list.
    const keyNames = r.key ? flatNames(r.key) : '';
    const beforeNames = r.before ? flatNames(r.before) : '[]';
    const afterNames = r.after ? flatNames(r.after) : '[]';
    if (keyNames === undefined || beforeNames === undefined || afterNames === undefined) return this.slowJson(r, seq);
    let changed: string;
    if (r.changed === null) changed = op === 'delete' ? beforeNames : afterNames;
    else if (STRINGS.test(r.changed)) changed = r.changed;
    else return this.slowJson(r, seq);
    const t = this.txJson(r, seq);
    let g = t.group;
    if (!g || g.tbl !== r.tbl || g.schema !== r.schema || g.op !== op) g = t.group = this.group(t, r);
    const message = op === 'update' ? s(changeMessage(op, g.table, t.phrase, JSON.parse(changed))) : g.message;
    const id = `${t.idHead}${r.idx}"`;
    return (
      `${t.head}${message}${g.event}${id}${g.afterSeq}${id}${g.afterSource}${r.key || 'null'},"before":${r.before || 'null'}` +
      `,"after":${r.after || 'null'},"changed":${changed}${t.txHead}${r.idx}${t.txTail}${r.key ? 'true' : 'false'}}${t.tail}`
    );
  }

  private slowJson(r: SinkRow, seq: number): string {
    this.slow++;
    return s(changeDocument(toEvent(r), seq));
  }

  private group(t: TxJson, r: SinkRow): NonNullable<TxJson['group']> {
    const op = OPS.get(r.op)!;
    const table = `${r.schema}.${r.tbl}`;
    const tableJson = s(table);
    return {
      schema: r.schema,
      tbl: r.tbl,
      op: r.op,
      table,
      message: s(changeMessage(r.op as Op, table, t.phrase, [])),
      event: `,"event":{"kind":"event","category":["database"],${op.event},"id":`,
      afterSeq: `${t.afterId},"collection":{"name":${tableJson}},"operation":{"name":${op.name}}}${t.afterChangeId}`,
      afterSource: `,"source":${t.source},"schema":${s(r.schema)},"table":${tableJson},"op":${s(r.op)},"key":`,
    };
  }

  private txJson(r: SinkRow, seq: number): TxJson {
    if (this.tx && this.tx.pk === r.tx_pk && this.tx.seq === seq) return this.tx;
    const a = storedActor(r.actor);
    const p = actorParts(a);
    const ts = s(r.commit_time);
    const seqJson = s(seq);
    const source = s(r.source);
    const idHead = s(`${r.source}:${r.position}:`);
    this.tx = {
      pk: r.tx_pk,
      seq,
      phrase: actorPhrase(a),
      idHead: idHead.slice(0, -1),
      source,
      head: `{"@timestamp":${ts},"message":`,
      afterId:
        `,"sequence":${seqJson},"dataset":"rowtrail.changes","module":"rowtrail"},"service":{"name":${source}}` +
        `,"db":{"system":{"name":${s(r.system)}},"namespace":${s(r.database)}`,
      afterChangeId: `,"related":{"user":${s(p.users)},"ip":${s(p.ips)}},"rowtrail":{"change_id":`,
      txHead: `,"tx":{"id":${s(r.xid)},"position":${s(r.position)},"commit_time":${ts},"index":`,
      txTail: `,"size":${s(r.size)},"seq":${seqJson}},"actor":${s(p.actor)},"revertable":`,
      tail: `${p.user ? `,"user":${s(p.user)}` : ''}${p.client ? `,"client":${s(p.client)}` : ''}}`,
      group: null,
    };
    return this.tx;
  }
}
