/**
 * Every character set the server has, captured from the binlog and compared with the server's own
 * conversion of the stored bytes (`CONVERT(v USING utf8mb4)`, what a client reads and what undo writes
 * back). Each charset's code space is stored: every byte, every two-byte code after a byte >= 0x80, the
 * EUC charsets' three-byte 0x8F plane, and for the Unicode charsets a sample of code points; then strings
 * mixing the codes the server kept, so character boundaries are exercised too.
 */
import { describe, expect, it } from 'vitest';
import type mysql from 'mysql2/promise';
import { cleanup, gtidPos, mariadbForFile, runSource } from './helpers.js';

const UNICODE = new Set(['utf8mb3', 'utf8mb4', 'ucs2', 'utf16', 'utf16le', 'utf32']);
const h2 = (n: number) => n.toString(16).padStart(2, '0');

/** Rows [id, hex of the bytes] covering a charset's code space. */
function codeSpace(maxLen: number): [number, string][] {
  const rows: [number, string][] = [];
  let id = 0;
  for (let b = 0; b < 256; b++) rows.push([id++, h2(b)]);
  if (maxLen >= 2) for (let l = 0x80; l < 0x100; l++) for (let t = 0x40; t < 0x100; t++) rows.push([id++, h2(l) + h2(t)]);
  if (maxLen >= 3) for (let m = 0xa1; m < 0xff; m++) for (let t = 0xa1; t < 0xff; t++) rows.push([id++, '8f' + h2(m) + h2(t)]);
  return rows;
}

/** A sample of Unicode code points (no surrogates), as UTF-8 hex, 64 per row. */
function unicodeSample(): [number, string][] {
  const cps: number[] = [];
  for (let cp = 1; cp < 0x110000; cp += cp < 0x3000 ? 7 : 251) if (cp < 0xd800 || cp > 0xdfff) cps.push(cp);
  const rows: [number, string][] = [];
  for (let i = 0; i < cps.length; i += 64) rows.push([rows.length, Buffer.from(String.fromCodePoint(...cps.slice(i, i + 64)), 'utf8').toString('hex')]);
  return rows;
}

async function insert(c: mysql.Connection, table: string, rows: [number, string][], value: (hex: string) => string): Promise<void> {
  for (let i = 0; i < rows.length; i += 5000) {
    const part = rows.slice(i, i + 5000);
    await c.query(`INSERT IGNORE INTO ${table} VALUES ${part.map(([id, hex]) => `(${id}, ${value(hex)})`).join(',')}`);
  }
}

describe('character sets', () => {
  const srv = mariadbForFile();

  it('decodes text in every charset the server supports exactly as the server converts it', async () => {
    const { m, c } = srv;
    const [sets] = await c.query(`SELECT CHARACTER_SET_NAME AS cs, MAXLEN AS maxLen FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME <> 'binary'`);
    const charsets = (sets as { cs: string; maxLen: number | string }[]).map((r) => ({ cs: r.cs, maxLen: Number(r.maxLen) }));
    expect(charsets.map((x) => x.cs)).toEqual(expect.arrayContaining(['sjis', 'ujis', 'latin1', 'big5', 'cp932', 'eucjpms', 'gbk', 'swe7']));
    for (const { cs } of charsets) await c.query(`CREATE TABLE cs_${cs} (id INT PRIMARY KEY, v LONGTEXT CHARACTER SET ${cs})`);
    const start = await gtidPos(c);
    const run = await runSource(m.url('test'), { startPosition: start });
    try {
      const expected = new Map<string, number>();
      for (const { cs, maxLen } of charsets) {
        const table = `cs_${cs}`;
        if (UNICODE.has(cs)) {
          await insert(c, table, unicodeSample(), (hex) => `CONVERT(_utf8mb4 X'${hex}' USING ${cs})`);
        } else {
          const space = codeSpace(maxLen);
          await insert(c, table, space, (hex) => `X'${hex}'`);
          // Strings mixing the codes the server stored whole, so character boundaries are decoded right.
          const [stored] = await c.query(`SELECT id, HEX(v) AS h FROM ${table}`);
          const byId = new Map((stored as { id: number; h: string }[]).map((r) => [Number(r.id), r.h.toLowerCase()]));
          const codes = space.filter(([id, hex]) => byId.get(id) === hex).map(([, hex]) => hex);
          let seed = 7;
          const pick = () => codes[(seed = (seed * 1103515245 + 12345) % 2147483648) % codes.length];
          const mixed: [number, string][] = [];
          for (let i = 0; i < 40; i++) mixed.push([1_000_000 + i, Array.from({ length: 60 }, pick).join('')]);
          await insert(c, table, mixed, (hex) => `X'${hex}'`);
        }
        const [n] = await c.query(`SELECT COUNT(*) AS n FROM ${table}`);
        expected.set(table, Number((n as { n: number }[])[0].n));
      }
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      for (let i = 0; run.source.stats().changes < total; i++) {
        if (i > 2400) throw new Error(`captured ${run.source.stats().changes} of ${total} rows`);
        await Promise.race([new Promise((r) => setTimeout(r, 50)), run.done]); // a source that stopped fails here
      }
      const events = await run.waitFor((e) => e.length >= total, 60_000);
      const captured = new Map<string, Map<string, string | null>>();
      for (const e of events) {
        if (e.op !== 'insert') continue;
        if (!captured.has(e.table)) captured.set(e.table, new Map());
        captured.get(e.table)!.set(e.after!.id!, e.after!.v);
      }
      const wrong: string[] = [];
      for (const { cs } of charsets) {
        const table = `cs_${cs}`;
        const [rows] = await c.query(`SELECT id, HEX(v) AS raw, HEX(CONVERT(v USING utf8mb4)) AS u FROM ${table}`);
        const got = captured.get(table) ?? new Map();
        for (const r of rows as { id: number | string; raw: string; u: string }[]) {
          const server = Buffer.from(r.u, 'hex').toString('utf8');
          const mine = got.get(String(r.id));
          if (mine !== server) wrong.push(`${cs} ${r.raw}: server ${JSON.stringify(server)}, rowtrail ${JSON.stringify(mine)}`);
        }
      }
      expect(wrong.slice(0, 20)).toEqual([]);
    } finally {
      await run.stop();
      cleanup(run.dir);
    }
  }, 180_000);
});
