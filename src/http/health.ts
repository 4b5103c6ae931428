/**
 * What `/healthz` says (pure: source health in, verdict out). A source is healthy only while it streams and
 * is not stuck; the daemon is healthy when every source is. The bounds are deliberately far above the
 * sources' own liveness checks (PostgreSQL status/keepalive every 10 s, MySQL heartbeat), so a verdict of
 * "stuck" means capture really stopped, not a quiet database: a caught-up idle database keeps receiving
 * keepalives or heartbeats and reads lag 0.
 */
import type { SourceHealth } from '../sources/source.js';

export interface HealthBounds {
  /** Unhealthy when nothing (data, keepalive, heartbeat) arrived for longer than this. Default 120 s. */
  silentSeconds: number;
  /** Unhealthy when the oldest change not yet durable was committed longer ago than this. Default 300 s. */
  maxLagSeconds: number;
}

export const DEFAULT_HEALTH_BOUNDS: HealthBounds = { silentSeconds: 120, maxLagSeconds: 300 };

export interface SourceHealthReport extends Omit<SourceHealth, 'state'> {
  /** `unknown`: this source cannot report its health (it counts as healthy, since nothing says otherwise). */
  state: SourceHealth['state'] | 'unknown';
  healthy: boolean;
  /** Why it is unhealthy (empty when healthy). */
  problems: string[];
}

export interface HealthReport {
  healthy: boolean;
  sources: Record<string, SourceHealthReport>;
}

const UNKNOWN: SourceHealth = {
  state: 'connecting',
  connectedSince: null,
  lastMessageAt: null,
  reconnects: 0,
  lagBytes: null,
  lagSeconds: null,
  retainedBytes: null,
  lastError: null,
};

/** The verdict on each source and on the whole daemon at `nowMs`. */
export function assessHealth(
  sources: { name: string; health: SourceHealth | null }[],
  nowMs: number,
  bounds: HealthBounds = DEFAULT_HEALTH_BOUNDS,
): HealthReport {
  const out: Record<string, SourceHealthReport> = {};
  for (const s of sources) {
    if (!s.health) {
      out[s.name] = { ...UNKNOWN, state: 'unknown', healthy: true, problems: [] };
      continue;
    }
    const h = s.health;
    const problems: string[] = [];
    if (h.state !== 'streaming') problems.push(h.lastError ? `${h.state}: ${h.lastError}` : h.state);
    else {
      const last = h.lastMessageAt ? Date.parse(h.lastMessageAt) : NaN;
      const silent = Number.isNaN(last) ? null : (nowMs - last) / 1000;
      if (silent !== null && silent > bounds.silentSeconds) {
        problems.push(`nothing received from the server for ${Math.round(silent)} s (bound ${bounds.silentSeconds} s)`);
      }
      if (h.lagSeconds !== null && h.lagSeconds > bounds.maxLagSeconds) {
        problems.push(`${Math.round(h.lagSeconds)} s behind the server (bound ${bounds.maxLagSeconds} s)`);
      }
    }
    out[s.name] = { ...h, healthy: problems.length === 0, problems };
  }
  return { healthy: Object.values(out).every((s) => s.healthy), sources: out };
}
