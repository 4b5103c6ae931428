/**
 * The source's lifecycle under faults: a stop while connecting ends promptly, a daemon stopped with
 * SIGTERM exits (no connection or timer left behind), two sources with one server id end with a clear
 * fatal error instead of kicking each other forever, error 1236 is told apart by its cause, and health
 * reads the lag against the server's binlog end (0 on an idle caught-up server).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, spawnCli } from '../harness/cli.js';
import { silentLogger } from '../../src/log/index.js';
import { unknownResolver } from '../../src/identity/resolver.js';
import { Store } from '../../src/store/index.js';
import { MysqlSource } from '../../src/sources/mysql/index.js';
import { binlogReadError } from '../../src/sources/mysql/mysql-client.js';
import { RowtrailError } from '../../src/errors.js';
import { cleanup, client, gtidPos, mariadbForFile, recordingLogger, runSource, sourceConfig } from './helpers.js';

const settle = <T>(p: Promise<T>) => p.then(() => null, (e) => e);

describe('stop while connecting', () => {
  it('ends run() and closes the socket when the server accepts but never answers', async () => {
    const sockets: Socket[] = [];
    const closed: Promise<void>[] = [];
    const silent = createServer((s) => {
      sockets.push(s);
      closed.push(new Promise((r) => s.on('close', () => r())));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'rowtrail-mysql-silent-'));
    const store = Store.open(dir, { synchronous: 'NORMAL' });
    const url = `mysql://root@127.0.0.1:${port}/test`;
    const root = sourceConfig(url);
    const source = new MysqlSource({ config: root.sources[0], root, store, log: silentLogger, identity: unknownResolver, url });
    const ac = new AbortController();
    const done = source.run(ac.signal);
    while (sockets.length === 0) await new Promise((r) => setTimeout(r, 20));
    expect(source.health().state).toBe('connecting');
    ac.abort();
    // Without a prompt stop, run() waits for the 10 s connect timeout (and then a reconnect delay).
    const outcome = await Promise.race([done.then(() => 'ended'), new Promise((r) => setTimeout(() => r('still running'), 3000))]);
    expect(outcome).toBe('ended');
    await Promise.all(closed); // the half-open connection was closed, not left to time out
    expect(source.health().state).toBe('stopped');
    store.close();
    silent.close();
    cleanup(dir);
  });
});

describe('error 1236 by cause', () => {
  const info = { host: 'db', port: 3306, user: 'repl', database: 'shop', serverId: 4242 };
  // The server's own wording (MySQL sql/rpl_binlog_sender.cc, MariaDB sql/sql_repl.cc).
  it('only a purged or unknown position is POSITION_LOST; the others name their fix', () => {
    const purgedMysql = binlogReadError('Could not find first log file name in binary log index file', info, null);
    const purgedMaria = binlogReadError(
      'Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged.',
      info,
      null,
    );
    const purgedGtid = binlogReadError(
      'Cannot replicate because the source purged required binary logs. Replicate the missing transactions from elsewhere, or provision a new replica from backup.',
      info,
      null,
    );
    for (const e of [purgedMysql, purgedMaria, purgedGtid]) {
      expect(e.code).toBe('POSITION_LOST');
      expect(e.message).toContain('reset this source');
    }
    const sameId = binlogReadError(
      "A slave with the same server_uuid/server_id as this slave has connected to the master; the first event 'binlog.000001' at 4, the last event read from 'binlog.000001' at 126, the last byte read from 'binlog.000001' at 126.",
      info,
      null,
    );
    expect(sameId.code).toBe('CONFIG');
    expect(sameId.fatal).toBe(true);
    expect(sameId.message).toContain('serverId 4242');
    expect(sameId.message).not.toContain('reset');
    const big = binlogReadError('log event entry exceeded max_allowed_packet; Increase max_allowed_packet on master', info, null);
    expect(big.code).toBe('SERVER_SETTING');
    expect(big.message).toContain('SET GLOBAL max_allowed_packet');
    expect(big.message).not.toContain('reset');
    const other = binlogReadError('binlog truncated in the middle of event; consider out of disk space on master', info, null);
    expect(other.code).toBe('CONNECT');
    expect(other.fatal).toBe(false);
    expect(other.message).not.toContain('reset');
  });
});

describe('MariaDB lifecycle', () => {
  const srv = mariadbForFile();

  it('two sources with one server id: the displaced one stops with a fatal error naming serverId, the other captures on', async () => {
    await srv.c.query('CREATE TABLE twin (id INT PRIMARY KEY)');
    const start = await gtidPos(srv.c);
    const first = await runSource(srv.m.url('test'), { startPosition: start, backoffMs: 50, extra: { serverId: 777 } });
    const second = await runSource(srv.m.url('test'), { startPosition: start, backoffMs: 50, extra: { serverId: 777 } });
    try {
      const err = await settle(first.done);
      expect(err).toBeInstanceOf(RowtrailError);
      expect(err.code).toBe('CONFIG');
      expect(err.message).toContain('serverId 777');
      expect(first.source.health().state).toBe('failed');
      await srv.c.query('INSERT INTO twin VALUES (1)');
      const ev = await second.waitFor((e) => e.some((x) => x.table === 'twin'));
      expect(ev.filter((x) => x.table === 'twin').map((x) => x.key)).toEqual([{ id: '1' }]);
      expect(second.source.health().state).toBe('streaming');
    } finally {
      await first.stop();
      await second.stop();
      cleanup(first.dir);
      cleanup(second.dir);
    }
  }, 60_000);

  it('health: lag 0 on an idle caught-up server however old the last commit; reconnects and the resume line after a restart', async () => {
    await srv.c.query('CREATE TABLE idle (id INT PRIMARY KEY)');
    const start = await gtidPos(srv.c);
    const log = recordingLogger();
    const run = await runSource(srv.m.url('test'), { startPosition: start, backoffMs: 100, heartbeatSeconds: 1, log });
    try {
      await srv.c.query('INSERT INTO idle VALUES (1)');
      await run.waitFor((e) => e.some((x) => x.table === 'idle'));
      // Let the last commit age past a few lag readings: lag stays 0 (now minus the last commit would be > 4 s).
      await new Promise((r) => setTimeout(r, 4500));
      const h = run.source.health();
      expect(h).toMatchObject({ state: 'streaming', lagBytes: 0, lagSeconds: 0, reconnects: 0, lastError: null });
      expect(Date.parse(h.lastMessageAt!)).toBeGreaterThan(Date.now() - 3000); // heartbeats count as messages
      expect(run.source.stats().lagSeconds).toBe(0);

      await srv.c.end();
      await srv.m.stop();
      for (let i = 0; run.source.health().state !== 'reconnecting'; i++) {
        if (i > 300) throw new Error(`never reconnecting: ${JSON.stringify(run.source.health())}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(run.source.health().lastError).toBeTruthy();
      await srv.m.start();
      srv.c = await client(srv.m);
      await srv.c.query('INSERT INTO idle VALUES (2)');
      await run.waitFor((e) => e.filter((x) => x.table === 'idle').length === 2, 60_000);
      const after = run.source.health();
      expect(after.state).toBe('streaming');
      expect(after.reconnects).toBeGreaterThanOrEqual(1);
      expect(log.infos.some((l) => /^binlog stream resumed at \d+-\d+-\d+/.test(l))).toBe(true);
    } finally {
      await run.stop();
      cleanup(run.dir);
    }
  }, 120_000);

  it('CREATE TABLE … SELECT: the DDL and its rows are one transaction with the GTID as id', async () => {
    await srv.c.query('CREATE TABLE ctas_src (id INT PRIMARY KEY, v VARCHAR(10))');
    await srv.c.query(`INSERT INTO ctas_src VALUES (1, 'a'), (2, 'b')`);
    const start = await gtidPos(srv.c);
    const run = await runSource(srv.m.url('test'), { startPosition: start });
    try {
      await srv.c.query('CREATE TABLE ctas (PRIMARY KEY (id)) SELECT * FROM ctas_src');
      const gtid = await gtidPos(srv.c);
      const ev = (await run.waitFor((e) => e.filter((x) => x.table === 'ctas').length >= 3)).filter((x) => x.table === 'ctas');
      expect(ev.map((x) => x.op)).toEqual(['ddl', 'insert', 'insert']);
      expect(new Set(ev.map((x) => x.tx.id))).toEqual(new Set([gtid]));
      expect(ev.map((x) => x.tx.size)).toEqual([3, 3, 3]);
      expect(ev.slice(1).map((x) => x.after)).toEqual([
        { id: '1', v: 'a' },
        { id: '2', v: 'b' },
      ]);
      expect(run.store.position('shop')).toBe(gtid);
    } finally {
      await run.stop();
      cleanup(run.dir);
    }
  });

  it('a watch daemon stopped with SIGTERM exits (no connection or timer keeps it alive)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rowtrail-mysql-term-'));
    const config = join(dir, 'rowtrail.yaml');
    writeFileSync(config, `sources:\n  - name: shop\n    kind: mysql\n    url: ${srv.m.url('test')}\nstore:\n  path: ${join(dir, 'data')}\n`);
    const daemon = spawnCli(['watch', '--config', config]);
    try {
      for (let i = 0; !/streaming changes/.test(daemon.output()); i++) {
        if (i > 600 || daemon.exitCode !== null) throw new Error(`watch did not start: ${daemon.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await srv.c.query('CREATE TABLE term (id INT PRIMARY KEY)');
      await srv.c.query('INSERT INTO term VALUES (1)');
      // Past a heartbeat (5 s): the dump thread then waits for binlog updates and no longer reads the socket.
      await new Promise((r) => setTimeout(r, 6000));
      daemon.kill('SIGTERM');
      const code = await Promise.race([exited(daemon), new Promise((r) => setTimeout(() => r('alive'), 8000))]);
      expect(code, daemon.output()).toBe(0);
    } finally {
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
      cleanup(dir);
    }
  }, 60_000);
});
