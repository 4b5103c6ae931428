/**
 * Logging: pino, pretty in a terminal and JSON otherwise. Secrets never reach a log: passwords inside
 * URLs are cut out of every string field, and known secret keys are redacted.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)([^@\s]*)(@)/gi;

/** Removes the password part of any URL inside a string: `postgres://u:secret@h` → `postgres://u:***@h`. */
export function redactUrls(s: string): string {
  return s.replace(URL_PASSWORD, '$1***$3');
}

const SECRET_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'routingKey',
  '*.routingKey',
  'webhookUrl',
  '*.webhookUrl',
  'apiKey',
  '*.apiKey',
  'signingKey',
  '*.signingKey',
  'headers.authorization',
];

export interface LogOptions {
  level?: string;
  /** Force pretty (true) or JSON (false); default: pretty when stderr is a terminal. */
  pretty?: boolean;
  /** Destination file descriptor; default 2 (stderr). */
  fd?: number;
  /** A stream to write JSON lines to instead (tests). */
  stream?: NodeJS.WritableStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.ROWTRAIL_LOG_LEVEL ?? 'info';
  const fd = opts.fd ?? 2;
  const pretty = opts.pretty ?? (process.stderr.isTTY && !process.env.CI);
  const base: pino.LoggerOptions = {
    level,
    base: undefined,
    redact: { paths: SECRET_PATHS, censor: '***' },
    formatters: {
      log(obj) {
        for (const k of Object.keys(obj)) {
          const v = (obj as Record<string, unknown>)[k];
          if (typeof v === 'string') (obj as Record<string, unknown>)[k] = redactUrls(v);
        }
        return obj;
      },
    },
    hooks: {
      logMethod(args, method) {
        const a = args.map((x) => (typeof x === 'string' ? redactUrls(x) : x)) as Parameters<typeof method>;
        return method.apply(this, a);
      },
    },
    serializers: {
      err: (e: any) => ({ type: e?.name, code: e?.code, message: redactUrls(String(e?.message ?? e)) }),
    },
  };
  if (pretty) {
    return pino(
      base,
      pino.transport({ target: 'pino-pretty', options: { destination: fd, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }),
    );
  }
  if (opts.stream) return pino(base, opts.stream);
  return pino(base, pino.destination({ fd, sync: true }));
}

/** A logger that drops everything (library use, tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
