/** detectors/: the detection core (pure). See README.md for each detector and its defaults. */
export { DetectorEngine, undoCommand, type AlertChange, type EngineState } from './engine.js';
export { DETECTORS, detectorOptions, type CommonOptions } from './registry.js';
export { summarize, actorName, describeActor, TxBuilder } from './summary.js';
export { backtest, backtestCsv, parseSeries, type BacktestRow } from './backtest.js';
export { SeasonalBaseline } from './baseline.js';
export type { BaselineRow, HealthSample, TxSummary, TableActivity, Finding, Resolution, DetectorContext, DetectorSpec, DetectorUnit } from './types.js';
