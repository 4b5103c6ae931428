/** /healthz's verdict and /metrics' health and attribution series (pure cores: state in, verdict/text out). */
import { describe, expect, it } from 'vitest';
import { assessHealth, createMetrics, type SourceMetrics } from '../../src/http/index.js';

/** The exposition text of a registry reading these sources. */
const renderMetrics = (sources: SourceMetrics[]) => createMetrics({ sources: () => sources }).registry.metrics();
import type { SourceHealth } from '../../src/sources/source.js';

const NOW = Date.parse('2026-11-26T10:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();
const streaming: SourceHealth = {
  state: 'streaming',
  connectedSince: ago(3600),
  lastMessageAt: ago(5),
  reconnects: 2,
  lagBytes: 0,
  lagSeconds: 0,
  retainedBytes: 0,
  lastError: null,
};

describe('health verdict', () => {
  it('is healthy while every source streams, and reports each source in full', () => {
    const r = assessHealth([{ name: 'a', health: streaming }], NOW);
    expect(r.healthy).toBe(true);
    expect(r.sources.a).toEqual({ ...streaming, healthy: true, problems: [] });
  });

  it.each([
    ['connecting', { ...streaming, state: 'connecting', connectedSince: null }, /^connecting$/],
    ['reconnecting', { ...streaming, state: 'reconnecting', lastError: 'connection refused' }, /^reconnecting: connection refused$/],
    ['failed', { ...streaming, state: 'failed', lastError: 'slot missing' }, /^failed: slot missing$/],
    ['silent', { ...streaming, lastMessageAt: ago(121) }, /nothing received from the server for 121 s \(bound 120 s\)/],
    ['behind', { ...streaming, lagSeconds: 301, lagBytes: 5e9 }, /301 s behind the server \(bound 300 s\)/],
  ] as [string, SourceHealth, RegExp][])('is unhealthy when a source is %s', (_, h, why) => {
    const r = assessHealth([{ name: 'ok', health: streaming }, { name: 'bad', health: h }], NOW);
    expect(r.healthy).toBe(false);
    expect(r.sources.ok.healthy).toBe(true);
    expect(r.sources.bad.healthy).toBe(false);
    expect(r.sources.bad.problems.join('; ')).toMatch(why);
  });

  it('says unknown for a source that cannot report health, without failing on it', () => {
    const r = assessHealth([{ name: 'a', health: null }], NOW);
    expect(r.sources.a.state).toBe('unknown');
    expect(r.healthy).toBe(true);
  });
});

function metrics(over: Partial<SourceMetrics>): SourceMetrics {
  return {
    name: 'shop',
    kind: 'mysql',
    stats: { changes: 10, transactions: 164, position: null, lagSeconds: 613 },
    identity: { attributed: 144, exact: 0, inferred: 144, unknown: 20, preciseMissing: 0 },
    health: null,
    ...over,
  };
}

describe('metrics', () => {
  it('reports attribution per confidence: inferred MariaDB attribution does not read 0', async () => {
    const text = await renderMetrics([metrics({})]);
    expect(text).toContain('rowtrail_attribution_ratio{source="shop",kind="mysql",confidence="exact"} 0\n');
    expect(text).toContain(`rowtrail_attribution_ratio{source="shop",kind="mysql",confidence="inferred"} ${144 / 164}\n`);
    expect(text).toContain(`rowtrail_attribution_ratio{source="shop",kind="mysql",confidence="unknown"} ${20 / 164}\n`);
  });

  it("takes lag from the source's health (the server's position), never from the last commit", async () => {
    const idle = await renderMetrics([metrics({ health: { ...streaming, lagBytes: 0, lagSeconds: 0 } })]);
    expect(idle).toContain('rowtrail_lag_seconds{source="shop",kind="mysql"} 0\n');
    expect(idle).toContain('rowtrail_lag_bytes{source="shop",kind="mysql"} 0\n');
    expect(idle).toContain('rowtrail_source_connected{source="shop",kind="mysql"} 1\n');
    expect(idle).toContain('rowtrail_source_reconnects_total{source="shop",kind="mysql"} 2\n');
    const down = await renderMetrics([metrics({ health: { ...streaming, state: 'reconnecting', lagBytes: 4096, lagSeconds: 12 } })]);
    expect(down).toContain('rowtrail_source_connected{source="shop",kind="mysql"} 0\n');
    expect(down).toContain('rowtrail_lag_bytes{source="shop",kind="mysql"} 4096\n');
    // Unknown health: no lag series at all rather than a made-up one.
    expect(await renderMetrics([metrics({})])).not.toMatch(/^rowtrail_lag_seconds\{/m);
  });
});
