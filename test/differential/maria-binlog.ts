/**
 * The server's own decoding of the binlog, as the reference of the MariaDB differential tests:
 * `mariadb-binlog -v --base64-output=DECODE-ROWS` prints each row event as pseudo-SQL:
 *
 *   #261129 19:58:58 server id 1  end_log_pos 1727 CRC32 0x…  GTID 0-1-4 trans
 *   ### UPDATE `test`.`t`
 *   ### WHERE
 *   ###   @1=1
 *   ###   @2=-1 (4294967295)
 *   ### SET
 *   ###   @1=2
 *
 * This module reads that text (decoded as latin1, so each byte stays one char) into transactions of row
 * images by column position, and turns mariadb-binlog's display forms into MariaDB's canonical text, each
 * quirk documented where it is handled (`normalize`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BinlogRow {
  op: 'insert' | 'update' | 'delete';
  table: string;
  /** Raw display values by position (index 0 is @1); null for SQL NULL. */
  before: (string | null)[] | null;
  after: (string | null)[] | null;
}

export interface BinlogTx {
  gtid: string;
  /** `YYYY-MM-DD HH:MM:SS` (UTC: mariadb-binlog runs with TZ=UTC). */
  time: string;
  ddl: boolean;
  rows: BinlogRow[];
}

/** Runs mariadb-binlog against the server from a file:pos to the end of the last log. */
export async function readBinlog(port: number, file: string, pos: number): Promise<BinlogTx[]> {
  const { stdout } = await run(
    'mariadb-binlog',
    ['--read-from-remote-server', '--protocol=TCP', '-h', '127.0.0.1', '-P', String(port), '-u', 'root', '-v', '--base64-output=DECODE-ROWS', '--to-last-log', `--start-position=${pos}`, file],
    { encoding: 'latin1', maxBuffer: 256 << 20, env: { ...process.env, TZ: 'UTC' } },
  );
  return parseBinlog(stdout);
}

const GTID = /^#(\d\d)(\d\d)(\d\d) +(\d?\d:\d\d:\d\d) server id \d+ +end_log_pos \d+ .*\tGTID (\d+-\d+-\d+)( trans| ddl)?/;

export function parseBinlog(text: string): BinlogTx[] {
  const txs: BinlogTx[] = [];
  let tx: BinlogTx | null = null;
  let row: BinlogRow | null = null;
  let target: (string | null)[] | null = null;
  for (const line of text.split('\n')) {
    const g = GTID.exec(line);
    if (g) {
      tx = { gtid: g[5], time: `20${g[1]}-${g[2]}-${g[3]} ${g[4].padStart(8, '0')}`, ddl: g[6] !== ' trans', rows: [] };
      txs.push(tx);
      continue;
    }
    if (!line.startsWith('### ')) continue;
    const body = line.slice(4);
    const head = /^(INSERT INTO|UPDATE|DELETE FROM) `(.+?)`\.`(.+?)`$/.exec(body);
    if (head) {
      if (!tx) throw new Error(`mariadb-binlog: row event outside a GTID group: ${line}`);
      const op = head[1] === 'INSERT INTO' ? 'insert' : head[1] === 'UPDATE' ? 'update' : 'delete';
      row = { op, table: `${head[2]}.${head[3]}`, before: null, after: null };
      tx.rows.push(row);
      continue;
    }
    if (body === 'SET') target = row!.after = [];
    else if (body === 'WHERE') target = row!.before = [];
    else {
      const v = /^  @(\d+)=(.*)$/.exec(body);
      if (!v || !target) throw new Error(`mariadb-binlog: unexpected line ${line}`);
      // Why trimEnd: FLOAT is printed with %-20g, padded with spaces on the right.
      const raw = v[2].trimEnd();
      target[Number(v[1]) - 1] = raw === 'NULL' ? null : raw;
    }
  }
  return txs;
}

/** The bytes of a quoted display string: mariadb-binlog writes bytes < 0x20 as \xHH and every other byte raw
 * (even `'` and `\`, so a value is the whole rest of its line between the outer quotes). Data must not
 * contain a backslash followed by `x` (ambiguous with that escape; the workloads do not generate it). */
export function quotedBytes(raw: string): Buffer {
  if (!raw.startsWith("'") || !raw.endsWith("'")) throw new Error(`mariadb-binlog: not a quoted value: ${raw}`);
  const inner = raw.slice(1, -1).replace(/\\x([0-1][0-9a-f])/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(inner, 'latin1');
}

/** Labels of an `enum('a','b c')` / `set(…)` type as rowtrail reports it. */
export function labels(type: string): string[] {
  const m = /^(?:enum|set)\((.*)\)$/.exec(type);
  if (!m) return [];
  const out: string[] = [];
  const re = /'((?:[^']|'')*)'/g;
  for (let x = re.exec(m[1]); x; x = re.exec(m[1])) out.push(x[1].replace(/''/g, "'"));
  return out;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * mariadb-binlog's display form → MariaDB's canonical text, for a column of type `type` (as rowtrail names
 * it). `text(bytes)` converts a string column's bytes the way the server does (its own CONVERT).
 * Returns a predicate when only a numeric comparison is meaningful (FLOAT/DOUBLE).
 */
export function normalize(raw: string | null, type: string, text: (b: Buffer) => string): string | null | ((got: string | null) => boolean) {
  if (raw === null) return null;
  const base = type.replace(/\(.*$/, '').replace(/ unsigned$/, '');
  // Why: a negative integer is printed with its unsigned reading after it, `-1 (4294967295)`, whatever the
  // column's signedness: the unsigned reading for UNSIGNED columns, the signed one otherwise.
  const both = /^(-\d+) \((\d+)\)$/.exec(raw);
  if (both) return / unsigned$/.test(type) ? both[2] : both[1];
  switch (base) {
    case 'float':
      // Why: FLOAT is printed with %g, 6 significant digits (0.029323155 → 0.0293232), like the server's own
      // SELECT output; rowtrail keeps the shortest form that reads back as the same 32-bit float (more
      // digits, exact for undo). Compared at 6 significant digits, or as the same 32-bit float: a subnormal
      // float has fewer significant bits, so its shortest form (2.1e-44) is shorter than %g's (2.10195e-44).
      // A tie (-404412.5) is rounded to even by C's %g (-404412) and away from zero by toPrecision (-404413): so
      // the check is "within half a unit of %g's last digit", inclusive.
      return (got) => got !== null && (withinHalfUnit(Number(got), Number(raw), 6) || Math.fround(Number(got)) === Math.fround(Number(raw)));
    case 'double':
      // Why: %-.20g (0.1 → 0.10000000000000000555); the server prints the shortest round-trip form.
      return (got) => got !== null && Number(got) === Number(raw);
    case 'timestamp': {
      // Why: TIMESTAMP is printed as seconds since the epoch (and fraction); the text form is in the
      // server's time zone (UTC here). 0 is the zero date.
      const [s, frac] = raw.split('.');
      const sec = Number(s);
      const d = new Date(sec * 1000);
      const date =
        sec === 0
          ? '0000-00-00 00:00:00'
          : `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
      return frac === undefined ? date : `${date}.${frac}`;
    }
    case 'enum': {
      // Why: ENUM is printed as its 1-based index (0: the empty error value).
      const n = Number(raw);
      return n === 0 ? '' : labels(type)[n - 1];
    }
    case 'set': {
      // Why: SET is printed as its bitmask in binary, b'00000101' (bit 0 = first label).
      const bits = raw.slice(2, -1);
      const l = labels(type);
      return l.filter((_, i) => bits[bits.length - 1 - i] === '1').join(',');
    }
    case 'bit':
      // Why: BIT is printed as b'…' with the column's width.
      return raw.slice(2, -1);
    case 'date':
      // Why: DATE is printed with colons, '2026:11:29'.
      return quotedBytes(raw).toString('latin1').replace(/:/g, '-');
    case 'datetime':
    case 'time':
      return quotedBytes(raw).toString('latin1');
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      // rowtrail's text form of binary data is its bytes in upper-case hex.
      return quotedBytes(raw).toString('hex').toUpperCase();
    default:
      return raw.startsWith("'") ? text(quotedBytes(raw)) : raw;
  }
}

/** |got − shown| ≤ half a unit in the last of `digits` significant digits of `shown` (ties either way). */
function withinHalfUnit(got: number, shown: number, digits: number): boolean {
  if (shown === 0) return got === 0;
  const unit = 10 ** (Math.floor(Math.log10(Math.abs(shown))) - (digits - 1));
  return Math.abs(got - shown) <= unit / 2 + Number.EPSILON * Math.abs(shown);
}
