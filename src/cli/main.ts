/**
 * `rowtrail` command line. Every command takes --config FILE (default ./rowtrail.yaml), prints human text
 * by default and JSON with --json, and exits non-zero with a one-line reason on error.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.js';
import { usageLine } from './shared.js';
import { oneLine, RowtrailError } from '../errors.js';
import { redactUrls } from '../log/index.js';

/**
 * The version in package.json. Read at run time from the package root, found by walking up from this module:
 * src/cli/main.ts runs from source two levels below it, dist/src/cli/main.js three.
 */
export function packageVersion(): string {
  for (let url = new URL('../', import.meta.url); ; url = new URL('../', url)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'rowtrail' && pkg.version) return pkg.version;
    } catch {
      /* not here: one level up */
    }
    if (url.pathname === '/') return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('rowtrail')
    .description('Flight recorder for PostgreSQL and MySQL/MariaDB: who changed which row, what it was, and how to put it back.')
    .version(packageVersion())
    // Why: every usage error is one line on stderr (`rowtrail: --limit 'abc': expected …`) and exit 2, like
    // the errors the commands raise themselves. Subcommands inherit this (set before they are added).
    .configureOutput({ outputError: (text, write) => write(`${usageLine(text)} (see --help)\n`) })
    .exitOverride();
  registerCommands(program);
  return program;
}

/** Exit codes: 1 runtime failure, 2 bad usage or config. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof RowtrailError) return e.code === 'USAGE' || e.code === 'CONFIG' ? 2 : 1;
  return 1;
}

/**
 * A reader that closes our stdout early (`rowtrail changes --json | head`) ends the command quietly with
 * exit 0, as Unix tools do; without a listener the stream's EPIPE error would crash with a stack trace.
 * Node ignores SIGPIPE, so the closed pipe shows up only as this error.
 */
export function endQuietlyOnClosedOutput(): void {
  const closed = (e: NodeJS.ErrnoException) => {
    if (e?.code === 'EPIPE' || e?.code === 'ERR_STREAM_DESTROYED') process.exit(0);
    throw e;
  };
  process.stdout.on('error', closed);
  // Nothing can be said on a closed stderr either: ignore its EPIPE rather than crash.
  process.stderr.on('error', (e: NodeJS.ErrnoException) => {
    if (e?.code !== 'EPIPE' && e?.code !== 'ERR_STREAM_DESTROYED') throw e;
  });
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message (help, version, or the usage error)
      return e.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`rowtrail: ${redactUrls(oneLine(e))}\n`);
    if (process.env.ROWTRAIL_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return exitCodeFor(e);
  }
}

