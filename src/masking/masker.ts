/**
 * The Masker: one object the pipeline calls per change (see index.ts for the wiring).
 *
 * `maskEvent(ev)` classifies the columns of the change (all images first, so a value that makes a column
 * sensitive is never shown in the clear in any image of that same change), then masks key, before and after,
 * and seals the raw values of exactly the masked cells: `{k?, b?, a?}` (column → raw text or NULL) as JSON,
 * sealed for the change id. Overlaying them on the masked images (`unmaskEvent`) gives back the exact raw
 * change; cells that were not masked are in the readable images already, so they are not sealed twice.
 *
 * Per cell, in order: NULL stays NULL; a column policy (config, else sticky auto) other than `none` applies to
 * the whole value; a config `none` shows it as is; JSON paths (config or auto) mask inside JSON values, and a
 * value that does not parse where paths apply is redacted; a value that cannot be classified (binary, invalid
 * UTF-8, longer than maxValueChars) is redacted (fail closed). Key columns: any masking becomes `hash` in the
 * `key` image, so rows stay distinct for blame and the store's row index (`pseudonym(raw)` finds them).
 */
import type { ChangeEvent, Row, Value } from '../model/index.js';
import { RowtrailError } from '../errors.js';
import { Classifier, columnPolicy, looksLikeJson } from './classify.js';
import type { ClassifierOptions, ClassifierState, ColumnClass, Seen } from './classify.js';
import { unclassifiable } from './detect.js';
import { parseJson, rawOf, splice, walkMembers, type JsonNode } from './json.js';
import { isPseudonym, PolicyApplier, REDACTED } from './policies.js';
import { openSealed, seal } from './seal.js';
import type { Keys } from './keys.js';

/** Raw values of the masked cells of one change, per image. */
export interface SealedCells {
  k?: Row;
  b?: Row;
  a?: Row;
}

export interface MaskResult {
  /** The change as every output shows it. The input itself where nothing was masked. */
  event: ChangeEvent;
  /** The raw values of the masked cells, sealed for `event.id`; null where nothing was masked. */
  sealed: Buffer | null;
}

/** What conflict detection compares a live value against. */
export interface RecordedCell {
  changeId: string;
  /** The change's sealed blob, or null where it has none (nothing masked, or blob pruned). */
  sealed: Uint8Array | null;
  image: 'before' | 'after';
  column: string;
  /** The value as recorded in the readable image (masked or clear). */
  shown: Value;
}

export interface MaskerOptions extends ClassifierOptions {
  /** Master-key-derived keys; without them maskEvent and open refuse (KEY), the rest works. */
  keys: Keys | null;
  /** Sticky classifications persisted by the store. */
  state?: ClassifierState;
  /** Why `keys` is null (the key could not be loaded): what needs the key fails with this reason. */
  noKeys?: string;
}

/** Per-change working state of maskEvent. */
/** What masking reads of a change: its place, column types and images. */
export interface MaskInput {
  schema: string;
  table: string;
  types?: Record<string, string>;
  key: Row | null;
  before: Row | null;
  after: Row | null;
}

/** The masked images of a change and the sealed raw values of its masked cells (null: nothing masked). */
export interface MaskedImages {
  key: Row | null;
  before: Row | null;
  after: Row | null;
  /** Sealed for this change alone; null where nothing was masked, or where sealing was deferred (see `cells`). */
  sealed: Buffer | null;
  /** With `deferSeal`: the raw values of the masked cells, for `sealSlice`; null where nothing was masked. */
  cells: SealedCells | null;
}

/** A slice blob's plaintext: the cells of several changes of one transaction, by index in the transaction. */
interface SliceCells {
  s: Record<string, SealedCells>;
}

interface EventCtx {
  ev: MaskInput;
  /** Where the change was first seen, made only when something gets classified. */
  seen: () => Seen;
  cols: Map<string, ColumnClass>;
  /** Parsed JSON by raw value (only values looked at as JSON). */
  json: Map<string, JsonNode | null> | null;
  /** Raw values of the masked cells (what is sealed). */
  raw: SealedCells | null;
}

export class Masker {
  readonly classifier: Classifier;
  private readonly keys: Keys | null;
  private readonly policies: PolicyApplier | null;
  private readonly noKeys: string | undefined;
  private lastOpened: { id: string; blob: Uint8Array; cells: SealedCells | SliceCells } | null = null;

  constructor(o: MaskerOptions) {
    this.classifier = new Classifier(o, o.state);
    this.keys = o.keys;
    this.policies = o.keys ? new PolicyApplier(o.keys.pseudonymKey) : null;
    this.noKeys = o.noKeys;
  }

  private needKeys(what: string): { keys: Keys; policies: PolicyApplier } {
    if (!this.keys || !this.policies) {
      const fix = this.noKeys ?? 'set ROWTRAIL_MASTER_KEY or masking.keyFile to the key this store was made with';
      throw new RowtrailError('KEY', `${what} needs the master key: ${fix}`);
    }
    return { keys: this.keys, policies: this.policies };
  }

  /** The pseudonym a `hash` policy shows for a raw value (blame by key, lookups). */
  pseudonym(raw: string): string {
    return this.needKeys('looking up a masked value').policies.hash(raw);
  }

  /**
   * The forms a raw row key may be stored under, to look a row up by the key a user or undo knows: masked
   * key columns as `maskEvent` writes them (pseudonyms), and the raw form (rows stored before a key column
   * was classified, or with masking off). One form where nothing in the key is masked.
   */
  keyForms(schema: string, table: string, key: Row): Row[] {
    const ev: MaskInput = { schema, table, key, before: null, after: null };
    const x: EventCtx = { ev, seen: () => ({ since: new Date().toISOString() }), cols: this.classifier.columns(schema, table), json: null, raw: null };
    // Whether a cell is masked does not depend on the key: without one, a stand-in tells, and pseudonym() refuses.
    const probe = this.policies ?? new PolicyApplier(Buffer.alloc(32));
    let masked: Row | null = null;
    for (const col in key) {
      const v = key[col];
      if (v === null || this.maskCell(x, this.classOf(x, col), v, probe) === v) continue;
      masked ??= { ...key };
      masked[col] = this.pseudonym(v);
    }
    return masked ? [masked, key] : [key];
  }

  /**
   * The readable change and the sealed raw cells to store with it. `sealId` binds the blob to its change
   * (AES-GCM associated data); default `ev.id`. The store uses `source:xid:index`, known before commit.
   */
  maskEvent(ev: ChangeEvent, sealId: string = ev.id): MaskResult {
    let seen: Seen | null = null;
    const m = this.maskImages(ev, sealId, () => (seen ??= { since: ev.tx?.commitTime ?? new Date().toISOString(), change: ev.id }));
    if (!m.sealed) return { event: ev, sealed: null };
    return { event: { ...ev, key: m.key, before: m.before, after: m.after }, sealed: m.sealed };
  }

  /**
   * maskEvent without a ChangeEvent (the store writer's path: no object per change beyond the masked images).
   * `seen` is called only when the change classifies a column (for `masking show`).
   */
  maskImages(ev: MaskInput, sealId: string, seen: () => Seen, deferSeal = false): MaskedImages {
    if (!ev.before && !ev.after && !ev.key) return { key: ev.key, before: ev.before, after: ev.after, sealed: null, cells: null };
    const { keys, policies } = this.needKeys('masking');
    const x: EventCtx = { ev, seen, cols: this.classifier.columns(ev.schema, ev.table), json: null, raw: null };
    // Pass 1: classify on every value of every image, so no image shows a value its column is now masked for.
    this.observeImage(x, ev.key, null);
    this.observeImage(x, ev.before, null);
    this.observeImage(x, ev.after, ev.before);
    // Pass 2: mask.
    const key = this.maskImage(x, ev.key, 'k', policies);
    const before = this.maskImage(x, ev.before, 'b', policies);
    const after = this.maskImage(x, ev.after, 'a', policies, ev.before, before);
    if (!x.raw || deferSeal) return { key, before, after, sealed: null, cells: x.raw };
    const sealed = seal(Buffer.from(JSON.stringify(x.raw), 'utf8'), sealId, keys.currentId, keys.current);
    return { key, before, after, sealed, cells: x.raw };
  }

  /**
   * One blob for the masked cells of several changes of one transaction (by index), bound to `sealId` (the
   * id of the change that holds it): one AES-GCM operation per written slice instead of one per change, which
   * was half of masking's cost on tables with a sensitive column (bench/RESULTS.md).
   */
  sealSlice(cells: Map<number, SealedCells>, sealId: string): Buffer {
    const { keys } = this.needKeys('masking');
    const body: SliceCells = { s: Object.fromEntries(cells) };
    return seal(Buffer.from(JSON.stringify(body), 'utf8'), sealId, keys.currentId, keys.current);
  }

  private classOf(x: EventCtx, col: string): ColumnClass {
    const type = x.ev.types?.[col];
    const c = x.cols.get(col);
    return c && c.type === type ? c : this.classifier.column(x.ev.schema, x.ev.table, col, type, x.seen);
  }

  /** Pass 1 over one image; `other`: an image already observed (values equal to its own are skipped). */
  private observeImage(x: EventCtx, img: Row | null, other: Row | null): void {
    if (!img) return;
    for (const col in img) {
      const v = img[col];
      if (v === null || (other !== null && other[col] === v)) continue;
      const c = this.classOf(x, col);
      let parsed: JsonNode | null | undefined;
      const open = !c.config && !c.auto;
      if ((this.classifier.jsonMode(c) && columnPolicy(c) === 'none') || (open && c.kind === 'text' && looksLikeJson(v))) {
        parsed = v.length <= this.classifier.maxValueChars ? parseJson(v) : null;
        (x.json ??= new Map()).set(v, parsed);
      }
      if (open) this.classifier.observe(c, v, x.seen, parsed);
    }
  }

  /**
   * Pass 2 over one image: the masked image (the same object where nothing changed); records raw cells.
   * `prev`/`prevShown`: the raw and masked before image of an update, whose unchanged cells are not masked twice
   * (masking is deterministic once pass 1 has classified).
   */
  private maskImage(x: EventCtx, img: Row | null, tag: 'k' | 'b' | 'a', policies: PolicyApplier, prev?: Row | null, prevShown?: Row | null): Row | null {
    if (!img) return img;
    let out: Row | null = null;
    for (const col in img) {
      const v = img[col];
      if (v === null) continue;
      let m = prev && prev[col] === v ? prevShown![col]! : this.maskCell(x, x.cols.get(col)!, v, policies);
      if (m === v) continue;
      if (tag === 'k') m = policies.hash(v);
      out ??= { ...img };
      out[col] = m;
      x.raw ??= {};
      (x.raw[tag] ??= {})[col] = v;
    }
    return out ?? img;
  }

  private maskCell(x: EventCtx, c: ColumnClass, v: string, policies: PolicyApplier): string {
    const p = columnPolicy(c);
    if (p !== 'none') return policies.apply(p, v);
    if (this.classifier.jsonMode(c)) {
      const node = x.json?.get(v) ?? (v.length <= this.classifier.maxValueChars ? parseJson(v) : null);
      if (!node) return c.config === 'none' && !c.paths && !c.patterns ? v : REDACTED;
      const edits: { node: JsonNode; replacement: string }[] = [];
      if (node.kind === 'object' || node.kind === 'array') {
        walkMembers(node, '$', (path, _key, child) => {
          const pp = this.classifier.pathPolicy(c, path);
          if (pp === null || pp === 'none') return pp === 'none';
          edits.push({ node: child, replacement: policies.apply(pp, rawOf(v, child)) });
          return true;
        });
      }
      const out = splice(v, edits);
      if (c.config === 'none') return out;
      return unclassifiable(v, this.classifier.maxValueChars) ? REDACTED : out;
    }
    if (c.config === 'none' || c.kind === 'number' || c.kind === 'temporal' || c.kind === 'boolean') return v; // the type's own text
    return unclassifiable(v, this.classifier.maxValueChars) ? REDACTED : v;
  }

  /**
   * The raw cells sealed for a change; `index` picks the change's cells out of a slice blob (sealSlice).
   * KEY errors on a wrong key, another change's blob, or any altered byte.
   */
  open(sealed: Uint8Array, changeId: string, index?: number): SealedCells {
    const { keys } = this.needKeys('opening sealed values');
    let body: SealedCells | SliceCells;
    if (this.lastOpened && this.lastOpened.id === changeId && this.lastOpened.blob === sealed) body = this.lastOpened.cells;
    else {
      body = JSON.parse(openSealed(sealed, changeId, (id) => keys.dataKey(id)).toString('utf8')) as SealedCells | SliceCells;
      this.lastOpened = { id: changeId, blob: sealed, cells: body };
    }
    if (!('s' in body)) return body;
    return (index !== undefined ? body.s[index] : undefined) ?? {};
  }

  /** The exact raw change: the masked change with its sealed cells put back (`sealId` as given to maskEvent). */
  unmaskEvent(masked: ChangeEvent, sealed: Uint8Array | null, sealId: string = masked.id, index?: number): ChangeEvent {
    if (!sealed) return masked;
    const cells = this.open(sealed, sealId, index);
    const put = (img: Row | null, raw: Row | undefined): Row | null => (img && raw ? { ...img, ...raw } : img);
    return { ...masked, key: put(masked.key, cells.k), before: put(masked.before, cells.b), after: put(masked.after, cells.a) };
  }

  /**
   * Is the live value the one recorded? Compares against the sealed raw value (exact) where the cell was
   * sealed, else the shown value where it is clear, else the pseudonym; `unknown` where none of these can
   * tell (a partial or redacted cell without its blob). Never returns or logs the raw value.
   */
  compareForConflict(rec: RecordedCell, live: Value): 'equal' | 'differs' | 'unknown' {
    if (rec.sealed) {
      const cells = this.open(rec.sealed, rec.changeId);
      const img = rec.image === 'after' ? cells.a : cells.b;
      if (img && rec.column in img) return img[rec.column] === live ? 'equal' : 'differs';
      return rec.shown === live ? 'equal' : 'differs';
    }
    if (rec.shown === null || live === null) return rec.shown === live ? 'equal' : 'differs';
    if (rec.shown === REDACTED || rec.shown.startsWith('••••')) return 'unknown';
    if (isPseudonym(rec.shown) && this.policies) return this.policies.hash(live) === rec.shown ? 'equal' : 'differs';
    return rec.shown === live ? 'equal' : 'differs';
  }
}
