/**
 * Presentation: how rowtrail's records read as text. Pure functions, no I/O; the CLI commands and the demo
 * both print through them, so what the demo shows is what the commands print.
 */
export { table, clip, timeText, secondsText } from './text.js';
export {
  actorText,
  keyText,
  valueText,
  changeHeading,
  changeLines,
  txHeading,
  historyHeading,
  changesText,
  changesSummary,
  type ChangeTextOptions,
} from './change.js';
export { actorName, actorsTable } from './actors.js';
export { progress, progressLine, type Progress } from './progress.js';
