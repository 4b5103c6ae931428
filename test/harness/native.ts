/**
 * Builds native/postgres (precise mode's C statement trigger) for the test servers: against the server's own
 * pg_config, into a temp dir the server finds through `dynamic_library_path` (nothing is written into the
 * PostgreSQL installation). Cached by source and server version. Needs gcc, make and the server headers
 * (Debian: postgresql-server-dev-N, which .ci/run installs); without them native tests are skipped with the
 * reason.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native', 'postgres');
const FILES = ['rowtrail_native.c', 'Makefile'];

export type NativeBuild = { dir: string; why?: undefined } | { dir: null; why: string };

export function buildNative(bin: string): NativeBuild {
  const pgConfig = join(bin, 'pg_config');
  if (!existsSync(pgConfig)) return { dir: null, why: `no ${pgConfig}` };
  let version: string;
  let headers: string;
  try {
    version = execFileSync(pgConfig, ['--version'], { encoding: 'utf8' }).trim();
    headers = execFileSync(pgConfig, ['--includedir-server'], { encoding: 'utf8' }).trim();
  } catch (e) {
    return { dir: null, why: `pg_config failed: ${(e as Error).message.split('\n')[0]}` };
  }
  if (!existsSync(join(headers, 'postgres.h'))) return { dir: null, why: `no server headers in ${headers} (Debian: apt-get install postgresql-server-dev-${/(\d+)/.exec(version)?.[1] ?? 'N'})` };
  const hash = createHash('sha256');
  hash.update(version);
  for (const f of FILES) hash.update(readFileSync(join(SOURCE_DIR, f)));
  const dir = join(tmpdir(), `rowtrail-native-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(join(dir, 'rowtrail_native.so'))) return { dir };
  const work = `${dir}.${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const f of FILES) copyFileSync(join(SOURCE_DIR, f), join(work, f));
  try {
    execFileSync('make', ['-s', '-C', work, `PG_CONFIG=${pgConfig}`, 'rowtrail_native.so'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    rmSync(work, { recursive: true, force: true });
    const line = (err.stderr?.toString() ?? err.message).split('\n').find((l) => /error/i.test(l)) ?? err.message.split('\n')[0];
    return { dir: null, why: `build failed: ${line}` };
  }
  // readable by the server's OS user when the tests run as root
  chmodSync(work, 0o755);
  chmodSync(join(work, 'rowtrail_native.so'), 0o755);
  try {
    renameSync(work, dir);
  } catch {
    rmSync(work, { recursive: true, force: true }); // a parallel build won the race
  }
  return { dir };
}
