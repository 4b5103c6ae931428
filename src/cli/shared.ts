/** Helpers every command uses: config loading, store opening, output. */
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { Store } from '../store/index.js';

export const DEFAULT_CONFIG = './rowtrail.yaml';

/** Adds the options every command takes. */
export function common(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'config file', DEFAULT_CONFIG).option('--json', 'print JSON (one object per line)');
}

export interface CommonOpts {
  config: string;
  json?: boolean;
}

export function configFrom(opts: CommonOpts): Config & { file: string } {
  return loadConfig(opts.config);
}

/** Opens the store read-only for query commands. */
export function openStoreForRead(cfg: Config): Store {
  return Store.open(cfg.store.path, { readonly: true });
}

/** Writes one line to stdout. */
export function out(line: string): void {
  process.stdout.write(line + '\n');
}

/** Renders rows as an aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(headers), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n');
}

/** Shortens a string for a table cell. */
export function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}
