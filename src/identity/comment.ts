/**
 * sqlcommenter-style agent context in statements: `/*agent='deploy-bot',run='r-17',on_behalf_of='alice'*\/`.
 *
 * Format (https://google.github.io/sqlcommenter/spec/): comma-separated `key='value'` pairs; keys and
 * values are URL-encoded, and a `'` inside a value is escaped as `\'`. Pure and total: any input (quotes,
 * unicode, garbage, oversize) gives a result, never an exception.
 *
 * Only a comment that **opens or closes the statement** counts (sqlcommenter appends at the end; some ORMs
 * prepend): a `/*…*\/` inside a string literal in the middle of a statement is data, not context.
 */

/** Keys and values of one agent context, decoded. */
export type ContextPairs = Record<string, string>;

export interface ParsedContext {
  /** The pairs, or null when the statement carries no usable context. */
  pairs: ContextPairs | null;
  /** Why a context that was present was refused (`oversize`, `too-many-keys`, `unparsable`). */
  error?: 'oversize' | 'too-many-keys' | 'unparsable';
}

/** At most this many keys per context: a context is a handful of tags, not a payload. */
export const MAX_CONTEXT_KEYS = 32;
const MAX_KEY_LENGTH = 64;

function decode(s: string): string {
  // Values are URL-encoded per sqlcommenter; plain text (not encoded) is accepted as is.
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Parses the body of one comment (`agent='x',run='y'`). Pairs that do not parse are skipped; a body with no
 * pair at all gives null. Never throws.
 */
export function parseCommentBody(body: string): ContextPairs | null {
  const out: ContextPairs = Object.create(null);
  let n = 0;
  let i = 0;
  const len = body.length;
  while (i < len) {
    while (i < len && (body[i] === ',' || body[i] === ' ' || body[i] === '\t' || body[i] === '\n' || body[i] === '\r')) i++;
    if (i >= len) break;
    const eq = body.indexOf('=', i);
    if (eq < 0) break;
    const rawKey = body.slice(i, eq).trim();
    i = eq + 1;
    while (i < len && body[i] === ' ') i++;
    let value: string | null = null;
    if (body[i] === "'") {
      // Quoted value: runs to the next unescaped quote.
      let j = i + 1;
      let v = '';
      let closed = false;
      while (j < len) {
        const c = body[j]!;
        if (c === '\\' && j + 1 < len) {
          v += body[j + 1];
          j += 2;
          continue;
        }
        if (c === "'") {
          closed = true;
          break;
        }
        v += c;
        j++;
      }
      if (!closed) break; // unterminated quote: the rest is garbage
      value = v;
      i = j + 1;
    } else {
      // Unquoted (not per spec, but common): up to the next comma.
      const comma = body.indexOf(',', i);
      const end = comma < 0 ? len : comma;
      value = body.slice(i, end).trim();
      i = end;
    }
    const key = decode(rawKey);
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) || key.length > MAX_KEY_LENGTH) continue;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    if (!(key in out)) n++;
    out[key] = decode(value);
    if (n > MAX_CONTEXT_KEYS) return null;
  }
  return n > 0 ? { ...out } : null;
}

/** The comment bodies that open or close a statement (leading, then trailing). */
export function edgeComments(sql: string): string[] {
  const out: string[] = [];
  const s = sql.trim();
  if (s.startsWith('/*')) {
    const end = s.indexOf('*/', 2);
    if (end > 0) out.push(s.slice(2, end));
  }
  let t = s;
  while (t.endsWith(';')) t = t.slice(0, -1).trimEnd();
  if (t.endsWith('*/')) {
    const start = t.lastIndexOf('/*', t.length - 2);
    if (start >= 0 && !(start === 0 && out.length > 0)) out.push(t.slice(start + 2, t.length - 2));
  }
  return out;
}

/**
 * The agent context of a statement: pairs from its leading and trailing comments (trailing wins on a
 * repeated key). Refused (`pairs: null`) when larger than `maxBytes`.
 */
export function parseStatementContext(sql: string | null | undefined, maxBytes = 2048): ParsedContext {
  if (typeof sql !== 'string' || !sql.includes('/*')) return { pairs: null };
  let merged: ContextPairs | null = null;
  let seen = false;
  for (const body of edgeComments(sql)) {
    if (!body.includes('=')) continue;
    seen = true;
    if (byteLength(body) > maxBytes) return { pairs: null, error: 'oversize' };
    const pairs = parseCommentBody(body);
    if (pairs) merged = { ...(merged ?? {}), ...pairs };
  }
  if (merged && Object.keys(merged).length > MAX_CONTEXT_KEYS) return { pairs: null, error: 'too-many-keys' };
  if (!merged) return seen ? { pairs: null, error: 'unparsable' } : { pairs: null };
  return { pairs: merged };
}

/**
 * The value of `SET LOCAL rowtrail.actor = '…'`: either a bare agent name (`deploy-bot`) or pairs in the
 * comment syntax (`agent='deploy-bot',run='r-17',sig='…'`).
 */
export function parseActorSetting(value: string | null | undefined, maxBytes = 2048): ParsedContext {
  if (typeof value !== 'string') return { pairs: null };
  const v = value.trim();
  if (!v) return { pairs: null };
  if (byteLength(v) > maxBytes) return { pairs: null, error: 'oversize' };
  if (v.includes("='") || /^[A-Za-z_][A-Za-z0-9_.-]*=/.test(v)) {
    const pairs = parseCommentBody(v);
    return pairs ? { pairs } : { pairs: null, error: 'unparsable' };
  }
  return { pairs: { agent: v } };
}

function encodeValue(v: string): string {
  return encodeURIComponent(v).replace(/'/g, "\\'");
}

/** Renders pairs as a sqlcommenter comment (keys sorted), e.g. for an agent that tags its statements. */
export function formatComment(pairs: ContextPairs): string {
  const body = Object.keys(pairs)
    .sort()
    .map((k) => `${encodeURIComponent(k)}='${encodeValue(pairs[k]!)}'`)
    .join(',');
  return `/*${body}*/`;
}
