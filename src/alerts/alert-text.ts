/**
 * The pieces of an alert every channel shows, as plain text (pure): who, where, rows by operation, the window,
 * the evidence line "observed vs expected". Built from the stored Alert only (its values are already masked):
 * a payload never reads row images.
 */
import type { Alert } from '../model/index.js';

export type Notice = 'opened' | 'updated' | 'resolved' | 'test';

export function actorText(a: Alert): string {
  const x = a.actor;
  if (!x) return 'unknown';
  const name = x.agent ?? x.user ?? 'unknown';
  const on = x.agent && x.user && x.user !== x.agent ? ` on ${x.user}` : '';
  return `${name} (${x.kind}${on}, ${x.confidence})`;
}

export function whereText(a: Alert): string {
  return a.table ? `${a.source} / ${a.table}` : a.source;
}

/** `deleted 300 · updated 2` from the evidence's per-operation counts, or null when it has none. */
export function rowsText(a: Alert): string | null {
  const parts: string[] = [];
  for (const op of ['inserted', 'updated', 'deleted'] as const) {
    const n = a.evidence[op];
    if (typeof n === 'number' && n > 0) parts.push(`${op} ${n.toLocaleString('en-US')}`);
  }
  if (typeof a.evidence.tableRows === 'number') parts.push(`of ~${a.evidence.tableRows.toLocaleString('en-US')} in the table`);
  return parts.length ? parts.join(' · ') : null;
}

export function windowText(a: Alert): string {
  const t = (s: string) => s.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
  return a.window.from === a.window.to ? t(a.window.from) : `${t(a.window.from)} → ${t(a.window.to)}`;
}

/** `observed 300 vs expected 200 (score 1)` */
export function evidenceLine(a: Alert): string {
  const e = a.evidence;
  const exp = e.expected === undefined || e.expected === null ? '' : ` vs expected ${fmt(e.expected)}`;
  const score = e.score === undefined || e.score === null ? '' : ` (score ${fmt(e.score)})`;
  return `observed ${fmt(e.observed)}${exp}${score}`;
}

const SHOWN = new Set(['observed', 'expected', 'score', 'key', 'inserted', 'updated', 'deleted', 'tableRows']);

/** The rest of the evidence as `key: value` lines (objects as JSON). */
export function evidenceDetails(a: Alert): string[] {
  return Object.entries(a.evidence)
    .filter(([k, v]) => !SHOWN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
}

export function headline(a: Alert, n: Notice): string {
  const pre = n === 'resolved' ? 'Resolved: ' : n === 'test' ? 'Test: ' : '';
  return `${pre}${a.title}`;
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : String(Math.round(v * 1000) / 1000)) : String(v);
}

/** Cuts `s` to at most `max` UTF-16 units, ending in `…`, never inside a surrogate pair. */
export function clipText(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max <= 0) return '';
  let cut = s.slice(0, max - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** A sample alert for `rowtrail alerts test`: the shape of a real one, with made-up values that say so. */
export function testAlert(channel: string, now = new Date()): Alert {
  const at = now.toISOString();
  return {
    id: `test-${now.getTime().toString(36)}`,
    detector: 'test',
    severity: 'info',
    title: `rowtrail test notification for channel ${channel}`,
    summary: 'This is a test sent by `rowtrail alerts test`: the channel is configured and reachable. No action is needed.',
    source: 'rowtrail',
    table: null,
    actor: null,
    window: { from: at, to: at },
    evidence: { observed: 0, expected: 0 },
    txIds: [],
    state: 'open',
    undo: null,
  };
}
