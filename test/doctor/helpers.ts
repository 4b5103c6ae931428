/** Doctor tests: write a config, run `rowtrail doctor --json` as a user would, and read its lines. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../harness/cli.js';

export interface DoctorLine {
  source: string;
  level: 'ok' | 'warn' | 'fail';
  id: string;
  message: string;
  fix?: string;
}
export interface DoctorSummary {
  settingsFile: string;
  settings: string[];
  restartFor: string[];
  grants: string[];
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `rowtrail-${prefix}-`));
}

/** A config with one source; `extra` lines go under the source. */
export function writeConfig(dir: string, kind: 'postgres' | 'mysql', url: string, extra = ''): string {
  const f = join(dir, 'rowtrail.yaml');
  writeFileSync(f, `sources:\n  - name: app\n    kind: ${kind}\n    url: ${url}\n${extra}store:\n  path: ${join(dir, 'data')}\n`);
  return f;
}

export async function doctorJson(
  config: string,
): Promise<{ r: CliResult; checks: DoctorLine[]; summary: DoctorSummary; byId: Record<string, DoctorLine[]> }> {
  const r = await runCli(['doctor', '--config', config, '--json']);
  const lines = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const checks = lines.filter((l) => !l.summary) as DoctorLine[];
  const summary = lines.find((l) => l.summary)?.summary as DoctorSummary;
  const byId: Record<string, DoctorLine[]> = {};
  for (const c of checks) (byId[c.id] ??= []).push(c);
  return { r, checks, summary, byId };
}

/** Lines that are not ok, as text (for failure messages). */
export function notOk(checks: DoctorLine[]): string[] {
  return checks.filter((c) => c.level !== 'ok').map((c) => `${c.level} ${c.id}: ${c.message}`);
}
