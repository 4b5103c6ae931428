/**
 * The binlog dump: a mysql2 command of our own, as zongji does it, that hands each event's raw bytes to the
 * decoder instead of zongji's parsed objects (see docs/decisions.md, "MySQL source").
 */
import { EventEmitter } from 'node:events';
import { RowtrailError } from '../../errors.js';
import { classify, query, type Conn, type ConnInfo, type ServerFacts } from './mysql-client.js';
import { mysqlGtidState, parseFilePos, positionKind } from './mysql-position.js';

export interface DumpRequest {
  serverId: number;
  /** Shown by SHOW SLAVE HOSTS (COM_REGISTER_SLAVE), so doctor can tell rowtrail replicas apart. */
  hostname: string;
  mariadb: boolean;
  /** MariaDB: sent as @slave_connect_state beforehand. MySQL: COM_BINLOG_DUMP_GTID with this encoded set. */
  gtidSet?: Buffer;
  file?: string;
  pos?: number;
  /** MariaDB: ask for ANNOTATE_ROWS events. */
  annotate: boolean;
  /** MariaDB: the GTID position to start after (sent as @slave_connect_state). */
  mariadbState?: string;
}

/** The dump request that starts after the stored `position` (MariaDB GTID position, MySQL GTID set or file:pos). */
export function dumpRequest(serverId: number, hostname: string, mariadb: boolean, position: string): DumpRequest {
  const kind = positionKind(position);
  const req: DumpRequest = { serverId, hostname, mariadb, annotate: true };
  if (kind === 'mysql-gtid') req.gtidSet = mysqlGtidState(position).encode();
  else if (kind === 'file') Object.assign(req, parseFilePos(position));
  else req.mariadbState = position;
  return req;
}

/** An error of the running dump: denied on COM_REGISTER_SLAVE / COM_BINLOG_DUMP though logged in = a missing privilege. */
export function dumpError(e: unknown, info: ConnInfo): RowtrailError {
  const err = e as { errno?: number; sqlMessage?: string; message?: string };
  if (err?.errno === 1045 || err?.errno === 1227) {
    const msg = `${info.user} may not read the binlog (${err.sqlMessage ?? err.message})`;
    return new RowtrailError('PERMISSION', `${msg}; GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${info.user}'@'%'`, e);
  }
  return classify(e, info);
}

class Out {
  buffer: Buffer;
  offset = 4;
  constructor(len: number) {
    this.buffer = Buffer.alloc(len + 4);
  }
  length() {
    return this.buffer.length;
  }
  writeHeader(seq: number) {
    this.buffer.writeUIntLE(this.buffer.length - 4, 0, 3);
    this.buffer[3] = seq;
  }
}

/**
 * A mysql2 command that sends COM_BINLOG_DUMP (or _GTID) and then receives events until the connection
 * ends. Emits `event(buf, start, end)` with each event's bytes (header included), `error`, `end`.
 */
export class DumpCommand extends EventEmitter {
  next: ((packet: any, conn: any) => any) | null = null;
  private readonly req: DumpRequest;

  constructor(req: DumpRequest) {
    super();
    this.req = req;
  }

  // mysql2 calls execute(packet, connection) for the command at the head of its queue.
  execute(packet: any, connection: any): boolean {
    if (!this.next) {
      this.next = this.start;
      connection._resetSequenceId();
    }
    if (packet?.isError()) {
      this.emit('error', packet.asError(connection.clientEncoding));
      return true;
    }
    this.next = this.next!(packet, connection);
    if (this.next) return false;
    this.emit('end');
    return true;
  }

  private start(_packet: any, connection: any) {
    // COM_REGISTER_SLAVE first: the server lists us (and our server id) in SHOW SLAVE HOSTS.
    const host = Buffer.from(this.req.hostname.slice(0, 60), 'utf8');
    const reg = new Out(1 + 4 + 1 + host.length + 1 + 1 + 2 + 4 + 4);
    const b = reg.buffer;
    let o = 4;
    b[o++] = 0x15;
    b.writeUInt32LE(this.req.serverId, o);
    o += 4;
    b[o++] = host.length;
    host.copy(b, o);
    o += host.length;
    b[o++] = 0; // user
    b[o++] = 0; // password
    b.writeUInt16LE(0, o); // port
    connection.writePacket(reg);
    return this.registered;
  }

  private registered(_packet: any, connection: any) {
    // OK packet for the registration (errors are handled in execute()).
    connection._resetSequenceId();
    const r = this.req;
    let out: Out;
    // Flags: BINLOG_SEND_ANNOTATE_ROWS_EVENT (2) on MariaDB only; on MySQL bit 2 means something else.
    const flags = r.mariadb && r.annotate ? 2 : 0;
    if (r.gtidSet && !r.mariadb) {
      const set = r.gtidSet;
      out = new Out(1 + 2 + 4 + 4 + 8 + 4 + set.length);
      const b = out.buffer;
      let o = 4;
      b[o++] = 0x1e;
      b.writeUInt16LE(flags, o);
      o += 2;
      b.writeUInt32LE(r.serverId, o);
      o += 4;
      b.writeUInt32LE(0, o); // no file name
      o += 4;
      b.writeBigUInt64LE(4n, o);
      o += 8;
      b.writeUInt32LE(set.length, o);
      o += 4;
      set.copy(b, o);
    } else {
      const name = Buffer.from(r.file ?? '', 'utf8');
      out = new Out(1 + 4 + 2 + 4 + name.length);
      const b = out.buffer;
      b[4] = 0x12;
      b.writeUInt32LE(r.pos ?? 4, 5);
      b.writeUInt16LE(flags, 9);
      b.writeUInt32LE(r.serverId, 11);
      name.copy(b, 15);
    }
    connection.writePacket(out);
    return this.data;
  }

  private data(packet: any, _connection: any) {
    if (packet.isEOF()) return null;
    // Payload: 0x00 (OK marker), then the event.
    this.emit('event', packet.buffer as Buffer, packet.offset + 1, packet.end as number);
    return this.data;
  }
}

/** Sets the session variables a binlog client must send, then starts the dump on `conn`. */
export async function startDump(conn: Conn, facts: ServerFacts, req: DumpRequest, heartbeatSeconds: number): Promise<DumpCommand> {
  // Announce checksum support, or the server refuses to stream a CRC32 binlog.
  await query(conn, 'SET @master_binlog_checksum = @@GLOBAL.binlog_checksum');
  await query(conn, `SET @master_heartbeat_period = ${Math.round(heartbeatSeconds * 1e9)}`);
  if (facts.mariadb) {
    // Capability 4 = understands GTID events (else the server rewrites them as BEGIN queries).
    await query(conn, 'SET @mariadb_slave_capability = 4');
    if (req.mariadbState !== undefined) await query(conn, 'SET @slave_connect_state = ?', [req.mariadbState]);
  }
  const cmd = new DumpCommand(req);
  (conn as any).addCommand(cmd);
  return cmd;
}
