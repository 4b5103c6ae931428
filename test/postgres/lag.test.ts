/** Lag against the server's position (pure LagTracker): what /healthz and /metrics report per source. */
import { describe, expect, it } from 'vitest';
import { LagTracker } from '../../src/sources/postgres/postgres-lag.js';

const T0 = Date.parse('2026-11-29T10:00:00Z');

describe('LagTracker', () => {
  it('is unknown before the server position is known, and 0 once caught up however old the last commit is', () => {
    const lag = new LagTracker();
    expect(lag.bytes(null)).toBeNull();
    expect(lag.seconds(null, T0)).toBeNull();
    lag.received('0/100', '2026-11-29T09:00:00Z');
    lag.serverAt('0/100', T0);
    lag.durable('0/100');
    expect(lag.bytes('0/100')).toBe(0);
    // An hour after the last commit, nothing is behind: 0, not 3600.
    expect(lag.seconds('0/100', T0 + 3_600_000)).toBe(0);
  });

  it('counts the age of the oldest received transaction not yet durable, by its commit time', () => {
    const lag = new LagTracker();
    lag.serverAt('0/300', T0 + 3_000);
    lag.received('0/200', '2026-11-29T10:00:01Z');
    lag.received('0/300', '2026-11-29T10:00:02Z');
    lag.durable('0/100');
    expect(lag.bytes('0/100')).toBe(0x200);
    expect(lag.seconds('0/100', T0 + 10_000)).toBe(9);
    lag.durable('0/200');
    expect(lag.seconds('0/200', T0 + 10_000)).toBe(8);
    lag.durable('0/300');
    expect(lag.seconds('0/300', T0 + 10_000)).toBe(0);
    expect(lag.bytes('0/300')).toBe(0);
  });

  it('counts WAL the stream has not reached from when the server was first seen holding it', () => {
    const lag = new LagTracker();
    lag.serverAt('0/100', T0);
    lag.durable('0/100');
    lag.serverAt('1/0', T0 + 1_000);
    lag.serverAt('1/80', T0 + 6_000);
    expect(lag.bytes('0/100')).toBe(0x1_0000_0080 - 0x100);
    expect(lag.seconds('0/100', T0 + 11_000)).toBe(10);
    // The WAL sender read past 1/0 and nothing of it was ours (a keepalive while nothing was in flight).
    lag.pass('1/0');
    expect(lag.seconds('0/100', T0 + 11_000)).toBe(5);
    lag.pass('1/80');
    expect(lag.seconds('0/100', T0 + 11_000)).toBe(0);
  });

  it('does not let a keepalive clear a received transaction that is not durable yet', () => {
    const lag = new LagTracker();
    lag.serverAt('0/200', T0);
    lag.received('0/200', '2026-11-29T10:00:00Z');
    lag.pass('0/200');
    expect(lag.seconds('0/100', T0 + 4_000)).toBe(4);
  });
});
