export { PostgresSource, MESSAGE_PREFIX, DDL_PREFIX, ddlChange } from './postgres-stream.js';
export { PgoutputDecoder } from './postgres-decoder.js';
export type { PgMessage, RelationMessage, TupleValues } from './postgres-decoder.js';
export { postgresDoctor } from './postgres-doctor.js';
export { postgresSetup } from './postgres-setup.js';
export type { SetupOptions, SetupResult } from './postgres-setup.js';
export { slotName, publicationName, classifyPgError } from './postgres-errors.js';
export { parseLsn, formatLsn, compareLsn, pgTimeToIso } from './postgres-position.js';
