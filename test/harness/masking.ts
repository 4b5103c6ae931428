/** Fixture stores written as `rowtrail watch` writes them: masked and sealed, with the default masking config. */
import { configSchema } from '../../src/config/index.js';
import { openMasking, type Store } from '../../src/store/index.js';

/** The masking section of a config that says nothing about masking (the defaults). */
export function defaultMasking() {
  return configSchema.shape.masking.parse(undefined);
}

/** From now on the store's writers mask like the daemon (the key is generated beside a new store). */
export function maskLikeWatch(store: Store): void {
  store.useMasker(openMasking(store, defaultMasking(), { write: true })!.masker);
}
