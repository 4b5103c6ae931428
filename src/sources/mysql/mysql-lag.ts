/**
 * Lag of a MySQL / MariaDB source, measured against the server's binlog end (SHOW MASTER STATUS / SHOW
 * BINARY LOG STATUS, read every LAG_POLL_MS on the control connection), never as "now minus the last
 * commit": a caught-up idle server reads 0 bytes and 0 seconds.
 *
 * Bytes: from where the durable data ends in the binlog (the end of the newest durable transaction; the read
 * position once everything read is durable, since what follows it holds no change) to the server's end.
 * Seconds: since the commit of the oldest transaction not yet durable (read and pending, else the open
 * group's first event, else the time the server was first seen ahead).
 */
import { binlogEnd, binlogSizes, type Conn, type ServerFacts } from './mysql-client.js';
import { binlogDistance, parseFilePos, positionKind } from './mysql-position.js';
import type { Coord } from './mysql-transaction.js';

/** How often the server's binlog end is read (ms). */
export const LAG_POLL_MS = 2000;

/** A transaction read but not yet durable: where it ends. */
interface Pending {
  resume: string;
  coord: Coord;
  commitMs: number;
}

/** Where the reader is, for the lag: its read position, and the open group's start time if one is open. */
export interface ReadState {
  read: Coord;
  /** Header time (ms) of the open group's first event; null when no group is open. */
  openSinceMs: number | null;
  /** Where the open group starts in the binlog; null when no group is open. */
  openStart: Coord | null;
  /** Whether the store writer holds transactions not yet committed (received, still open). */
  inFlight: boolean;
}

export class BinlogLag {
  private pending: Pending[] = [];
  private durableCoord: Coord | null = null;
  private serverEnd: Coord | null = null;
  private sizes = new Map<string, number>();
  private behindSince: number | null = null;
  private lastPoll = 0;
  private polling = false;

  /** A new session streams from `position` (what is durable now). */
  reset(position: string): void {
    this.pending = [];
    this.durableCoord = positionKind(position) === 'file' ? parseFilePos(position) : null;
    this.lastPoll = 0;
    this.polling = false;
  }

  /** A transaction (or a group with nothing watched) from `start` to `coord` was handed to the writer. */
  committed(resume: string, start: Coord, coord: Coord, commitMs: number): void {
    // A GTID position has no binlog coordinates: the first group read after it starts where durable data ends.
    this.durableCoord ??= start;
    this.pending.push({ resume, coord, commitMs });
  }

  /** The store reports `durable` written. */
  written(durable: string): void {
    const i = this.pending.findIndex((p) => p.resume === durable);
    if (i < 0) return;
    this.durableCoord = this.pending[i].coord;
    this.pending.splice(0, i + 1);
  }

  /** Reads the server's binlog end (and file sizes when the lag spans files), at most every LAG_POLL_MS. */
  poll(meta: Conn, facts: ServerFacts, state: () => ReadState): void {
    if (this.polling || Date.now() - this.lastPoll < LAG_POLL_MS) return;
    this.polling = true;
    this.lastPoll = Date.now();
    const read = async () => {
      const end = await binlogEnd(meta, facts);
      const from = this.from(state());
      if (end && from && from.file !== end.file && (!this.sizes.has(from.file) || this.serverEnd?.file !== end.file)) {
        this.sizes = await binlogSizes(meta);
      }
      this.serverEnd = end;
      const bytes = this.measure(state()).bytes;
      if (bytes === 0) this.behindSince = null;
      else if (bytes !== null && this.behindSince === null) this.behindSince = Date.now();
    };
    read().then(
      () => (this.polling = false),
      () => {
        // Unknown until the next read; capture goes on (reading the binlog end needs REPLICATION CLIENT).
        this.serverEnd = null;
        this.polling = false;
      },
    );
  }

  private from(s: ReadState): Coord | null {
    const caughtUp = s.openSinceMs === null && this.pending.length === 0 && !s.inFlight;
    return caughtUp ? s.read : (this.durableCoord ?? s.openStart);
  }

  /** Bytes and seconds behind the server's end; null where not known (not read yet, or not readable). */
  measure(s: ReadState): { bytes: number | null; seconds: number | null } {
    const from = this.from(s);
    if (!this.serverEnd || !from) return { bytes: null, seconds: null };
    const bytes = binlogDistance(from, this.serverEnd, this.sizes);
    if (bytes === null) return { bytes: null, seconds: null };
    if (bytes === 0) return { bytes, seconds: 0 };
    const oldest = this.pending[0]?.commitMs ?? s.openSinceMs ?? this.behindSince ?? Date.now();
    return { bytes, seconds: Math.max(0, (Date.now() - oldest) / 1000) };
  }
}
