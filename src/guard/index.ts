/**
 * Guards (PostgreSQL): stop a runaway transaction while it is still in flight (docs/decisions.md, "Guards").
 * Pure core: guard-evaluator.ts (lines, actor match, whether to act) and guard-alert.ts (the alert); edges:
 * guard-action.ts (the privileged connection) and guard-runner.ts (fed by the source, stores the alerts).
 */
export { GuardEvaluator, matchesActor, decide, seenRows } from './guard-evaluator.js';
export type { Firing, GuardTxState, Decision, SeenRows, GuardOp } from './guard-evaluator.js';
export { guardAlert, guardAlertId, actorName, type ActionResult, type GuardEvent, type GuardOutcome } from './guard-alert.js';
export { BackendSignaller, ACTION_TIMEOUT_MS } from './guard-action.js';
export { GuardRunner, GUARD_STATE, createGuards, type GuardRunnerOptions, type GuardStore } from './guard-runner.js';
export { guardDoctor } from './guard-doctor.js';
