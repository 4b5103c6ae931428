/**
 * Key hierarchy (pure; the master key comes from keyfile.ts):
 *
 *   master key (32 bytes: ROWTRAIL_MASTER_KEY, masking.keyFile or the generated <store>/master.key)
 *     ├─ HKDF-SHA256(info "rowtrail/pseudonym/v1") → pseudonym key: HMAC-SHA256 for the `hash` policy
 *     ├─ HKDF-SHA256(info "rowtrail/wrap/v1")      → wrapping key: AES-256-GCM over each data key
 *     └─ HMAC-SHA256("rowtrail/fingerprint/v1")    → fingerprint (16 hex), kept with the keyring
 *   data keys (32 random bytes each, id 1, 2, …; the store keeps them wrapped in its keyring)
 *     └─ AES-256-GCM over the sealed raw images (seal.ts); the newest is `current`
 *
 * Why pseudonyms hang off the master key and not a data key: rotating the data key (`rotateKey`) must not
 * change pseudonyms, or one user's rows would stop joining across the rotation; and two stores under one
 * master key pseudonymise alike, so their outputs join. Changing the master key does change pseudonyms from
 * then on (old rows keep theirs) — `rewrapKeyring` says so to its caller.
 * The fingerprint lets a wrong master key be refused at start with one clear line, before anything is written.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { RowtrailError } from '../errors.js';
import { openSealed, seal, sealedKeyId } from './seal.js';

/** What the store persists (JSON) so sealed values can be opened later. */
export interface KeyringData {
  v: 1;
  /** Fingerprint of the master key the data keys are wrapped with. */
  fingerprint: string;
  /** Id of the data key new blobs are sealed with. */
  current: number;
  /** Every data key ever used (a key is dropped only once no blob uses it: see `resealBlob`). */
  keys: { id: number; wrapped: string; created: string }[];
}

const SALT = Buffer.from('rowtrail', 'utf8');

function derive(master: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, SALT, Buffer.from(info, 'utf8'), 32));
}

/** The fingerprint of a master key: 16 hex characters, safe to print and store. */
export function fingerprintOf(master: Buffer): string {
  return createHmac('sha256', master).update('rowtrail/fingerprint/v1').digest('hex').slice(0, 16);
}

/** Parses a master key written as 64 hex characters (surrounding whitespace ignored); a one-line reason otherwise. */
export function parseMasterKey(text: string, where: string): Buffer {
  const t = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(t)) {
    const what = /^[0-9a-fA-F]*$/.test(t) ? `${t.length} hex characters` : `${t.length} characters, not all hex`;
    const fix = "generate one with 'openssl rand -hex 32'";
    throw new RowtrailError('KEY', `${where} must hold a master key of 64 hex characters (32 bytes), found ${what}: ${fix}`);
  }
  return Buffer.from(t, 'hex');
}

function wrap(wrapKey: Buffer, id: number, dataKey: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', wrapKey, iv);
  c.setAAD(Buffer.from(`rowtrail/datakey/v1/${id}`));
  const ct = Buffer.concat([c.update(dataKey), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64');
}

function unwrap(wrapKey: Buffer, id: number, wrapped: string): Buffer {
  const b = Buffer.from(wrapped, 'base64');
  const d = createDecipheriv('aes-256-gcm', wrapKey, b.subarray(0, 12));
  d.setAAD(Buffer.from(`rowtrail/datakey/v1/${id}`));
  d.setAuthTag(b.subarray(b.length - 16));
  try {
    return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]);
  } catch (e) {
    const msg = `data key ${id} in the store's keyring does not unwrap (authentication failed): the keyring was altered`;
    throw new RowtrailError('KEY', msg, e);
  }
}

/** Opened keys: what masking and undo use. Holds key material; never log or serialise it. */
export class Keys {
  /** HMAC key of the `hash` policy. */
  readonly pseudonymKey: Buffer;
  readonly fingerprint: string;
  private readonly dataKeys: Map<number, Buffer>;
  /** Id of the data key new blobs are sealed with. */
  readonly currentId: number;

  private constructor(master: Buffer, dataKeys: Map<number, Buffer>, currentId: number) {
    this.pseudonymKey = derive(master, 'rowtrail/pseudonym/v1');
    this.fingerprint = fingerprintOf(master);
    this.dataKeys = dataKeys;
    this.currentId = currentId;
  }

  /** The data key new blobs are sealed with. */
  get current(): Buffer {
    return this.dataKeys.get(this.currentId)!;
  }

  /** The data key of an id, or undefined. */
  dataKey(id: number): Buffer | undefined {
    return this.dataKeys.get(id);
  }

  /**
   * Opens a store's keyring with the master key; with no keyring (a new store), creates one with data key 1.
   * `keyring` is what to persist (the same object when nothing changed). A master key that is not the one the
   * keyring was made with is refused (KEY) naming both fingerprints; nothing is changed.
   */
  static open(master: Buffer, keyring: KeyringData | null, now = new Date()): { keys: Keys; keyring: KeyringData } {
    if (!keyring) {
      const k = randomBytes(32);
      const data: KeyringData = {
        v: 1,
        fingerprint: fingerprintOf(master),
        current: 1,
        keys: [{ id: 1, wrapped: wrap(derive(master, 'rowtrail/wrap/v1'), 1, k), created: now.toISOString() }],
      };
      return { keys: new Keys(master, new Map([[1, k]]), 1), keyring: data };
    }
    if (keyring.v !== 1) {
      throw new RowtrailError('KEY', `the store's keyring has version ${keyring.v}; this rowtrail reads version 1: upgrade rowtrail`);
    }
    const fp = fingerprintOf(master);
    if (fp !== keyring.fingerprint) {
      throw new RowtrailError(
        'KEY',
        `the master key (fingerprint ${fp}) is not the one this store's sealed values were made with ` +
          `(fingerprint ${keyring.fingerprint}): set ROWTRAIL_MASTER_KEY or masking.keyFile to that key`,
      );
    }
    const wk = derive(master, 'rowtrail/wrap/v1');
    const map = new Map<number, Buffer>();
    for (const e of keyring.keys) map.set(e.id, unwrap(wk, e.id, e.wrapped));
    if (!map.has(keyring.current)) {
      throw new RowtrailError('KEY', `the store's keyring names data key ${keyring.current} as current but does not hold it`);
    }
    return { keys: new Keys(master, map, keyring.current), keyring };
  }
}

/**
 * Key rotation (`rowtrail masking rotate-key`): a new data key becomes current; every data key is (re)wrapped
 * under `newMaster` (default: the same master). Old blobs still open (their data keys stay in the keyring);
 * `resealBlob` moves them to the new key where an old key must go. Returns the keyring to persist.
 * Pseudonyms change only if the master key changes (see the header).
 */
export function rotateKey(master: Buffer, keyring: KeyringData, newMaster: Buffer = master, now = new Date()): KeyringData {
  const { keys } = Keys.open(master, keyring);
  const wk = derive(newMaster, 'rowtrail/wrap/v1');
  const id = Math.max(...keyring.keys.map((k) => k.id)) + 1;
  const entries = keyring.keys.map((e) => ({ id: e.id, wrapped: wrap(wk, e.id, keys.dataKey(e.id)!), created: e.created }));
  entries.push({ id, wrapped: wrap(wk, id, randomBytes(32)), created: now.toISOString() });
  return { v: 1, fingerprint: fingerprintOf(newMaster), current: id, keys: entries };
}

/** The keyring without data keys that no blob uses any more (after every blob under them was re-sealed). */
export function dropDataKeys(keyring: KeyringData, unused: readonly number[]): KeyringData {
  if (unused.includes(keyring.current)) throw new RowtrailError('USAGE', `data key ${keyring.current} is current and cannot be dropped`);
  return { ...keyring, keys: keyring.keys.filter((k) => !unused.includes(k.id)) };
}

/** A blob re-sealed under the current data key (migrations, retiring an old data key); same change id. */
export function resealBlob(blob: Uint8Array, changeId: string, keys: Keys): Buffer {
  if (sealedKeyId(blob) === keys.currentId) return Buffer.from(blob);
  return seal(openSealed(blob, changeId, (id) => keys.dataKey(id)), changeId, keys.currentId, keys.current);
}
