import { describe, expect, it } from 'vitest';
import fc from 'fast-check';

import { parseJson } from '../../src/masking/index.js';
import { looksLikeJson } from '../../src/masking/classify.js';
import { rawOf, splice, walkMembers, type JsonNode } from '../../src/masking/json.js';

/** The value a node stands for, rebuilt from spans (independent of the parser's own decoding path). */
function jsonValue(text: string, n: JsonNode): unknown {
  if (n.kind === 'object') return Object.fromEntries(n.members!.map((m) => [m.key, jsonValue(text, m.node)]));
  if (n.kind === 'array') return n.items!.map((i) => jsonValue(text, i));
  return JSON.parse(text.slice(n.start, n.end));
}

describe('JSON spans', () => {
  it('parses what JSON.parse parses, to the same value, with exact spans', () => {
    fc.assert(
      fc.property(fc.json(), fc.constantFrom(0, 2), (j, indent) => {
        const text = indent ? JSON.stringify(JSON.parse(j), null, indent) : j;
        const root = parseJson(text);
        expect(root).not.toBeNull();
        expect(jsonValue(text, root!)).toEqual(JSON.parse(text));
      }),
    );
  });

  it('refuses what JSON.parse refuses (and too deep nesting)', () => {
    for (const bad of ['', '{', '{"a":1,}', '[1 2]', "{'a':1}", '{"a":01}', 'tru', '"\u0001"', '{"a":1} x', '{a,b}', 'NaN', '"\\x"']) {
      expect(() => JSON.parse(bad)).toThrow();
      expect(parseJson(bad)).toBeNull();
    }
    expect(parseJson('['.repeat(300) + ']'.repeat(300))).toBeNull();
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) => {
        let ok = true;
        try {
          JSON.parse(s);
        } catch {
          ok = false;
        }
        expect(parseJson(s) !== null).toBe(ok);
      }),
    );
  });

  it('masking any set of members keeps valid JSON, changes only those values, keeps the rest byte for byte', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), fc.integer({ min: 0, max: 1000 }), (j, seed) => {
        const text = JSON.stringify(JSON.parse(j), null, 1);
        const root = parseJson(text)!;
        const edits: { node: JsonNode; replacement: string }[] = [];
        let k = seed;
        walkMembers(root, '$', (_p, _key, node) => {
          if (k++ % 3 !== 0) return false;
          edits.push({ node, replacement: `[masked ${rawOf(text, node).length}]` });
          return true;
        });
        const out = splice(text, [...edits]);
        expect(() => JSON.parse(out)).not.toThrow();
        if (edits.length === 0) expect(out).toBe(text);
        // the text before the first edit is kept as is
        if (edits.length) expect(out.slice(0, edits[0].node.start)).toBe(text.slice(0, edits[0].node.start));
      }),
    );
  });
});

describe('looksLikeJson', () => {
  it('agrees with the regex it replaced on any text', () => {
    const regex = (v: string) => /^\s*([{[])/.test(v.length > 64 ? v.slice(0, 64) : v);
    const ws = fc.constantFrom(' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\ufeff', '\u2028', '\u3000', 'x', '{', '[', '"');
    fc.assert(fc.property(fc.oneof(fc.string(), fc.array(ws, { maxLength: 80 }).map((a) => a.join(''))), (v) => looksLikeJson(v) === regex(v)));
  });
});
