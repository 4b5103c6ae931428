/**
 * One capture run in its own process, so its peak RSS is its own: streams the binlog from START into a fresh
 * store until EXPECT row changes are stored, then prints {changes, transactions, seconds, maxRssMb} as JSON.
 * Usage: node --import tsx capture-child.ts URL STORE_DIR START EXPECT
 */
import { configSchema } from '../../src/config/index.js';
import { silentLogger } from '../../src/log/index.js';
import { unknownResolver } from '../../src/identity/resolver.js';
import { Store, openMasking } from '../../src/store/index.js';
import { MysqlSource } from '../../src/sources/mysql/index.js';

const [url, dir, start, expectArg] = process.argv.slice(2);
const expected = Number(expectArg);
const store = Store.open(dir); // the daemon's default: synchronous=FULL
const root = configSchema.parse({ sources: [{ name: 'bench', kind: 'mysql', url }] });
// ROWTRAIL_BENCH_MASK=1: masking on, as `watch` runs by default (key generated in the temp store)
if (process.env.ROWTRAIL_BENCH_MASK === '1') store.useMasker(openMasking(store, root.masking, { write: true })!.masker);
const source = new MysqlSource({ config: root.sources[0], root, store, log: silentLogger, identity: unknownResolver, url }, { startPosition: start });
const ac = new AbortController();
let t0 = 0;
let peakRss = 0;
const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
const done = source.run(ac.signal);
t0 = performance.now();
const poll = setInterval(async () => {
  // stats().changes counts committed changes handed to the writer; stopping flushes them (durable) first.
  if (source.stats().changes < expected) return;
  clearInterval(poll);
  ac.abort();
  await done;
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sample);
  const stored = (store.db.prepare(`SELECT count(*) AS n FROM changes c JOIN transactions t USING (tx_pk) WHERE t.state = 'committed'`).get() as { n: number }).n;
  const maxRssMb = Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 2 ** 20;
  const ru = process.resourceUsage();
  const cpuSeconds = (ru.userCPUTime + ru.systemCPUTime) / 1e6; // this process, every thread (decode + write worker)
  process.stdout.write(JSON.stringify({ changes: stored, transactions: source.stats().transactions, seconds, maxRssMb, cpuSeconds }) + '\n');
  store.close();
  process.exit(stored === expected ? 0 : 3);
}, 5);
done.catch((e) => {
  process.stderr.write(`capture failed: ${e?.code} ${e?.message}\n`);
  process.exit(2);
});
