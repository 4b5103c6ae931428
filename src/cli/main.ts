/**
 * `rowtrail` command line. Every command takes --config FILE (default ./rowtrail.yaml), prints human text
 * by default and JSON with --json, and exits non-zero with a one-line reason on error.
 */
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.js';
import { oneLine, RowtrailError } from '../errors.js';
import { redactUrls } from '../log/index.js';

export function buildProgram(): Command {
  const program = new Command('rowtrail')
    .description('Flight recorder for PostgreSQL and MySQL/MariaDB: who changed which row, what it was, and how to put it back.')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
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

