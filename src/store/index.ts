export { Store, SourceWriter, parseChangeId, isoToMicros } from './sqlite-store.js';
export type { StoreOptions, CommitInfo, TxHandle, ChangeFilter, ActorSummary } from './sqlite-store.js';
export { canonicalKey, parseDuration, parseTimeArg } from './keys.js';
