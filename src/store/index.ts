export { Store } from './store.js';
export type { StoreOptions } from './store.js';
export { SourceWriter, isoToMicros } from './source-writer.js';
export type { CommitInfo, TxHandle } from './source-writer.js';
export { parseChangeId } from './store-queries.js';
export type { ChangeFilter, ActorSummary, ChangeCursor, ChangePage } from './store-queries.js';
export type { SeqEvent, AlertFilter } from './store-alerts.js';
export { canonicalKey, parseDuration, parseTimeArg } from './keys.js';
