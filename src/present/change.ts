/**
 * How a ChangeEvent reads as text. One renderer for every place that shows changes: `rowtrail changes`,
 * `rowtrail blame` and the demo all print what a change did with these functions, so the demo never shows
 * what the CLI cannot.
 *
 * Values are shown in the database's text form, JSON-quoted (so `NULL` the value and the string 'NULL', or a
 * trailing space, stay distinguishable), and clipped to a readable length: the full value is in `--json`.
 */
import type { ChangeEvent, Row, Value } from '../model/index.js';
import { clip } from './text.js';

/** Limits of the text form; defaults fit a terminal. */
export interface ChangeTextOptions {
  /** Longest value shown before it is clipped (its full length is given). Default 60. */
  maxValue?: number;
  /** Columns shown for an insert or delete (key columns first). Default 6. */
  maxColumns?: number;
  /** Indent of the value lines. Default four spaces. */
  indent?: string;
}

const DEFAULTS = { maxValue: 60, maxColumns: 6, indent: '    ' };

/** `agent via user (kind, confidence)`, or the user alone, or `unknown`. */
export function actorText(ev: Pick<ChangeEvent, 'actor'>): string {
  const a = ev.actor;
  const who = a.agent ?? a.user ?? 'unknown';
  const via = a.agent && a.user ? ` via ${a.user}` : '';
  return `${who}${via} (${a.kind}, ${a.confidence})`;
}

/** A row key as `col=value,col=value` (`-` for a table without one). */
export function keyText(key: Row | null): string {
  if (!key || Object.keys(key).length === 0) return '-';
  return Object.entries(key).map(([k, v]) => `${k}=${v === null ? 'NULL' : v}`).join(',');
}

/**
 * One value, JSON-quoted; `NULL` for SQL NULL, `?` where the image lacks it. A value longer than `max`
 * characters shows its first characters quoted (a true prefix), then `…` and its full length.
 */
export function valueText(v: Value | undefined, max = DEFAULTS.maxValue): string {
  if (v === undefined) return '?';
  if (v === null) return 'NULL';
  return v.length <= max ? JSON.stringify(v) : `${JSON.stringify(v.slice(0, max))}… (${v.length} chars)`;
}

/** `UPDATE public.users id=42`, `TRUNCATE public.orders`, `DDL public.users`. */
export function changeHeading(ev: ChangeEvent): string {
  const name = `${ev.schema}.${ev.table}`;
  if (ev.op === 'truncate' || ev.op === 'ddl') return `${ev.op.toUpperCase()} ${name}`;
  return `${ev.op.toUpperCase()} ${name} ${keyText(ev.key)}`;
}

/**
 * What a change did, one line per column: an update shows its changed columns `col: before → after`; an
 * insert or delete shows the key columns and then others, up to `maxColumns`, and how many it left out;
 * DDL shows the statement; a TRUNCATE its flags. An incomplete before image is said, never guessed.
 */
export function changeLines(ev: ChangeEvent, opts: ChangeTextOptions = {}): string[] {
  const o = { ...DEFAULTS, ...opts };
  const v = (x: Value | undefined) => valueText(x, o.maxValue);
  const lines: string[] = [];
  if (ev.op === 'update') {
    for (const c of ev.changed) lines.push(`${c}: ${v(ev.before?.[c])} → ${v(ev.after?.[c])}`);
  } else if (ev.op === 'insert' || ev.op === 'delete') {
    const image = (ev.op === 'insert' ? ev.after : ev.before) ?? {};
    const keyCols = Object.keys(ev.key ?? {}).filter((c) => c in image);
    const cols = [...keyCols, ...Object.keys(image).filter((c) => !keyCols.includes(c))];
    for (const c of cols.slice(0, o.maxColumns)) lines.push(`${c}: ${v(image[c])}`);
    if (cols.length > o.maxColumns) lines.push(`… ${cols.length - o.maxColumns} more column(s)`);
  } else if (ev.op === 'ddl') {
    if (ev.ddl) lines.push(clip(ev.ddl.replace(/\s+/g, ' '), 200));
  } else if (ev.truncate?.cascade || ev.truncate?.restartIdentity) {
    lines.push([ev.truncate.cascade && 'CASCADE', ev.truncate.restartIdentity && 'RESTART IDENTITY'].filter(Boolean).join(' '));
  }
  const missing = ev.missing?.before;
  if (ev.incomplete?.includes('before')) lines.push(`(before image incomplete${missing?.length ? `: ${missing.join(', ')} not logged` : ''})`);
  return lines.map((l) => o.indent + l);
}

/** `tx 771 at 2026-11-26T10:00:00.123456Z by deploy-bot via svc_app (ai-agent, exact)`. */
export function txHeading(ev: ChangeEvent): string {
  return `tx ${ev.tx.id} at ${ev.tx.commitTime} by ${actorText(ev)}`;
}

/** A row-history entry (blame): `time  OP  by actor  tx id`, with the change id where asked. */
export function historyHeading(ev: ChangeEvent, withId = true): string {
  return `${ev.tx.commitTime}  ${ev.op.toUpperCase()}  by ${actorText(ev)}  tx ${ev.tx.id}${withId ? `  (${ev.id})` : ''}`;
}

/**
 * Changes as text, grouped by transaction: a `tx …` heading when the transaction changes, then per change
 * its heading and value lines. A generator, so a long listing streams instead of being built in memory.
 */
export function* changesText(events: Iterable<ChangeEvent>, opts: ChangeTextOptions = {}): Generator<string> {
  let current: string | null = null;
  for (const ev of events) {
    const tx = `${ev.source}\0${ev.tx.position}`;
    if (tx !== current) {
      current = tx;
      yield txHeading(ev);
    }
    yield `  ${changeHeading(ev)}`;
    yield* changeLines(ev, opts);
  }
}

/** `3 × update public.products, 2 × delete public.customers`: what a set of changes did, by op and table. */
export function changesSummary(events: ChangeEvent[]): string {
  const counts = new Map<string, number>();
  for (const e of events) {
    const k = `${e.op} ${e.schema}.${e.table}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} × ${k}`).join(', ');
}
