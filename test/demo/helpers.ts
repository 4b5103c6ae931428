/** What the demo tests share: the processes and files a demo run may leave behind, and waiting for output. */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

/** Processes whose command line mentions a dir (postgres runs as `postgres -D <dir>/…/data`). */
export function processesUnder(dir: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.includes(dir) && !l.includes('ps -eo'));
}

/** What is in a TMPDIR the demo ran under; tsx's compile cache (the CLI runs from source) is not the demo's. */
export function leftIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => !f.startsWith('tsx-'));
}

export async function until(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
