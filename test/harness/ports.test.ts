/** Server start-up survives another process taking its port between freePort() and the bind. */
import { describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { onFreePort, portTaken } from './ports.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

describe('ports', () => {
  it('starts again on a new port when the chosen one was taken in the meantime', async () => {
    const tried: number[] = [];
    let thief: Server | undefined;
    const ours = await onFreePort(async (port) => {
      tried.push(port);
      if (tried.length === 1) thief = await listen(port); // another process wins the race
      return listen(port);
    });
    try {
      expect(tried).toHaveLength(2);
      expect(tried[1]).not.toBe(tried[0]);
      expect((ours.address() as { port: number }).port).toBe(tried[1]);
      expect(await portTaken(tried[0])).toBe(true);
    } finally {
      await close(ours);
      if (thief) await close(thief);
    }
  });

  it('does not retry a failure that is not a taken port', async () => {
    let calls = 0;
    await expect(
      onFreePort(async () => {
        calls++;
        throw new Error('initdb failed');
      }),
    ).rejects.toThrow('initdb failed');
    expect(calls).toBe(1);
  });
});
