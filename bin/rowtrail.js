#!/usr/bin/env node
// Runs the compiled CLI (built by `npm install` through the `prepare` script, or `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'run.js');
if (!existsSync(entry)) {
  process.stderr.write('rowtrail: not built yet; run `npm install` (or `npm run build`) in ' + root + '\n');
  process.exit(2);
}
await import(pathToFileURL(entry).href);
