import type { Command } from 'commander';
import { registerChanges } from './changes.js';
import { registerInit } from './init.js';
import { registerUndo } from './undo.js';
import { registerBlame } from './blame.js';
import { registerWatch } from './watch.js';
import { registerSetup } from './setup.js';
import { registerDoctor } from './doctor.js';
import { registerActors } from './actors.js';
import { registerDemo } from './demo.js';
import { registerAlerts } from './alerts.js';
import { registerBaseline } from './baseline.js';
import { registerBacktest } from './backtest.js';
import { registerMasking } from './masking.js';
import { registerGuards } from './guards.js';

/** Every subcommand; add one line per command file. */
export function registerCommands(program: Command): void {
  registerInit(program);
  registerSetup(program);
  registerDoctor(program);
  registerWatch(program);
  registerChanges(program);
  registerActors(program);
  registerUndo(program);
  registerBlame(program);
  registerDemo(program);
  registerAlerts(program);
  registerBaseline(program);
  registerBacktest(program);
  registerMasking(program);
  registerGuards(program);
}
