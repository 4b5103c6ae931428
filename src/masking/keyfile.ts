/**
 * The I/O edge of masking: where the master key comes from.
 *
 * Order: `ROWTRAIL_MASTER_KEY` (64 hex characters) wins; else `masking.keyFile`; else `<store dir>/master.key`.
 * A configured key file that is missing is an error (a new key there would make every sealed value
 * unopenable); the default file is generated (0600, exclusive create) only when the store holds no keyring
 * yet, and the caller shows the warning it returns. A key file that group or others may read or write is
 * refused: it is the one secret that opens every sealed value.
 */
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RowtrailError } from '../errors.js';
import { fingerprintOf, parseMasterKey } from './keys.js';

export const MASTER_KEY_ENV = 'ROWTRAIL_MASTER_KEY';
/** Name of the generated key file in the store directory. */
export const DEFAULT_KEY_FILE = 'master.key';

export interface MasterKeySource {
  key: Buffer;
  /** Where it came from: the env variable, a key file, or a file generated just now. */
  from: 'env' | 'file' | 'generated';
  /** The key file read or written (not for `env`). */
  path?: string;
  /** Fingerprint (16 hex), safe to log. */
  fingerprint: string;
  /** For `generated`: the text to show the user (once, at warning level). */
  warning?: string;
}

export interface LoadKeyOptions {
  env?: NodeJS.ProcessEnv;
  /** `masking.keyFile` from the config, resolved by the caller. */
  keyFile?: string;
  /** The store directory (for the default key file). */
  storeDir: string;
  /** May a key be generated when none exists? Only for a store with no keyring yet. Default false. */
  allowGenerate?: boolean;
}

/** Reads a key file, refusing loose permissions and malformed content with one line each. */
export function readKeyFile(path: string): Buffer {
  const st = statSync(path);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new RowtrailError('KEY', `key file ${path} is open to group or others (mode ${mode}): run 'chmod 600 ${path}'`);
  }
  return parseMasterKey(readFileSync(path, 'utf8'), `key file ${path}`);
}

function missing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Finds (or, where allowed, generates) the master key. Throws KEY errors with the fix in the message. */
export function loadMasterKey(o: LoadKeyOptions): MasterKeySource {
  const env = o.env ?? process.env;
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const key = parseMasterKey(fromEnv, MASTER_KEY_ENV);
    return { key, from: 'env', fingerprint: fingerprintOf(key) };
  }
  if (o.keyFile) {
    try {
      const key = readKeyFile(o.keyFile);
      return { key, from: 'file', path: o.keyFile, fingerprint: fingerprintOf(key) };
    } catch (e) {
      if (missing(e)) {
        throw new RowtrailError('KEY', `masking.keyFile ${o.keyFile} does not exist: restore it, or point masking.keyFile at the key`, e);
      }
      throw e;
    }
  }
  const path = join(o.storeDir, DEFAULT_KEY_FILE);
  try {
    const key = readKeyFile(path);
    return { key, from: 'file', path, fingerprint: fingerprintOf(key) };
  } catch (e) {
    if (!missing(e)) throw e;
  }
  if (!o.allowGenerate) {
    const fix = `set ${MASTER_KEY_ENV} or masking.keyFile to the key it was made with`;
    throw new RowtrailError('KEY', `no master key: the store holds sealed values; ${fix}`);
  }
  return generateKeyFile(path);
}

/** Writes a new random key to `path` (mode 0600, refusing to overwrite) and returns it with the warning text. */
export function generateKeyFile(path: string): MasterKeySource {
  const key = randomBytes(32);
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    throw new RowtrailError('KEY', `cannot create the key file ${path}: ${(e as Error).message.split('\n')[0]}`, e);
  }
  try {
    writeSync(fd, key.toString('hex') + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const warning =
    `generated a master key in ${path} (mode 0600): whoever holds this file can open the sealed raw values; ` +
    `keep a copy apart from the store (without it, undo of masked columns is impossible) or set ${MASTER_KEY_ENV}`;
  return { key, from: 'generated', path, fingerprint: fingerprintOf(key), warning };
}
