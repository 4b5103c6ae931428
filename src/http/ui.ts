/**
 * The web UI's assets: plain HTML, CSS and JavaScript modules in the package's `ui/` folder (shipped as they
 * are: nothing to build), read once at start and served from memory. Only the files listed here are served,
 * so no request path ever reaches the file system.
 */
import { readFileSync } from 'node:fs';

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'views.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

export interface Asset {
  type: string;
  body: Buffer;
}

/**
 * The package's `ui/` folder: found by walking up from this module to the package root (src/http/ui.ts runs
 * from source two levels below it, dist/src/http/ui.js three).
 */
function uiDir(): URL {
  for (let url = new URL('../', import.meta.url); ; url = new URL('../', url)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as { name?: string };
      if (pkg.name === 'rowtrail') return new URL('ui/', url);
    } catch {
      /* not here: one level up */
    }
    if (url.pathname === '/') throw new Error('the rowtrail package root (with ui/) was not found');
  }
}

/** The UI's assets by file name. */
export function loadAssets(): Map<string, Asset> {
  const dir = uiDir();
  const out = new Map<string, Asset>();
  for (const [name, type] of Object.entries(TYPES)) out.set(name, { type, body: readFileSync(new URL(name, dir)) });
  return out;
}

/** Headers for the UI's pages: no inline script, no framing, nothing loaded from elsewhere. */
export const UI_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};
