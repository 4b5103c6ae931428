import type { Command } from 'commander';
import { registerChanges } from './changes.js';
import { registerInit } from './init.js';

/** Every subcommand; add one line per command file. */
export function registerCommands(program: Command): void {
  registerInit(program);
  registerChanges(program);
}
