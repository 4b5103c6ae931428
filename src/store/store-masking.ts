/**
 * The store's masking side (DESIGN.md "Masking"; src/masking/index.ts for the whole wiring): the keyring
 * (data keys wrapped by the master key, meta 'keyring'), the sticky classifications (table masking_columns),
 * and masking in place of transactions stored in the clear (stores from before schema 3, or written with
 * masking off). Pure SQL on a connection that store.ts owns.
 */
import type Database from 'better-sqlite3';
import type { Config } from '../config/index.js';
import { RowtrailError } from '../errors.js';
import type { ChangeEvent } from '../model/index.js';
import { Keys, loadMasterKey, Masker, maskerOptions, resealBlob, type ClassifierState, type KeyringData, type MasterKeySource } from '../masking/index.js';
import { sealIdOf } from './source-writer.js';
import { canonicalKey } from './keys.js';
import { eventColumns, sealedOf, toEvent, type StoredRow } from './store-queries.js';
import type { Store } from './store.js';

type Db = Database.Database;

export function loadKeyring(db: Db): KeyringData | null {
  const r = db.prepare(`SELECT v FROM meta WHERE k = 'keyring'`).get() as { v: string } | undefined;
  return r ? (JSON.parse(r.v) as KeyringData) : null;
}

export function saveKeyring(db: Db, keyring: KeyringData): void {
  db.prepare(`INSERT INTO meta (k, v) VALUES ('keyring', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`).run(JSON.stringify(keyring));
}

export function loadClassifications(db: Db): ClassifierState {
  const state: ClassifierState = {};
  for (const r of db.prepare(`SELECT place, body FROM masking_columns`).iterate() as IterableIterator<{ place: string; body: string }>) {
    state[r.place] = JSON.parse(r.body);
  }
  return state;
}

/** Committed transactions whose changes are in the clear, and their changes. */
export function countClear(db: Db): { transactions: number; changes: number } {
  const r = db
    .prepare(
      `SELECT count(DISTINCT t.tx_pk) AS transactions, count(c.idx) AS changes
         FROM transactions t LEFT JOIN changes c ON c.tx_pk = t.tx_pk WHERE t.masked = 0 AND t.state = 'committed'`,
    )
    .get() as { transactions: number; changes: number };
  return r;
}

/**
 * Masks and seals, in place, the changes of transactions stored in the clear, `batch` transactions per SQLite
 * transaction (each one atomic: a crash leaves every transaction either clear or masked, never half). The
 * changes keep their ids; the new classifications are saved with the batch that made them.
 */
export function maskStored(db: Db, masker: Masker, onProgress: (done: number) => void, batch = 200): number {
  const pick = db.prepare(`SELECT tx_pk FROM transactions WHERE masked = 0 AND state = 'committed' ORDER BY tx_pk LIMIT ?`);
  const read = db.prepare(
    `SELECT ${eventColumns(db, false)} FROM changes c JOIN transactions t ON t.tx_pk = c.tx_pk
       LEFT JOIN shapes s ON s.shape_pk = c.shape_pk WHERE c.tx_pk = ? ORDER BY c.idx`,
  );
  const update = db.prepare(`UPDATE changes SET key = ?, before = ?, after = ?, sealed = ?, sealed_at = ? WHERE tx_pk = ? AND idx = ?`);
  const done = db.prepare(`UPDATE transactions SET masked = 1 WHERE tx_pk = ?`);
  const saveClass = db.prepare(`INSERT INTO masking_columns (place, body) VALUES (?, ?) ON CONFLICT (place) DO UPDATE SET body = excluded.body`);
  let total = 0;
  // The clear bytes must not linger: freed cells are zeroed, and the WAL (old pages) truncated at the end.
  db.pragma('secure_delete = ON');
  for (;;) {
    const ids = (pick.all(batch) as { tx_pk: number }[]).map((r) => r.tx_pk);
    if (ids.length === 0) {
      if (total > 0) db.pragma('wal_checkpoint(TRUNCATE)');
      db.pragma('secure_delete = OFF');
      return total;
    }
    db.transaction(() => {
      for (const pk of ids) {
        for (const r of read.all(pk) as StoredRow[]) {
          const { event: m, sealed } = masker.maskEvent(toEvent(r), sealIdOf(r.source, r.xid, r.idx));
          const json = (img: unknown) => (img ? JSON.stringify(img) : null);
          update.run(m.key ? canonicalKey(m.key) : null, json(m.before), json(m.after), sealed, sealed ? r.idx : null, pk, r.idx);
        }
        done.run(pk);
      }
      for (const [place, cls] of masker.classifier.drainNew()) saveClass.run(place, JSON.stringify(cls));
    }).immediate();
    total += ids.length;
    onProgress(total);
  }
}

export interface MaskingOpen {
  masker: Masker;
  /** Said once where a key file was generated (who holds it can open sealed values). */
  warning?: string;
  /** The master key's fingerprint (safe to print), or null where the key could not be loaded. */
  fingerprint: string | null;
}

/**
 * Masking for a store (null when `masking.enabled` is false). The writer (the daemon) loads the master key
 * (generated beside a new store), opens or creates the keyring and refuses a wrong key with one KEY line.
 * A reader (undo, `--reveal`, blame by a masked key) gets a masker even without a usable key: what needs the
 * key then fails with the reason the key could not be loaded, and nothing else breaks.
 */
export function openMasking(store: Store, m: Config['masking'], opts: { write: boolean; env?: NodeJS.ProcessEnv }): MaskingOpen | null {
  if (!m.enabled) return null;
  const keyring = store.keyring();
  const options = { ...maskerOptions(m), state: store.classifications() };
  let mk: MasterKeySource;
  try {
    mk = loadMasterKey({ keyFile: m.keyFile, storeDir: store.dir, allowGenerate: opts.write && keyring === null, env: opts.env });
  } catch (e) {
    if (opts.write || !(e instanceof RowtrailError)) throw e;
    return { masker: new Masker({ ...options, keys: null, noKeys: e.message }), fingerprint: null };
  }
  if (!opts.write && keyring === null) {
    // Nothing was ever sealed here; the key still gives the pseudonyms (blame by a masked key value).
    return { masker: new Masker({ ...options, keys: Keys.open(mk.key, null).keys }), fingerprint: mk.fingerprint };
  }
  let opened: ReturnType<typeof Keys.open>;
  try {
    opened = Keys.open(mk.key, keyring);
  } catch (e) {
    if (opts.write || !(e instanceof RowtrailError)) throw e;
    return { masker: new Masker({ ...options, keys: null, noKeys: e.message }), fingerprint: null };
  }
  if (opts.write && keyring === null) store.saveKeyring(opened.keyring);
  return { masker: new Masker({ ...options, keys: opened.keys }), warning: mk.warning, fingerprint: mk.fingerprint };
}

/** The exact raw change of an event read by `changes()`: its sealed cells put back (KEY error without the key). */
export function reveal(masker: Masker | null, ev: ChangeEvent): ChangeEvent {
  const s = sealedOf(ev);
  if (!s?.blob) return ev;
  if (!masker) throw new RowtrailError('KEY', `change ${ev.id} has sealed values and masking is disabled in the config: enable masking to open them`);
  return masker.unmaskEvent(ev, s.blob, s.sealId, s.index);
}

/**
 * Re-seals every sealed blob under the current data key (batches, each one atomic); returns how many blobs
 * it read. Afterwards no blob uses another data key (`dropDataKeys` may retire them).
 */
export function resealAll(db: Db, keys: Keys, onProgress: (done: number) => void, batch = 5000): number {
  const pick = db.prepare(
    `SELECT c.tx_pk, c.idx, c.sealed, t.source, t.xid FROM changes c JOIN transactions t ON t.tx_pk = c.tx_pk
      WHERE c.sealed IS NOT NULL AND (c.tx_pk, c.idx) > (?, ?) ORDER BY c.tx_pk, c.idx LIMIT ?`,
  );
  const update = db.prepare(`UPDATE changes SET sealed = ? WHERE tx_pk = ? AND idx = ?`);
  let at: [number, number] = [-1, -1];
  let done = 0;
  for (;;) {
    const rows = pick.all(at[0], at[1], batch) as { tx_pk: number; idx: number; sealed: Buffer; source: string; xid: string }[];
    if (rows.length === 0) break;
    db.transaction(() => {
      for (const r of rows) {
        const next = resealBlob(r.sealed, sealIdOf(r.source, r.xid, r.idx), keys);
        if (!next.equals(r.sealed)) update.run(next, r.tx_pk, r.idx);
      }
    }).immediate();
    const last = rows[rows.length - 1];
    at = [last.tx_pk, last.idx];
    done += rows.length;
    onProgress(done);
  }
  return done;
}
