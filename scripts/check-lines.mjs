#!/usr/bin/env node
// Fails on any line longer than MAX characters in the TypeScript of src/ and detectors/.
// Why a script: Biome's linter has no max-line-length rule (only its formatter wraps), and the formatter
// is off so that no mass reformat lands while other work merges. Prints `file:line: N characters`.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX = 160;
const ROOTS = ['src', 'detectors'];

let bad = 0;
for (const root of ROOTS) {
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).sort();
  for (const rel of files) {
    const file = join(root, rel);
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      // Characters as a reader counts them (code points), not UTF-16 units.
      const n = [...line].length;
      if (n > MAX) {
        console.log(`${file}:${i + 1}: ${n} characters`);
        bad++;
      }
    });
  }
}
if (bad > 0) {
  console.log(`${bad} line(s) over ${MAX} characters: wrap them (break argument lists, split strings).`);
  process.exit(1);
}
