/**
 * What every command shares: the common options, typed option parsers, config and store opening, output.
 *
 * Option values are checked when commander parses them (`argParser`), never later by hand: a wrong type,
 * an unknown value or an empty string stops the command with one line naming the option and what it takes,
 * and exit code 2 (see `main.ts`). Commands pass these parsers to `.option(…)` instead of reading strings.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { Store, openMasking, parseTimeArg, type ChangeFilter } from '../store/index.js';
import type { Masker } from '../masking/index.js';
import { RowtrailError } from '../errors.js';

export const DEFAULT_CONFIG = './rowtrail.yaml';

/**
 * Adds the options every command takes: `--config FILE` (default ./rowtrail.yaml) and `--json`.
 * `jsonHelp` says what --json does for this command (default: one JSON object per line).
 */
export function common(cmd: Command, jsonHelp = 'print JSON, one object per line'): Command {
  return configOption(cmd).option('--json', jsonHelp);
}

/** Adds `--config FILE` alone, for commands that print no records (nothing for --json to change). */
export function configOption(cmd: Command, help = 'config file'): Command {
  return cmd.option('-c, --config <file>', help, nonEmpty, DEFAULT_CONFIG);
}

/** Adds an "Examples:" block to the command's --help. */
export function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}

export interface CommonOpts {
  config: string;
  json?: boolean;
}

// ---- option parsers (commander argParser functions) --------------------------------------------------------

/** Any text but an empty (or blank) one. */
export function nonEmpty(v: string): string {
  if (v.trim() === '') throw new InvalidArgumentError('must not be empty');
  return v;
}

/** A whole number from 1 up (`--limit 20`); rejects `abc`, `0`, `-1`, `1.5`, `10x`. */
export function positiveInt(v: string): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
    throw new InvalidArgumentError('expected a whole number from 1 up');
  }
  return Number(v);
}

/** A TCP port, 1 to 65535. */
export function port(v: string): number {
  const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new InvalidArgumentError('expected a port number from 1 to 65535');
  return n;
}

/** One of a fixed set of values (case-sensitive, as the help lists them). */
export function oneOf<T extends string>(values: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return v as T;
  };
}

/** A point in time: a duration ago (`90s`, `10m`, `1h`, `2d`, `1w`) or an ISO time (`2026-11-26T10:00:00Z`). */
export function when(v: string): Date {
  try {
    return parseTimeArg(nonEmpty(v));
  } catch (e) {
    throw new InvalidArgumentError(e instanceof InvalidArgumentError ? e.message : 'expected a duration (10m, 1h, 2d) or a time (2026-11-26T10:00:00Z)');
  }
}

/** A repeatable non-empty value (`--tx a --tx b`): collects into an array. */
export function repeatable(v: string, previous: string[] = []): string[] {
  return [...previous, nonEmpty(v)];
}

/** A repeatable `col=value` pair (`--key id=42`); the value may be empty, the column may not. */
export function keyValue(v: string, previous: [string, string][] = []): [string, string][] {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected col=value');
  return [...previous, [v.slice(0, eq), v.slice(eq + 1)]];
}

/**
 * Commander's own error text (`error: option '-n, --limit <n>' argument 'abc' is invalid. expected …`) as the
 * one line rowtrail prints: `rowtrail: --limit 'abc': expected …`. Other commander errors (unknown option,
 * missing argument, unknown command with its suggestion) are joined onto one line.
 */
export function usageLine(commanderText: string): string {
  const text = commanderText.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  const m = /^option '(?:-\w, )?(--[\w-]+)[^']*' argument '([\s\S]*)' is invalid\. ([\s\S]*)$/.exec(text);
  if (m) return `rowtrail: ${m[1]} '${m[2]}': ${m[3]}`;
  const missing = /^option '(?:-\w, )?(--[\w-]+)[^']*' argument missing$/.exec(text);
  if (missing) return `rowtrail: ${missing[1]} needs a value`;
  const a = /^command-argument value '([\s\S]*)' is invalid for argument '([\w.-]+)'\. ([\s\S]*)$/.exec(text);
  if (a) return `rowtrail: <${a[2]}> '${a[1]}': ${a[3]}`;
  return `rowtrail: ${text}`;
}

// ---- config, store, output ---------------------------------------------------------------------------------

export function configFrom(opts: CommonOpts): Config & { file: string } {
  return loadConfig(opts.config);
}

/** Opens the store read-only for query commands. */
/**
 * Opens the store to read. With masking on, a store that still holds changes in the clear (written before
 * masking, or with it off) is refused with the command that masks them: its values must not be shown.
 */
export function openStoreForRead(cfg: Config): Store {
  const store = Store.open(cfg.store.path, { readonly: true });
  if (!cfg.masking.enabled) return store;
  let clear: number | null;
  try {
    clear = store.clearCount().transactions;
  } catch {
    clear = null; // a store from before masking that this version has not opened to write yet
  }
  if (clear !== 0) {
    store.close();
    const n = clear === null ? 'changes' : `${clear} transaction(s)`;
    throw new RowtrailError(
      'STORE',
      `the store at ${cfg.store.path} holds ${n} stored in the clear (before masking was on): run 'rowtrail masking migrate' ` +
        `(or start 'rowtrail watch', which masks them first); or set masking.enabled: false`,
    );
  }
  return store;
}

/** The masker of a store, for reading: undo, `--reveal`, blame by a masked key (null with masking off). */
export function readMasker(store: Store, cfg: Config): Masker | null {
  return openMasking(store, cfg.masking, { write: false })?.masker ?? null;
}

/** Writes one line to stdout. */
export function out(line: string): void {
  process.stdout.write(line + '\n');
}

// ---- selecting changes (changes, undo) ---------------------------------------------------------------------

/** The ops a change can have (`--op`). */
export const OPS = ['insert', 'update', 'delete', 'truncate', 'ddl'] as const;

/** The selection options of `changes` and `undo`, as the parsers above leave them. */
export interface SelectionOpts {
  table?: string;
  tx?: string[];
  actor?: string;
  agentRun?: string;
  since?: Date;
  until?: Date;
  source?: string;
  op?: (typeof OPS)[number];
  limit?: number;
}

/** The store filter a command's selection options name. */
export function filterFrom(opts: SelectionOpts): ChangeFilter {
  const f: ChangeFilter = {};
  if (opts.table) f.table = opts.table;
  if (opts.tx?.length) f.txIds = opts.tx;
  if (opts.actor) f.actor = opts.actor;
  if (opts.agentRun) f.agentRun = opts.agentRun;
  if (opts.since) f.since = opts.since;
  if (opts.until) f.until = opts.until;
  if (opts.source) f.source = opts.source;
  if (opts.op) f.op = opts.op;
  if (opts.limit) f.limit = opts.limit;
  return f;
}
