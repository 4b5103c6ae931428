/**
 * The receiving end of bench/es-sink, in its own process (so its parsing does not count as rowtrail's cost):
 * a local HTTP server that accepts bulk requests the way Elasticsearch answers them (201 per item, the
 * `x-elastic-product` header the client checks) without storing anything. Prints its port, then serves; at the
 * end, how many documents it received and the SHA-256 of every bulk body in order (the same events must give
 * the same documents, byte for byte, whatever the sink's code).
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let docs = 0;
const sha = createHash('sha256');
const srv = createServer((req, res) => {
  const head = { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' };
  if (req.method === 'HEAD') {
    req.resume();
    res.writeHead(200, head).end();
    return;
  }
  let n = 0;
  let tail = 0;
  req.on('data', (d: Buffer) => {
    sha.update(d);
    for (let i = 0; i < d.length; i++) if (d[i] === 10) n++;
    tail = d[d.length - 1]!;
  });
  req.on('end', () => {
    const lines = tail === 10 ? n : n + 1;
    const count = Math.floor(lines / 2);
    docs += count;
    const item = '{"create":{"status":201,"result":"created"}}';
    res.writeHead(200, head).end(`{"took":1,"errors":false,"items":[${new Array(count).fill(item).join(',')}]}`);
  });
});
srv.listen(0, '127.0.0.1', () => console.log(String((srv.address() as AddressInfo).port)));
process.on('SIGTERM', () => {
  console.error(`received ${docs} documents, bodies sha256 ${sha.digest('hex')}`);
  process.exit(0);
});
