/**
 * Names of what masking classifies: a column `schema.table.column`, or a place inside a JSON value of a
 * column, `schema.table.column.$.contact.email` (the form config keys and the classifier state use).
 *
 * Syntax: segments separated by `.`; a segment holding `.`, `"`, `*` or `$`, or empty, is written in double
 * quotes with `""` for a quote (`public."odd.table".col`, `…profile.$."a.b"`). After the column, `.$`
 * starts a JSON key path: each further segment is an object key, `*` (unquoted) matches any key. Arrays are
 * transparent (as PostgreSQL's lax jsonpath): `$.contacts.email` names the `email` of every element of a
 * `contacts` array, and of a `contacts` object alike, so a path never carries array indexes.
 * For MySQL, `schema` is the database name.
 */

/** A parsed config key or state key. `path` is null for a whole column; `[]` would be the JSON root. */
export interface Place {
  schema: string;
  table: string;
  column: string;
  /** JSON key path below the column; `*` matches any key (config only). */
  path: string[] | null;
}

/** Quotes a segment where the plain form would be ambiguous. */
export function quoteSegment(s: string): string {
  return s === '' || /[."*$\s]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** `schema.table` as the classifier keys its tables (quoted like config keys). */
export function tableName(schema: string, table: string): string {
  return `${quoteSegment(schema)}.${quoteSegment(table)}`;
}

/** The string form of a JSON path below a column: `$.contact.email` (no leading column). */
export function formatPath(path: readonly string[]): string {
  let out = '$';
  for (const seg of path) out += '.' + (seg === '*' ? '*' : seg === QUOTED_STAR ? '"*"' : quoteSegment(seg));
  return out;
}

/** The string form of a place, as config keys and `rowtrail masking show` write it. */
export function formatPlace(p: Place): string {
  const col = `${tableName(p.schema, p.table)}.${quoteSegment(p.column)}`;
  return p.path ? `${col}.${formatPath(p.path)}` : col;
}

interface Segment {
  text: string;
  quoted: boolean;
}

function splitSegments(s: string): Segment[] | string {
  const out: Segment[] = [];
  let i = 0;
  for (;;) {
    if (s[i] === '"') {
      let text = '';
      i++;
      for (;;) {
        if (i >= s.length) return 'an unterminated "…" segment';
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            text += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += s[i++];
      }
      out.push({ text, quoted: true });
    } else {
      const end = s.indexOf('.', i);
      const text = s.slice(i, end < 0 ? s.length : end);
      if (text === '') return 'an empty segment (two dots, or a dot at an end)';
      if (text.includes('"')) return `a stray quote in '${text}'`;
      out.push({ text, quoted: false });
      i = end < 0 ? s.length : end;
    }
    if (i >= s.length) return out;
    if (s[i] !== '.') return `'${s.slice(i)}' after a quoted segment (expected a dot)`;
    i++;
    if (i >= s.length) return 'a dot at the end';
  }
}

/**
 * Parses `schema.table.column` or `schema.table.column.$.key.key`; returns a one-line reason on bad syntax.
 */
export function parsePlace(s: string): Place | string {
  const segs = splitSegments(s);
  if (typeof segs === 'string') return segs;
  if (segs.length < 3) return 'must be schema.table.column (optionally followed by .$.key… for a JSON key path)';
  const [schema, table, column, ...rest] = segs;
  for (const g of [schema, table, column]) {
    if (!g.quoted && (g.text === '*' || g.text === '$')) return `'${g.text}' cannot name a schema, table or column (quote it)`;
  }
  if (rest.length === 0) return { schema: schema.text, table: table.text, column: column.text, path: null };
  if (rest[0].quoted || rest[0].text !== '$') return `expected .$ after the column for a JSON key path, got '${rest[0].text}'`;
  if (rest.length === 1) return 'a JSON key path needs at least one key after $ (mask the whole column with schema.table.column)';
  const path: string[] = [];
  for (const g of rest.slice(1)) {
    if (!g.quoted && g.text === '$') return "'$' may only start the JSON key path (quote a key named $)";
    // A quoted "*" is a key literally named *; the wildcard is the bare *. Keep them apart with a marker.
    path.push(g.quoted && g.text === '*' ? QUOTED_STAR : g.text);
  }
  return { schema: schema.text, table: table.text, column: column.text, path };
}

/** Internal stand-in for a key literally named `*` (the bare `*` is the wildcard). */
export const QUOTED_STAR = '\u0000*';

/** The key a path segment matches literally (undoes the QUOTED_STAR marker). */
export function literalKey(seg: string): string {
  return seg === QUOTED_STAR ? '*' : seg;
}
