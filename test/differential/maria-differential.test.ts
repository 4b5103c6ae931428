/**
 * Differential capture test, MariaDB: generated workloads (fast-check) run against a real server while
 * rowtrail captures them; every row change rowtrail stored is compared with what `mariadb-binlog -v
 * --base64-output=DECODE-ROWS` (the server's own tool) decodes from the same binlog: GTID, op, table, and
 * each column's before and after value (display quirks normalized in maria-binlog.ts, string bytes
 * converted by the server itself). Replay a failure with ROWTRAIL_FC_SEED; see fc-params.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/model/index.js';
import { failOn, fcParams } from './fc-params.js';
import { normalize, readBinlog, type BinlogTx } from './maria-binlog.js';
import { mariaWorkloadArb, runMariaWorkload } from './maria-workload.js';
import { mariaFixture } from './maria-fixture.js';

const f = mariaFixture({ setup: (c) => c.query('CREATE TABLE marker (id int PRIMARY KEY)').then(() => undefined) });

async function binlogPos(): Promise<{ file: string; pos: number }> {
  const [rows] = await f.c.query('SHOW MASTER STATUS');
  const r = (rows as { File: string; Position: number }[])[0];
  return { file: r.File, pos: Number(r.Position) };
}

/** Converts string bytes of a character set to text the way the server does, in one query. */
async function serverConvert(wanted: Map<string, { cs: string; hex: string }>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const keys = [...wanted.keys()];
  for (let i = 0; i < keys.length; i += 200) {
    const part = keys.slice(i, i + 200);
    const cols = part.map((k, j) => `HEX(CONVERT(CONVERT(X'${wanted.get(k)!.hex}' USING ${wanted.get(k)!.cs}) USING utf8mb4)) AS c${j}`);
    const [rows] = await f.c.query(`SELECT ${cols.join(', ')}`);
    const row = (rows as Record<string, string>[])[0];
    part.forEach((k, j) => {
      out.set(k, Buffer.from(row[`c${j}`], 'hex').toString('utf8'));
    });
  }
  return out;
}

/** The first difference between the binlog's row changes and rowtrail's (null: same). */
function compare(txs: BinlogTx[], events: ChangeEvent[], charsets: Map<string, string>, text: (cs: string, b: Buffer) => string, collectOnly = false): string | null {
  const rows = txs.filter((t) => !t.ddl).flatMap((t) => t.rows.map((r) => ({ ...r, gtid: t.gtid })));
  const evs = events.filter((e) => e.op !== 'ddl');
  if (rows.length !== evs.length) return `row changes: mariadb-binlog ${rows.length}, rowtrail ${evs.length}`;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const e = evs[i];
    const where = `change #${i} (${r.op} ${r.table}, GTID ${r.gtid})`;
    if (e.tx.id !== r.gtid) return `${where}: rowtrail tx ${e.tx.id}`;
    if (e.op !== r.op || `${e.database}.${e.table}` !== r.table) return `${where}: rowtrail ${e.op} ${e.database}.${e.table}`;
    for (const side of ['before', 'after'] as const) {
      const img = e[side];
      const raw = r[side];
      if ((img === null) !== (raw === null)) return `${where}: ${side} image present in only one of them`;
      if (!img || !raw) continue;
      const names = Object.keys(img);
      if (names.length !== raw.length) return `${where}: ${side} has ${names.length} columns in rowtrail, ${raw.length} in the binlog`;
      for (const [j, name] of names.entries()) {
        const type = e.types?.[name] ?? '';
        const cs = charsets.get(name) ?? 'utf8mb4';
        const want = normalize(raw[j], type, (b) => text(cs, b));
        const ok = typeof want === 'function' ? want(img[name]) : want === img[name];
        if (!ok && !collectOnly) {
          const shown = typeof want === 'function' ? '(numeric)' : JSON.stringify(want);
          return `${where}: ${side}.${name} (${type}${charsets.has(name) ? ' ' + cs : ''}): binlog ${JSON.stringify(raw[j])} → ${shown}, rowtrail ${JSON.stringify(img[name])}`;
        }
      }
    }
    const keyFrom = e.after ?? e.before;
    if (JSON.stringify(e.key) !== JSON.stringify({ id: keyFrom?.id })) return `${where}: key ${JSON.stringify(e.key)}`;
  }
  return null;
}

describe('MariaDB capture against mariadb-binlog', () => {
  it('stores every row change of generated workloads as mariadb-binlog decodes it', async () => {
    let n = 0;
    let seen = 0;
    const out = await fc.check(
      fc.asyncProperty(mariaWorkloadArb(), async (w) => {
        const r = n++;
        const start = await binlogPos();
        const { log, charsets } = await runMariaWorkload(f.c, w, `m${r}_`);
        await f.c.query(`INSERT INTO marker VALUES (${r})`);
        const all = await f.run.waitFor((ev) => ev.some((e) => e.table === 'marker' && e.after?.id === String(r)), 60_000);
        const events = all.slice(seen).filter((e) => e.table !== 'marker');
        seen = all.length;
        const txs = (await readBinlog(f.m.port, start.file, start.pos)).map((t) => ({ ...t, rows: t.rows.filter((x) => x.table !== 'test.marker') }));
        // Two passes: collect the string bytes to convert, ask the server once, compare.
        const wanted = new Map<string, { cs: string; hex: string }>();
        compare(txs, events, charsets, (cs, b) => {
          wanted.set(`${cs}:${b.toString('hex')}`, { cs, hex: b.toString('hex') });
          return '';
        }, true);
        const converted = await serverConvert(new Map([...wanted].filter(([, v]) => v.hex.length > 0)));
        const diff = compare(txs, events, charsets, (cs, b) => (b.length ? converted.get(`${cs}:${b.toString('hex')}`)! : ''));
        if (diff) throw new Error(`rowtrail differs from mariadb-binlog: ${diff}\n--- workload SQL ---\n${log.join(';\n').slice(0, 8000)}`);
      }),
      fcParams('maria-differential', 20),
    );
    failOn(out);
    expect(n).toBeGreaterThan(0);
  }, 180_000);
});
