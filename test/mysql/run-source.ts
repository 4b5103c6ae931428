/**
 * Runs a MysqlSource in its own process (for the SIGKILL test): `node --import tsx run-source.ts URL STORE_DIR [START]`.
 * Prints `streaming` once the binlog stream is up; runs until killed.
 */
import { configSchema } from '../../src/config/index.js';
import { silentLogger } from '../../src/log/index.js';
import { unknownResolver } from '../../src/identity/resolver.js';
import { Store } from '../../src/store/index.js';
import { MysqlSource } from '../../src/sources/mysql/index.js';

const [url, dir, start] = process.argv.slice(2);
const store = Store.open(dir); // synchronous=FULL: what the daemon uses
const root = configSchema.parse({ sources: [{ name: 'shop', kind: 'mysql', url }] });
const source = new MysqlSource(
  { config: root.sources[0], root, store, log: silentLogger, identity: unknownResolver, url },
  { startPosition: start, flushIntervalMs: 10, onStreaming: () => process.stdout.write('streaming\n') },
);
source.run(new AbortController().signal).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`failed: ${e?.code} ${e?.message}\n`);
    process.exit(2);
  },
);
