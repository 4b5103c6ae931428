/** Which channels an alert goes to (pure): severity at least the channel's minimum, and every given filter matching. */
import type { Alert, Severity } from '../model/index.js';
import { glob } from '../identity/rules.js';
import type { Channel, Routing } from './alerts-config.js';

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export function matches(r: Routing, a: Alert): boolean {
  if (RANK[a.severity] < RANK[r.minSeverity]) return false;
  if (r.detectors && !r.detectors.includes(a.detector)) return false;
  if (r.sources && !r.sources.includes(a.source)) return false;
  if (r.tables && !(a.table && r.tables.some((t) => glob(t, a.table!)))) return false;
  return true;
}

/** The names of the channels that get this alert, in config order. */
export function routeAlert(channels: readonly Channel[], a: Alert): string[] {
  return channels.filter((c) => matches(c.routing, a)).map((c) => c.name);
}
