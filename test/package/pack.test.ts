/**
 * The package ships: `npm pack` of a clean copy of the repository (as a fresh clone would build it), installed
 * from the tarball into a new project, runs `npx rowtrail --version` and `npx rowtrail demo --no-ui`.
 *
 * The project sits in a `mktemp -d` directory (mode 0700): run as root, as in a container, the PostgreSQL
 * binaries under its node_modules are out of the postgres OS user's reach — the demo must still work.
 * Slow (npm builds better-sqlite3 from source here: minutes): dependencies come from npm's cache where it
 * has them (`--prefer-offline`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
/** What a clean checkout holds that packing needs; dist/ is built by `prepare` during `npm pack`. */
const CHECKOUT = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin', 'src', 'detectors', 'native', 'dashboards', 'ui'];

let work: string;
let tarball: string;
let files: string[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'rowtrail-pack-'));
  const clean = join(work, 'checkout');
  for (const f of CHECKOUT) cpSync(join(ROOT, f), join(clean, f), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(clean, 'node_modules')); // typescript for `prepare`
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: clean, maxBuffer: 64 << 20 });
  const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  files = info!.files.map((f) => f.path);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('holds the built CLI, its licence and docs, and nothing of the source tree', () => {
    for (const f of ['package.json', 'LICENSE', 'README.md', 'CHANGELOG.md', 'bin/rowtrail.js', 'dist/src/cli/run.js', 'dist/src/store/index.js', 'dist/detectors/index.js', 'native/postgres/rowtrail_native.c', 'dashboards/10-rowtrail-overview.ndjson', 'ui/index.html', 'ui/app.js', 'ui/views.js', 'ui/style.css']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^(src|test|bench|node_modules|docs)\//.test(f) || f.endsWith('.ts'))).toEqual([]);
    // every compiled module comes from a source file of today (no leftovers of an older build)
    const stale = files.filter((f) => f.startsWith('dist/src/') && f.endsWith('.js')).filter((f) => {
      try {
        statSync(join(ROOT, f.slice('dist/'.length).replace(/\.js$/, '.ts')));
        return false;
      } catch {
        return true;
      }
    });
    expect(stale).toEqual([]);
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/);
  });

  it('installs into a new project in a 0700 directory; --version and the demo run from it', async () => {
    const project = mkdtempSync(join(tmpdir(), 'rowtrail-install-'));
    try {
      expect(statSync(project).mode & 0o777).toBe(0o700);
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'try-rowtrail', version: '1.0.0', private: true }));
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, maxBuffer: 64 << 20 });
      const version = await run('npx', ['--no', '--', 'rowtrail', '--version'], { cwd: project });
      expect(version.stdout).toBe(`${pkg.version}\n`);
      const demo = await run('npx', ['--no', '--', 'rowtrail', 'demo', '--no-ui'], { cwd: project, timeout: 180_000 }).catch((e) => e);
      expect(demo.stderr).toBe('');
      expect(demo.stdout).toMatch(/^RESULT: restored/m);
      expect(demo.code ?? 0).toBe(0);
      expect(readdirSync(project).sort()).toEqual(['node_modules', 'package-lock.json', 'package.json']);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }, 1_500_000);
});
