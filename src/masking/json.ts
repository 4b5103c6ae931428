/**
 * JSON values masked by key path without re-serializing them: a strict RFC 8259 parser that keeps each
 * value's span in the text, and a splice that replaces only the masked values. Everything else stays byte for
 * byte (jsonb's `{"a": 1}` spacing, numbers beyond 2^53, key order, escapes), so a masked JSON value is the
 * original text with some values replaced by JSON strings (`"h:…"`, `"••••1111"`, `"[redacted]"`) and is
 * always valid JSON.
 */
import { quoteSegment } from '../config/masking-paths.js';

export interface JsonNode {
  kind: 'object' | 'array' | 'string' | 'number' | 'literal';
  start: number;
  end: number;
  /** Strings: the decoded value. */
  str?: string;
  members?: { key: string; node: JsonNode }[];
  items?: JsonNode[];
}

/** Deeper documents are refused (and so masked whole): the walk is recursive. */
export const MAX_JSON_DEPTH = 256;

class JsonSyntax extends Error {}

/** Parses `text` as one JSON document; null where it is not valid JSON (or nests deeper than MAX_JSON_DEPTH). */
export function parseJson(text: string): JsonNode | null {
  let i = 0;
  const ws = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 10 || c === 13 || c === 9; c = text.charCodeAt(++i));
  };
  const fail = (): never => {
    throw new JsonSyntax();
  };
  const str = (): string => {
    const start = i++;
    let plain = true;
    for (;;) {
      const c = text.charCodeAt(i);
      if (Number.isNaN(c) || c < 32) fail();
      if (c === 34) break;
      if (c === 92) {
        plain = false;
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail();
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail();
      } else i++;
    }
    i++;
    return plain ? text.slice(start + 1, i - 1) : (JSON.parse(text.slice(start, i)) as string);
  };
  const value = (depth: number): JsonNode => {
    if (depth > MAX_JSON_DEPTH) fail();
    ws();
    const start = i;
    const c = text[i];
    if (c === '{') {
      i++;
      const members: { key: string; node: JsonNode }[] = [];
      ws();
      if (text[i] === '}') i++;
      else
        for (;;) {
          ws();
          if (text[i] !== '"') fail();
          const key = str();
          ws();
          if (text[i++] !== ':') fail();
          members.push({ key, node: value(depth + 1) });
          ws();
          const d = text[i++];
          if (d === '}') break;
          if (d !== ',') fail();
        }
      return { kind: 'object', start, end: i, members };
    }
    if (c === '[') {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === ']') i++;
      else
        for (;;) {
          items.push(value(depth + 1));
          ws();
          const d = text[i++];
          if (d === ']') break;
          if (d !== ',') fail();
        }
      return { kind: 'array', start, end: i, items };
    }
    if (c === '"') {
      const s = str();
      return { kind: 'string', start, end: i, str: s };
    }
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m && m[0] !== '' && m[0] !== '-') {
      i += m[0].length;
      return { kind: 'number', start, end: i };
    }
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return { kind: 'literal', start, end: i };
      }
    }
    return fail();
  };
  try {
    const root = value(0);
    ws();
    return i === text.length ? root : null;
  } catch (e) {
    if (e instanceof JsonSyntax || e instanceof SyntaxError || e instanceof RangeError) return null;
    throw e;
  }
}

/** `parent` path string extended by one object key (`$.a` + `b` → `$.a.b`; a key named `*` is quoted). */
export function childPath(parent: string, key: string): string {
  return `${parent}.${key === '*' ? '"*"' : quoteSegment(key)}`;
}

/**
 * Visits every object member below `node` with its path string (`$.contact.email`; arrays transparent) and
 * its key. `visit` returns true to skip the member's children (it is masked whole).
 */
export function walkMembers(node: JsonNode, path: string, visit: (path: string, key: string, child: JsonNode) => boolean): void {
  if (node.kind === 'array') for (const it of node.items!) walkMembers(it, path, visit);
  else if (node.kind === 'object')
    for (const m of node.members!) {
      const p = childPath(path, m.key);
      if (!visit(p, m.key, m.node)) walkMembers(m.node, p, visit);
    }
}

/** The raw text a masking policy works on: a string's decoded value, any other value's JSON text. */
export function rawOf(text: string, node: JsonNode): string {
  return node.kind === 'string' ? node.str! : text.slice(node.start, node.end);
}

/**
 * `text` with the values at the given spans replaced by JSON strings. `edits` must not overlap (the walk
 * never descends into a replaced value).
 */
export function splice(text: string, edits: { node: JsonNode; replacement: string }[]): string {
  if (edits.length === 0) return text;
  edits.sort((a, b) => a.node.start - b.node.start);
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += text.slice(at, e.node.start) + JSON.stringify(e.replacement);
    at = e.node.end;
  }
  return out + text.slice(at);
}
