/**
 * PostgreSQL positions (LSNs) and times as the replication protocol carries them.
 * LSNs are printed as PostgreSQL prints pg_lsn: upper-case hex `X/Y`.
 */
import { RowtrailError } from '../../errors.js';

export function formatLsn(hi: number, lo: number): string {
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

/** `X/Y` → 64-bit number. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new RowtrailError('PROTOCOL', `'${lsn}' is not an LSN`);
  return (BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2]);
}

export function lsnFromBigInt(v: bigint): string {
  return formatLsn(Number(v >> 32n), Number(v & 0xffffffffn));
}

export function compareLsn(a: string, b: string): number {
  const x = parseLsn(a);
  const y = parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch). */
const PG_EPOCH_US = 946_684_800_000_000n;

/** PostgreSQL timestamp (µs since 2000-01-01 UTC) → ISO-8601 UTC with all 6 fraction digits. */
export function pgTimeToIso(us: bigint): string {
  const unixUs = us + PG_EPOCH_US;
  let secs = unixUs / 1_000_000n;
  let frac = unixUs % 1_000_000n;
  if (frac < 0n) {
    frac += 1_000_000n;
    secs -= 1n;
  }
  const iso = new Date(Number(secs) * 1000).toISOString(); // …:ssZ with .000
  return `${iso.slice(0, 19)}.${frac.toString().padStart(6, '0')}Z`;
}

/** Now as PostgreSQL µs since 2000-01-01 (for standby status updates). */
export function pgNow(): bigint {
  return BigInt(Date.now()) * 1000n - PG_EPOCH_US;
}

/** Standby status update ('r'): written = flushed = applied = `lsn`; `reply` asks the server for a keepalive now. */
export function standbyStatus(lsn: string, reply: boolean): Buffer {
  const v = parseLsn(lsn);
  const b = Buffer.alloc(34);
  b[0] = 0x72; // 'r'
  b.writeBigUInt64BE(v, 1);
  b.writeBigUInt64BE(v, 9);
  b.writeBigUInt64BE(v, 17);
  b.writeBigInt64BE(pgNow(), 25);
  b[33] = reply ? 1 : 0;
  return b;
}
