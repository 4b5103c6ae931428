/**
 * Classification: which columns (and which keys inside JSON values) are sensitive, with which policy, and why.
 *
 * Precedence: config (`masking.columns`, per column or JSON key path) > sticky auto classification (name rule
 * when the column is first seen, value detector when a value matches) > `none`. Sticky: once a column or JSON
 * path is classified it stays so (no flapping per row; a detector never downgrades it); only config changes
 * it. The auto part is the serialisable `ClassifierState` the store persists and hands back at start.
 *
 * Columns whose config is `none` are trusted whole: no detector runs on them (config JSON paths below them
 * still apply). JSON values (json/jsonb columns, and text values that parse as a JSON object or array) are
 * classified per key path: name rules on keys, detectors on string and number leaves.
 */
import { RowtrailError } from '../errors.js';
import { columnKind, detectValue, matchName, type ColumnKind, type Detection, type Policy } from './detect.js';
import { formatPath, literalKey, parsePlace, quoteSegment, tableName, type Place } from '../config/masking-paths.js';
import { parseJson, rawOf, walkMembers, type JsonNode } from './json.js';

/** Why a place is classified. */
export interface Reason {
  /** `config` (masking.columns), `name` (a name rule), `value` (a value detector), `type` (binary column). */
  by: 'config' | 'name' | 'value' | 'type';
  /** The rule or detector (`email`, `card`, …) or the config key. */
  rule: string;
}

/** One sticky classification. */
export interface Classification {
  policy: Policy;
  reason: Reason;
  /** When it was first classified (commit time of the change that showed it), ISO-8601. */
  since: string;
  /** The change that showed it (id), where known. */
  change?: string;
}

/** Auto classifications by place (`schema.table.column` or `schema.table.column.$.key…`); JSON-serialisable. */
export type ClassifierState = Record<string, Classification>;

export interface ClassifierOptions {
  /** `masking.columns`: place → policy. */
  columns?: Record<string, Policy>;
  /** Run value detectors (name rules always run). Default true. */
  detectValues?: boolean;
  /** Values longer than this (UTF-16 units) are not scanned, and are masked unless the column is classified. Default 262144. */
  maxValueChars?: number;
}

interface PathPolicy {
  policy: Policy;
  /** Config pattern segments (with `*`), for wildcard matching; null for an exact path. */
  segs: string[] | null;
}

/** What the classifier knows of one column. */
export interface ColumnClass {
  readonly place: string;
  readonly name: string;
  /** Column-level config policy, or null. */
  config: Policy | null;
  /** Sticky auto classification of the whole column, or null. */
  auto: Classification | null;
  kind: ColumnKind;
  type: string | undefined;
  /** JSON key path policies (config and auto), exact by path string; null when there are none. */
  paths: Map<string, PathPolicy> | null;
  /** Config JSON paths with wildcards. */
  patterns: PathPolicy[] | null;
  /** Auto JSON path classifications (a subset of `paths`, with their reasons). */
  autoPaths: Map<string, Classification> | null;
}

/** The policy shown for the whole column (before JSON paths): config, else auto, else none. */
export function columnPolicy(c: ColumnClass): Policy {
  return c.config ?? c.auto?.policy ?? 'none';
}

/** Where a change came from, for `since`/`change` of new classifications. */
export interface Seen {
  since: string;
  change?: string;
}

/** A Seen, or a function that makes it (called only when something is classified: most values classify nothing). */
export type SeenArg = Seen | (() => Seen);

function seenNow(seen: SeenArg | undefined): Seen | undefined {
  return typeof seen === 'function' ? seen() : seen;
}

export class Classifier {
  /** schema → table → column → class (nested so a lookup builds no string). */
  private readonly tables = new Map<string, Map<string, Map<string, ColumnClass>>>();
  private readonly configCols = new Map<string, Policy>();
  private readonly configPaths = new Map<string, { path: string[]; policy: Policy }[]>();
  private readonly state: ClassifierState;
  private fresh: [string, Classification][] = [];
  readonly detectValues: boolean;
  readonly maxValueChars: number;

  /** `state`: what `snapshot()` returned before (from the store). Config keys are checked by the schema. */
  constructor(opts: ClassifierOptions = {}, state: ClassifierState = {}) {
    this.detectValues = opts.detectValues ?? true;
    this.maxValueChars = opts.maxValueChars ?? 262_144;
    this.state = { ...state };
    for (const [key, policy] of Object.entries(opts.columns ?? {})) {
      const p = parsePlace(key);
      if (typeof p === 'string') throw new RowtrailError('CONFIG', `masking.columns: '${key}': ${p}`);
      const col = colPlace(p);
      if (!p.path) this.configCols.set(col, policy);
      else {
        const list = this.configPaths.get(col) ?? [];
        list.push({ path: p.path, policy });
        this.configPaths.set(col, list);
      }
    }
  }

  /** The known columns of a table (the same Map on every call; `column()` adds to it). */
  columns(schema: string, table: string): Map<string, ColumnClass> {
    let bySchema = this.tables.get(schema);
    if (!bySchema) this.tables.set(schema, (bySchema = new Map()));
    let cols = bySchema.get(table);
    if (!cols) bySchema.set(table, (cols = new Map()));
    return cols;
  }

  /** The classification record of a column, created (config, sticky state, name rule) on first sight. */
  column(schema: string, table: string, name: string, type?: string, seen?: SeenArg): ColumnClass {
    const cols = this.columns(schema, table);
    let c = cols.get(name);
    if (c && c.type === type) return c;
    const place = `${tableName(schema, table)}.${quoteSegment(name)}`;
    const kind = columnKind(type);
    if (c) {
      // The column's type changed (ALTER): its kind may differ; sticky classifications stay.
      c.type = type;
      c.kind = kind;
      this.nameRule(c, seen);
      return c;
    }
    const config = this.configCols.get(place) ?? null;
    c = { place, name, config, auto: this.state[place] ?? null, kind, type, paths: null, patterns: null, autoPaths: null };
    for (const { path, policy } of this.configPaths.get(place) ?? []) {
      const pp: PathPolicy = { policy, segs: path.includes('*') ? path : null };
      if (pp.segs) (c.patterns ??= []).push(pp);
      else (c.paths ??= new Map()).set(formatPath(path), pp);
    }
    const prefix = place + '.$';
    for (const [k, cls] of Object.entries(this.state)) {
      if (!k.startsWith(prefix) || (k.length > prefix.length && k[prefix.length] !== '.')) continue;
      const ps = k.slice(place.length + 1);
      (c.autoPaths ??= new Map()).set(ps, cls);
      if (!c.paths?.has(ps)) (c.paths ??= new Map()).set(ps, { policy: cls.policy, segs: null });
    }
    cols.set(name, c);
    this.nameRule(c, seen);
    return c;
  }

  private nameRule(c: ColumnClass, seen?: SeenArg): void {
    if (c.config || c.auto) return;
    if (c.kind === 'binary') {
      this.stick(c, { rule: 'binary', policy: 'redact' }, 'type', seen);
      return;
    }
    const d = matchName(c.name, c.kind);
    if (d) this.stick(c, d, 'name', seen);
  }

  private stick(c: ColumnClass, d: Detection, by: Reason['by'], seenArg?: SeenArg): void {
    const seen = seenNow(seenArg);
    const cls: Classification = { policy: d.policy, reason: { by, rule: d.rule }, since: seen?.since ?? new Date().toISOString() };
    if (seen?.change) cls.change = seen.change;
    c.auto = cls;
    this.state[c.place] = cls;
    this.fresh.push([c.place, cls]);
  }

  private stickPath(c: ColumnClass, path: string, d: Detection, by: Reason['by'], seenArg: SeenArg): void {
    const seen = seenNow(seenArg)!;
    const cls: Classification = { policy: d.policy, reason: { by, rule: d.rule }, since: seen.since };
    if (seen.change) cls.change = seen.change;
    (c.autoPaths ??= new Map()).set(path, cls);
    (c.paths ??= new Map()).set(path, { policy: d.policy, segs: null });
    const place = `${c.place}.${path}`;
    this.state[place] = cls;
    this.fresh.push([place, cls]);
  }

  /** True when values of this column must be looked at as JSON (json type, or JSON paths known). */
  jsonMode(c: ColumnClass): boolean {
    return c.kind === 'json' || c.paths !== null || c.patterns !== null;
  }

  /**
   * Looks at one value that flows by; may classify the column or JSON paths in it (sticky). `parsed`: the
   * value's parsed JSON where the caller parsed it, null where it is known not to be JSON, undefined to let
   * the classifier decide (it tries text values that start with `{` or `[`).
   */
  observe(c: ColumnClass, v: string, seen: SeenArg, parsed?: JsonNode | null): void {
    if (c.config || c.auto || !this.detectValues || v.length > this.maxValueChars) return;
    if (parsed) {
      this.observeJson(c, v, parsed, seen);
      return;
    }
    if (parsed === undefined && (c.kind === 'json' || (c.kind === 'text' && looksLikeJson(v)))) {
      const node = parseJson(v);
      if (node) {
        this.observeJson(c, v, node, seen);
        return;
      }
    }
    const d = detectValue(v, c.kind);
    if (d) this.stick(c, d, 'value', seen);
  }

  private observeJson(c: ColumnClass, text: string, root: JsonNode, seen: SeenArg): void {
    const leaf = (n: JsonNode) =>
      n.kind === 'string' || n.kind === 'number' ? detectValue(rawOf(text, n), n.kind === 'number' ? 'number' : 'text') : null;
    if (root.kind !== 'object' && root.kind !== 'array') {
      const d = leaf(root);
      if (d) this.stick(c, d, 'value', seen);
      return;
    }
    walkMembers(root, '$', (path, key, node) => {
      if (this.pathPolicy(c, path) !== null) return true;
      const byName = matchName(key);
      if (byName) {
        this.stickPath(c, path, byName, 'name', seen);
        return true;
      }
      const d = leaf(node);
      if (d) this.stickPath(c, path, d, 'value', seen);
      return false;
    });
  }

  /** The policy of a JSON path string in a column (exact first, then config wildcards), or null. */
  pathPolicy(c: ColumnClass, path: string): Policy | null {
    const exact = c.paths?.get(path);
    if (exact) return exact.policy;
    if (!c.patterns) return null;
    const segs = splitPath(path);
    for (const p of c.patterns) if (matchSegs(p.segs!, segs)) return p.policy;
    return null;
  }

  /** New sticky classifications since the last call (for the store to persist), oldest first. */
  drainNew(): [string, Classification][] {
    const out = this.fresh;
    this.fresh = [];
    return out;
  }

  /** All sticky auto classifications (what the store persists), by place. */
  snapshot(): ClassifierState {
    return { ...this.state };
  }

  /**
   * Every classified place, config and auto, for `rowtrail masking show`: config entries first (as written),
   * then auto ones; an auto entry that config overrides is listed with the config policy and reason.
   */
  list(): { place: string; policy: Policy; reason: Reason; since?: string }[] {
    const out: { place: string; policy: Policy; reason: Reason; since?: string }[] = [];
    const config = new Map<string, Policy>();
    for (const [col, policy] of this.configCols) config.set(col, policy);
    for (const [col, paths] of this.configPaths) for (const p of paths) config.set(`${col}.${formatPath(p.path)}`, p.policy);
    for (const [place, policy] of config) out.push({ place, policy, reason: { by: 'config', rule: place } });
    for (const [place, cls] of Object.entries(this.state)) {
      if (!config.has(place)) out.push({ place, policy: cls.policy, reason: cls.reason, since: cls.since });
    }
    return out;
  }
}

function colPlace(p: Place): string {
  return `${tableName(p.schema, p.table)}.${quoteSegment(p.column)}`;
}


function splitPath(path: string): string[] {
  const p = parsePlace(`s.t.c.${path}`);
  return typeof p === 'string' ? [] : p.path!;
}

function matchSegs(pattern: string[], segs: string[]): boolean {
  if (pattern.length !== segs.length) return false;
  for (let i = 0; i < segs.length; i++) if (pattern[i] !== '*' && literalKey(pattern[i]) !== literalKey(segs[i])) return false;
  return true;
}

/** A text value worth trying as JSON: starts (after blanks) with `{` or `[`. */
export function looksLikeJson(v: string): boolean {
  // Runs on every text value that flows by: a character scan, not a regex on a slice (bench/RESULTS.md).
  for (let i = 0, end = Math.min(v.length, 64); i < end; i++) {
    const c = v.charCodeAt(i);
    if (c === 123 || c === 91) return true; // { [
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13 && c !== 11 && c !== 12 && !(c > 127 && /\s/.test(v[i]))) return false;
  }
  return false;
}
