/**
 * Masking (issue 13; DESIGN.md "Masking"): sensitive values never leave the daemon in the clear, yet undo
 * restores them exactly. This folder is the pure core plus one I/O edge (keyfile.ts); it is not wired into
 * the pipeline yet. How it is meant to be wired:
 *
 * 1. Start (daemon, and any CLI command that reads masked data):
 *      const mk = loadMasterKey({ keyFile: cfg.masking.keyFile, storeDir: cfg.store.path,
 *                                 allowGenerate: <store has no keyring yet> });
 *      if (mk.warning) log.warn(mk.warning);                     // once, says where the key file is
 *      const { keys, keyring } = Keys.open(mk.key, store.keyring());  // wrong key → KEY error, exit 1
 *      store.saveKeyring(keyring);                               // new store: data key 1
 *      const masker = new Masker({ ...maskerOptions(cfg.masking), keys, state: store.classifications() });
 *    A command that only reads (changes, blame, actors) needs no key: `new Masker({ …, keys: null })`, or none.
 *    `masking.enabled: false` → no Masker: events pass through as today (and nothing is sealed).
 *
 * 2. Pipeline: source → identity → **masker.maskEvent(ev)** → store (DESIGN.md "Pipeline"), on the thread
 *    that hands events to the store writer, before the event is queued: nothing downstream (store, logs,
 *    sinks, alerts, detectors, HTTP) ever holds the raw event. It returns `{ event, sealed }`:
 *      - `event`: the readable change; the store writes it exactly as today (its key image is masked too:
 *        sensitive key columns show their pseudonym, so the (table, row key) index still tells rows apart);
 *      - `sealed`: a Buffer or null; the store keeps it beside the change (a BLOB column keyed by change id,
 *        written in the same transaction, idempotent like the change itself).
 *    After each written batch, `masker.classifier.drainNew()` gives the new sticky classifications; the store
 *    persists them (table `masking_columns`: place → JSON of Classification) in the same transaction, so a
 *    replay after a crash classifies the same. Key rotation writes the keyring the same way.
 *    Logging: log the readable event only; never a raw image, sealed blob or key.
 *    Cost (bench/masking): classification alone ~2 CPU-µs per change; a change with sensitive cells ~15
 *    (2/5 of it the AES-GCM seal) on the shared, loaded machine. If capture drops below 80 % with it on the
 *    decode thread, call maskEvent in the write worker just before the insert instead (the raw event then
 *    crosses the thread boundary in memory only) — PostgreSQL capture leaves the decode thread some slack.
 *
 * 3. Undo: the planner reads readable changes with their blobs and calls `masker.unmaskEvent(ev, sealed)` to
 *    get the exact raw images (conflict guards and undo SQL are then built from raw values, as today).
 *    Without the key, `unmaskEvent` on a change with a blob throws KEY ("needs the master key"): undo of
 *    masked columns refuses with that line; changes without a blob need no key. `compareForConflict` serves
 *    JS-side checks that must not see the raw value. `changes --reveal` uses `unmaskEvent` too, and records
 *    the access (who, when, which change ids) as an event of its own.
 *
 * 4. `rowtrail masking show`: `masker.classifier.list()` (config + sticky, with reasons).
 *    `rowtrail masking rotate-key`: `rotateKey(master, keyring[, newMaster])` → persist; old blobs still open;
 *    `resealBlob` per blob then `dropDataKeys` retires an old data key.
 *    Blame by a key value: look the row up by `masker.pseudonym(raw)` for masked key columns.
 *
 * 5. Stores written before masking (values in the clear): for each change, `maskEvent` on the stored event
 *    (same id) and rewrite row + blob in place, in batches, with progress; or refuse with that command.
 *
 * Not masked here (integration decides): `ddl` statement text and `actor.context` values.
 */
export * from './detect.js';
export * from '../config/masking-paths.js';
export { parseJson, type JsonNode } from './json.js';
export * from './policies.js';
export * from './seal.js';
export * from './keys.js';
export * from './keyfile.js';
export * from './classify.js';
export * from './masker.js';

import type { Config } from '../config/index.js';
import type { ClassifierOptions } from './classify.js';

/** The classifier options of a parsed config's `masking` section. */
export function maskerOptions(m: Config['masking']): ClassifierOptions {
  return { columns: m.columns, detectValues: m.detectValues, maxValueChars: m.maxValueChars };
}
