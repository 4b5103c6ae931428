import type { Row } from '../model/index.js';
import { RowtrailError } from '../errors.js';

/** Canonical JSON of a row key: columns sorted by name, so equal keys are equal strings. */
export function canonicalKey(key: Row): string {
  const cols = Object.keys(key);
  if (cols.length === 1) return JSON.stringify(key);
  cols.sort();
  const o: Row = {};
  for (const c of cols) o[c] = key[c];
  return JSON.stringify(o);
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `10m`, `1h`, `2d`, `1w` → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim());
  if (!m) throw new RowtrailError('USAGE', `'${text}' is not a duration (use e.g. 90s, 10m, 1h, 2d, 1w)`);
  return Number(m[1]) * UNITS[m[2]];
}

/** A point in time from a duration ago (`10m`) or an ISO time. */
export function parseTimeArg(text: string, now = Date.now()): Date {
  if (/^\d+(?:\.\d+)?\s*[smhdw]$/.test(text.trim())) return new Date(now - parseDuration(text));
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new RowtrailError('USAGE', `'${text}' is neither a duration (10m, 1h) nor a time (2026-11-26T10:00:00Z)`);
  return new Date(t);
}
