/**
 * Binlog positions as rowtrail stores them (one string per source, written in the same store transaction
 * as the data it covers):
 *
 * - MariaDB: the GTID position, `domain-server-seq` per domain, e.g. `0-1-1234,1-3-45` (what
 *   `@@gtid_binlog_pos` prints and `@slave_connect_state` takes). MariaDB always logs GTIDs.
 * - MySQL with `gtid_mode=ON`: the executed GTID set, e.g. `3e11fa47-…:1-77`.
 * - MySQL without GTIDs: `file:pos`, e.g. `binlog.000003:1542` (the end of the last committed transaction).
 *
 * A transaction's own commit position (its idempotence key) is its GTID (`0-1-1234`, `uuid:77`), or the
 * `file:pos` of its commit event's end when GTIDs are off.
 */
import { GtidSet, MariadbGtidPosition } from '@vlasky/zongji';

export type PositionKind = 'mariadb-gtid' | 'mysql-gtid' | 'file';

export interface FilePos {
  file: string;
  pos: number;
}

const UUID_START = /^[0-9a-f]{8}-[0-9a-f]{4}-/i;

/** Which kind of position a stored string is. */
export function positionKind(p: string): PositionKind {
  if (p === '' || /^\d+-\d+-\d+(,\d+-\d+-\d+)*$/.test(p)) return 'mariadb-gtid';
  if (UUID_START.test(p)) return 'mysql-gtid';
  if (/^.+:\d+$/.test(p)) return 'file';
  throw new Error(`not a binlog position: ${JSON.stringify(p)}`);
}

export function parseFilePos(p: string): FilePos {
  const i = p.lastIndexOf(':');
  return { file: p.slice(0, i), pos: Number(p.slice(i + 1)) };
}

export function formatFilePos(f: FilePos): string {
  return `${f.file}:${f.pos}`;
}

/** The GTID state a stream advances as transactions commit. */
export interface GtidState {
  /** Records a committed transaction's GTID; returns the new whole state as text. */
  add(gtid: string): string;
  toString(): string;
}

/** MariaDB GTID position (last sequence number per domain). */
export function mariadbState(text: string): GtidState {
  const p = MariadbGtidPosition.parse(text);
  return {
    add(gtid: string) {
      const [d, s, n] = gtid.split('-');
      p.add({ domainId: Number(d), serverId: Number(s), seqNo: n });
      return p.toString();
    },
    toString: () => p.toString(),
  };
}

/** MySQL GTID set (intervals per server uuid). */
export function mysqlGtidState(text: string): GtidState & { encode(): Buffer } {
  const set = GtidSet.parse(text);
  return {
    add(gtid: string) {
      set.add(gtid);
      return set.toString();
    },
    toString: () => set.toString(),
    // encode() exists on zongji's GtidSet (used for COM_BINLOG_DUMP_GTID) but is not in its typings.
    encode: () => (set as unknown as { encode(): Buffer }).encode(),
  };
}

/**
 * Whether a MariaDB GTID position `stored` is older than what the oldest binlog still holds (`oldest`, the
 * GTID state at the start of the oldest binlog file): then the events right after `stored` are purged.
 */
export function mariadbPurged(stored: string, oldest: string): boolean {
  if (!oldest) return false;
  const have = new Map<string, bigint>();
  for (const e of stored ? stored.split(',') : []) {
    const [d, , n] = e.split('-');
    have.set(d, BigInt(n));
  }
  for (const e of oldest.split(',')) {
    const [d, , n] = e.split('-');
    const mine = have.get(d);
    // A domain the oldest binlog already had history for, which we have not seen at all or only earlier.
    if (mine === undefined ? BigInt(n) > 0n : mine < BigInt(n)) return true;
  }
  return false;
}

/**
 * Bytes of binlog from `from` to `to` (file and position), across files with the sizes SHOW BINARY LOGS
 * gives; 0 when `from` is at or past `to`; null when a file in between is not in `sizes`. Binlog file names
 * carry a zero-padded sequence number, so they sort in order.
 */
export function binlogDistance(from: FilePos, to: FilePos, sizes: ReadonlyMap<string, number>): number | null {
  if (from.file === to.file) return Math.max(0, to.pos - from.pos);
  if (from.file > to.file) return 0;
  const first = sizes.get(from.file);
  if (first === undefined) return null;
  let n = Math.max(0, first - from.pos) + to.pos;
  for (const [file, size] of sizes) if (file > from.file && file < to.file) n += size;
  return n;
}
