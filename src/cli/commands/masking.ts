import type { Command } from 'commander';
import { common, configFrom, configOption, examples, nonEmpty, openStoreForRead, out, readMasker, type CommonOpts } from '../shared.js';
import { clip, progress, table } from '../../present/index.js';
import { openMasking, readAccesses, Store } from '../../store/index.js';
import { dropDataKeys, Keys, loadMasterKey, readKeyFile, rotateKey } from '../../masking/index.js';
import { RowtrailError } from '../../errors.js';
import type { Config } from '../../config/index.js';

interface RotateOpts extends CommonOpts {
  newKeyFile?: string;
  reseal?: boolean;
}

export function registerMasking(program: Command): void {
  const masking = program
    .command('masking')
    .description('sensitive columns: what is masked and why (`show`), who revealed what (`accesses`), keys (`rotate-key`), old stores (`migrate`)');

  const show = common(masking.command('show'))
    .description('every classified column (and JSON key path): its policy and why (config, name rule, value detector)');
  examples(show, ['rowtrail masking show', 'rowtrail masking show --json']);
  show.action((opts: CommonOpts) => {
    const cfg = configFrom(opts);
    const store = openStoreForRead(cfg);
    try {
      const masker = readMasker(store, cfg);
      if (!masker) return out('masking is disabled (masking.enabled: false): values are stored and shown in the clear');
      const rows = masker.classifier.list();
      if (opts.json) {
        for (const r of rows) out(JSON.stringify(r));
        return;
      }
      if (rows.length === 0) return out('no column is classified yet: `rowtrail watch` classifies columns as changes flow by');
      const why = (r: (typeof rows)[number]) => `${r.reason.by === 'config' ? 'config' : `${r.reason.by} rule`}: ${r.reason.rule}`;
      out(table(['place', 'policy', 'why', 'since'], rows.map((r) => [clip(r.place, 60), r.policy, why(r), r.since ?? ''])));
    } finally {
      store.close();
    }
  });

  const accesses = common(masking.command('accesses')).description('every reveal of sealed values: who, when, which selection and how many changes');
  accesses.action((opts: CommonOpts) => {
    const cfg = configFrom(opts);
    const list = readAccesses(cfg.store.path);
    if (opts.json) {
      for (const a of list) out(JSON.stringify(a));
      return;
    }
    if (list.length === 0) return out('no sealed value was ever revealed from this store');
    const rows = list.map((a) => [a.at, a.who, a.action, String(a.changes), clip(JSON.stringify(a.selection), 60)]);
    out(table(['at', 'who', 'action', 'changes', 'selection'], rows));
  });

  const migrate = configOption(masking.command('migrate'))
    .description('mask and seal in place what the store holds in the clear (stores from before masking); stop `rowtrail watch` first');
  migrate.action((opts: CommonOpts) => {
    const cfg = configFrom(opts);
    const store = openForWrite(cfg, 'rowtrail masking migrate');
    try {
      const m = openMasking(store, cfg.masking, { write: true })!;
      if (m.warning) process.stderr.write(`${m.warning}\n`);
      const clear = store.clearCount();
      const bar = progress('masking the store');
      const n = store.maskStored(m.masker, (done) => bar.update(done, clear.transactions, 'transactions'));
      bar.end();
      out(`masked and sealed ${n} transaction(s) (${clear.changes} changes) stored in the clear`);
    } finally {
      store.close();
    }
  });

  const rotate = configOption(masking.command('rotate-key'))
    .description('start sealing with a new data key; with --new-key-file, wrap every data key under a new master key too')
    .option('--new-key-file <file>', 'the new master key (64 hex characters, mode 0600); set it in the config afterwards', nonEmpty)
    .option('--reseal', 'also re-seal every stored value under the new data key and retire the old data keys');
  examples(rotate, [
    'rowtrail masking rotate-key                                   # a new data key; old values still open',
    'openssl rand -hex 32 > new.key && chmod 600 new.key',
    'rowtrail masking rotate-key --new-key-file new.key --reseal   # a new master key, old data keys retired',
  ]);
  rotate.action((opts: RotateOpts) => {
    const cfg = configFrom(opts);
    const store = openForWrite(cfg, 'rowtrail masking rotate-key');
    try {
      const keyring = store.keyring();
      if (!keyring) throw new RowtrailError('USAGE', 'this store has sealed nothing yet (no keyring): there is no key to rotate');
      const master = loadMasterKey({ keyFile: cfg.masking.keyFile, storeDir: store.dir }).key;
      const next = opts.newKeyFile ? readKeyFile(opts.newKeyFile) : master;
      let ring = rotateKey(master, keyring, next);
      store.saveKeyring(ring);
      out(`data key ${ring.current} is now current${opts.newKeyFile ? `; every data key is wrapped under the new master key` : ''}`);
      if (opts.reseal) {
        const keys = Keys.open(next, ring).keys;
        const bar = progress('re-sealing');
        const n = store.resealAll(keys, (done) => bar.update(done, null, 'sealed values'));
        bar.end();
        const old = ring.keys.filter((k) => k.id !== ring.current).map((k) => k.id);
        ring = dropDataKeys(ring, old);
        store.saveKeyring(ring);
        out(`re-sealed ${n} stored value(s); retired data key(s) ${old.join(', ') || '(none)'}`);
      }
      if (opts.newKeyFile) {
        out(`point masking.keyFile (or ROWTRAIL_MASTER_KEY) at ${opts.newKeyFile} now: the old master key no longer opens this store`);
        out('pseudonyms (h:…) of new changes differ from those made under the old master key');
      }
    } finally {
      store.close();
    }
  });
}

function openForWrite(cfg: Config, owner: string): Store {
  if (!cfg.masking.enabled) throw new RowtrailError('USAGE', 'masking is disabled in the config (masking.enabled: false)');
  return Store.open(cfg.store.path, { owner });
}
