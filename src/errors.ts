/**
 * Errors carry a code (what kind of failure) and a cause; the CLI prints `rowtrail: <message>` and exits
 * non-zero. `fatal` errors stop the daemon; others are retried by the supervisor.
 */
export type ErrorCode =
  | 'CONFIG'
  | 'CONNECT'
  | 'AUTH'
  | 'SERVER_SETTING'
  | 'SLOT_MISSING'
  | 'SLOT_INVALID'
  | 'SLOT_IN_USE'
  | 'PUBLICATION_MISSING'
  | 'PERMISSION'
  | 'PROTOCOL'
  | 'DECODE'
  | 'POSITION_LOST'
  | 'STORE'
  | 'USAGE'
  | 'NOT_FOUND'
  | 'UNDO'
  /** Masking keys: missing, malformed, loose permissions, or not the key the sealed values were made with. */
  | 'KEY'
  /** Elasticsearch or Kibana refused or could not be reached (`setup elastic`; the sink retries instead). */
  | 'ELASTICSEARCH'
  | 'INTERNAL';

const FATAL: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CONFIG',
  'AUTH',
  'SERVER_SETTING',
  'SLOT_MISSING',
  'SLOT_INVALID',
  'SLOT_IN_USE',
  'PUBLICATION_MISSING',
  'PERMISSION',
  'DECODE',
  'POSITION_LOST',
  'USAGE',
  'STORE',
  'KEY',
]);

export class RowtrailError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'RowtrailError';
    this.code = code;
  }
  /** Fatal errors are not retried: the daemon exits with the message. */
  get fatal(): boolean {
    return FATAL.has(this.code);
  }
}

export function isFatal(e: unknown): boolean {
  return e instanceof RowtrailError && e.fatal;
}

/** The one-line message for a user: never a stack. */
export function oneLine(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] || e.name;
  return String(e);
}
