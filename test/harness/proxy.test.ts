/** The fault proxy against a real TCP echo server: each mode does what fault tests rely on. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { startProxy } from './proxy.js';

let echo: Server;
let echoPort = 0;
/** The echo server's side of each connection. */
const serverSide = new Set<Socket>();

beforeAll(async () => {
  echo = createServer((s) => {
    serverSide.add(s);
    s.on('close', () => serverSide.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => echo.close(() => r())));

interface Client {
  sock: Socket;
  received(): string;
  closed(): boolean;
  error(): string | null;
}

function client(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    let data = '';
    let closed = false;
    let err: string | null = null;
    const sock = connect(port, '127.0.0.1');
    sock.on('data', (d) => (data += d));
    sock.on('close', () => (closed = true));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      err = e.code ?? e.message;
      reject(e);
    });
    sock.on('connect', () => resolve({ sock, received: () => data, closed: () => closed, error: () => err }));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('fault proxy', () => {
  it('passes data both ways and rewrites URLs to itself', async () => {
    const p = await startProxy(echoPort);
    try {
      const c = await client(p.port);
      c.sock.write('hello');
      await until(() => c.received() === 'hello', 'echo');
      expect(p.rewrite(`postgres://u@127.0.0.1:${echoPort}/db?x=1`)).toBe(`postgres://u@127.0.0.1:${p.port}/db?x=1`);
      expect(p.accepted).toBe(1);
      c.sock.destroy();
    } finally {
      await p.close();
    }
  });

  it('delay holds data back by the given time, in order', async () => {
    const p = await startProxy(echoPort);
    try {
      await p.set({ kind: 'delay', ms: 300 });
      const c = await client(p.port);
      c.sock.write('a');
      c.sock.write('b');
      await sleep(100);
      expect(c.received()).toBe(''); // one way alone takes 300 ms
      await until(() => c.received() === 'ab', 'delayed echo');
      c.sock.destroy();
    } finally {
      await p.close();
    }
  });

  it('blackhole drops data and keeps sockets open; those connections stay dead, new ones pass', async () => {
    const p = await startProxy(echoPort);
    try {
      const old = await client(p.port);
      old.sock.write('1');
      await until(() => old.received() === '1', 'first echo');
      await p.set({ kind: 'blackhole' });
      old.sock.write('2');
      const during = await client(p.port);
      during.sock.write('x');
      await sleep(300);
      expect(old.received()).toBe('1');
      expect(during.received()).toBe('');
      expect(old.closed()).toBe(false);
      expect(during.closed()).toBe(false);
      // the server ending its side does not cross the partition either
      for (const s of serverSide) s.destroy();
      await sleep(200);
      expect(old.closed()).toBe(false);
      await p.set({ kind: 'pass' });
      old.sock.write('3');
      const after = await client(p.port);
      after.sock.write('ok');
      await until(() => after.received() === 'ok', 'echo after the blackhole');
      expect(old.received()).toBe('1');
      expect(old.closed()).toBe(false);
      for (const c of [old, during, after]) c.sock.destroy();
    } finally {
      await p.close();
    }
  });

  it('reset ends every open connection, then passes new ones', async () => {
    const p = await startProxy(echoPort);
    try {
      const a = await client(p.port);
      const b = await client(p.port);
      await until(() => p.open === 2, 'two connections');
      await p.set({ kind: 'reset' });
      await until(() => a.closed() && b.closed(), 'both closed');
      expect(p.open).toBe(0);
      expect(p.mode).toBe('pass');
      const c = await client(p.port);
      c.sock.write('again');
      await until(() => c.received() === 'again', 'echo after reset');
      c.sock.destroy();
    } finally {
      await p.close();
    }
  });

  it('refuse closes the listener (ECONNREFUSED) and listens again on the same port afterwards', async () => {
    const p = await startProxy(echoPort);
    try {
      const a = await client(p.port);
      await p.set({ kind: 'refuse' });
      await until(() => a.closed(), 'open connection closed');
      await expect(client(p.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await p.set({ kind: 'pass' });
      const c = await client(p.port);
      c.sock.write('back');
      await until(() => c.received() === 'back', 'echo after refuse');
      c.sock.destroy();
    } finally {
      await p.close();
    }
  });
});
