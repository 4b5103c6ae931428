/** Runs the rowtrail CLI from source (through tsx) as a separate process, like a user would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** JSON logs, and an OS-chosen HTTP port so daemons of parallel test files never collide on 7077. */
const TEST_ENV = { CI: '1', ROWTRAIL_HTTP_PORT: '0' };

/** `built`: the compiled CLI (bin/rowtrail.js, needs `npm run build`), which starts in about half the time. */
function args(cliArgs: string[], built = false): string[] {
  return built ? [join(ROOT, 'bin', 'rowtrail.js'), ...cliArgs] : ['--import', 'tsx', join(ROOT, 'src', 'cli', 'run.ts'), ...cliArgs];
}

/** Runs a command to completion. */
export function runCli(cliArgs: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; built?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args(cliArgs, opts.built), {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...TEST_ENV, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a long-running command (e.g. watch); the caller kills it. */
export function spawnCli(cliArgs: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; built?: boolean } = {}): ChildProcess & { output(): string } {
  const child = spawn(process.execPath, args(cliArgs, opts.built), {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...TEST_ENV, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { output(): string };
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  child.output = () => out;
  return child;
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}
