/**
 * Text in the server's character sets, decoded exactly as the server converts it to utf8mb4 (what a client
 * reading the column sees, and what undo writes back).
 *
 * Why not Node's TextDecoder: its WHATWG tables are not the server's. MariaDB's sjis maps 0x8160 0x815F to
 * `〜\`, WHATWG shift_jis to `～＼`; ujis 0xA1C1 0xA1C2 are `〜‖` to the server, `～∥` to euc-jp; and the server
 * has charsets WHATWG lacks (dec8, swe7, keybcs2, armscii8, geostd8, …). So every non-Unicode charset is decoded
 * with a table the server itself gives: each byte, each two-byte code after a lead byte, and (for the EUC
 * charsets' 0x8F plane) each three-byte code, converted with `CONVERT(… USING utf8mb4)`. One to three
 * queries per charset, only for charsets a watched column uses, cached per server version.
 * UTF-8/16/32 and UCS-2 are decoded by rule.
 */
/** Runs one query on the server (the stream's control connection). */
export type Query = <T>(sql: string) => Promise<T[]>;

/** A server-given decoding table. */
export interface CharsetMap {
  /** Byte → its text on its own (a lead byte without its continuation is '?'). */
  single: string[];
  /** (lead << 8 | next) → text of the two-byte character. */
  double: (string | undefined)[] | null;
  /** (b1 << 16 | b2 << 8 | b3) → text of the three-byte character. */
  triple: Map<number, string> | null;
}

const RULE = new Set(['utf8mb4', 'utf8mb3', 'utf8', 'utf16', 'utf16le', 'ucs2', 'utf32', 'binary']);

/** Whether text in this charset is decoded with a table from the server (everything but Unicode and binary). */
export function needsServerMap(charset: string): boolean {
  return !RULE.has(charset);
}

const cache = new Map<string, Promise<CharsetMap>>();

/** The server's table for `charset` (cached per server version and charset). */
export function charsetMap(query: Query, version: string, charset: string, maxLen: number): Promise<CharsetMap> {
  const key = `${version}\u0000${charset}`;
  let p = cache.get(key);
  if (!p) {
    p = loadMap(query, charset, maxLen);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

const BYTES = 'WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < 255)';
const hex2 = (col: string) => `LPAD(HEX(${col}), 2, '0')`;
/** The server's conversion of the bytes `hexExpr` (read as `charset`) to utf8mb4. */
const conv = (hexExpr: string, cs: string) => `CONVERT(CONVERT(UNHEX(${hexExpr}) USING ${cs}) USING utf8mb4)`;
/**
 * Codes the server reads as one character: probed with a space after them, one character and the space
 * come back (an invalid lead byte comes back as '?' followed by the rest, read on from the next byte).
 */
const isUnit = (c: string) => `CHAR_LENGTH(${c}) = 2 AND RIGHT(${c}, 1) = ' '`;

function text(hexText: string): string {
  return Buffer.from(hexText, 'hex').toString('utf8');
}

async function loadMap(query: Query, charset: string, maxLen: number): Promise<CharsetMap> {
  if (!/^[a-z0-9_]+$/.test(charset)) throw new Error(`unexpected character set name ${JSON.stringify(charset)}`);
  const single: string[] = new Array(256).fill('?');
  const ones = await query<{ n: number | string; u: string }>(`${BYTES} SELECT n, HEX(${conv(hex2('n'), charset)}) AS u FROM b`);
  for (const r of ones) if (r.u !== '') single[Number(r.n)] = text(r.u);
  if (maxLen < 2) return { single, double: null, triple: null };

  // Multi-byte characters start with a byte >= 0x80 in every charset the server has.
  const double: (string | undefined)[] = new Array(65536);
  const leads = new Set<number>();
  const pair = conv(`CONCAT(${hex2('l.n')}, ${hex2('t.n')}, '20')`, charset);
  for (const r of await query<{ l: number | string; t: number | string; u: string }>(
    `${BYTES} SELECT l.n AS l, t.n AS t, HEX(${pair}) AS u FROM b l JOIN b t WHERE l.n >= 128 AND ${isUnit(pair)}`,
  )) {
    const l = Number(r.l);
    leads.add(l);
    double[(l << 8) | Number(r.t)] = [...text(r.u)][0];
  }
  if (maxLen < 3) return { single, double, triple: null };
  // Three-byte characters (the EUC charsets' 0x8F plane): a lead byte of no two-byte character, then two
  // bytes of the 94x94 code range every EUC plane uses.
  const triple = new Map<number, string>();
  const other = [];
  for (let l = 128; l < 256; l++) if (!leads.has(l)) other.push(l);
  const three = conv(`CONCAT(${hex2('l.n')}, ${hex2('m.n')}, ${hex2('t.n')}, '20')`, charset);
  for (const r of await query<{ l: number | string; m: number | string; t: number | string; u: string }>(
    `${BYTES} SELECT l.n AS l, m.n AS m, t.n AS t, HEX(${three}) AS u FROM b l JOIN b m JOIN b t
     WHERE l.n IN (${other.join(',')}) AND m.n BETWEEN 161 AND 254 AND t.n BETWEEN 161 AND 254 AND ${isUnit(three)}`,
  )) {
    triple.set((Number(r.l) << 16) | (Number(r.m) << 8) | Number(r.t), [...text(r.u)][0]);
  }
  return { single, double, triple: triple.size ? triple : null };
}

/** A decoder for bytes of one charset, from the server's table. */
export function mapDecoder(m: CharsetMap, charset = ''): (b: Buffer, start: number, end: number) => string {
  const { single, double, triple } = m;
  let ascii = true;
  for (let i = 0; i < 0x80; i++) if (single[i] !== String.fromCharCode(i)) ascii = false;
  // gb18030 (MySQL only) has 1.6M four-byte codes, too many to ask for: those are decoded by WHATWG's
  // gb18030 (not checked against a server here).
  const gb18030 = charset === 'gb18030' ? new TextDecoder('gb18030') : null;
  return (b, start, end) => {
    if (ascii) {
      let plain = true;
      for (let i = start; i < end; i++) {
        if (b[i] >= 0x80) {
          plain = false;
          break;
        }
      }
      if (plain) return b.toString('latin1', start, end);
    }
    let out = '';
    let i = start;
    while (i < end) {
      const c = b[i];
      if (c >= 0x80 && i + 1 < end) {
        const two = double?.[(c << 8) | b[i + 1]];
        if (two !== undefined) {
          out += two;
          i += 2;
          continue;
        }
        const three = triple && i + 2 < end ? triple.get((c << 16) | (b[i + 1] << 8) | b[i + 2]) : undefined;
        if (three !== undefined) {
          out += three;
          i += 3;
          continue;
        }
        if (gb18030 && i + 3 < end && b[i + 1] >= 0x30 && b[i + 1] <= 0x39) {
          out += gb18030.decode(b.subarray(i, i + 4));
          i += 4;
          continue;
        }
      }
      // A byte on its own (or an invalid lead byte, which the server writes as '?' before reading on).
      out += single[c];
      i++;
    }
    return out;
  };
}
