/**
 * Every detector, registered in one place, and the validation of `detectors:` in rowtrail.yaml against each
 * detector's documented defaults (an unknown detector or option, or a value of the wrong type, is a config
 * error naming the key).
 */
import { RowtrailError } from '../src/errors.js';
import type { Severity } from '../src/model/index.js';
import { bulkTransaction } from './bulk-transaction.js';
import { captureHealth } from './capture-health.js';
import { destructiveOperation } from './destructive-operation.js';
import { firstSeen } from './first-seen.js';
import { offHours } from './off-hours.js';
import { sensitiveColumn } from './sensitive-column.js';
import { valuePattern } from './value-pattern.js';
import { volumeSpike } from './volume-spike.js';
import type { DetectorSpec } from './types.js';

/** How an alert of the detector ends: `condition` resolves by itself when activity returns to normal;
 * `event` (one transaction's damage) stays open until a person resolves it. */
export const DETECTORS: { spec: DetectorSpec<any>; resolves: 'condition' | 'event' }[] = [
  { spec: volumeSpike, resolves: 'condition' },
  { spec: bulkTransaction, resolves: 'event' },
  { spec: destructiveOperation, resolves: 'event' },
  { spec: firstSeen, resolves: 'event' },
  { spec: offHours, resolves: 'condition' },
  { spec: sensitiveColumn, resolves: 'event' },
  { spec: valuePattern, resolves: 'event' },
  { spec: captureHealth, resolves: 'condition' },
];

/** Options every detector takes besides its own. */
export interface CommonOptions {
  enabled: boolean;
  severity: Severity;
  /** Actor names (agent or user) whose activity this detector ignores. */
  excludeActors: string[];
  /** Tables (schema.table) this detector ignores. */
  excludeTables: string[];
}

const COMMON: Omit<CommonOptions, 'enabled' | 'severity'> = { excludeActors: [], excludeTables: [] };
const SEVERITIES = ['info', 'warning', 'critical'];

/** Resolves `detectors:` config into each detector's full options. */
export function detectorOptions(raw: Record<string, unknown>): Map<string, Record<string, unknown> & CommonOptions> {
  const known = DETECTORS.map((d) => d.spec.name);
  for (const name of Object.keys(raw)) {
    if (!known.includes(name)) throw new RowtrailError('CONFIG', `detectors.${name}: unknown detector (known: ${known.join(', ')})`);
  }
  const out = new Map<string, Record<string, unknown> & CommonOptions>();
  for (const { spec } of DETECTORS) {
    const defaults: Record<string, unknown> = { ...COMMON, ...spec.defaults };
    const given = raw[spec.name] ?? {};
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      throw new RowtrailError('CONFIG', `detectors.${spec.name}: must be a mapping of options (e.g. { enabled: false })`);
    }
    const opts: Record<string, unknown> = { ...defaults };
    for (const [k, v] of Object.entries(given)) {
      const where = `detectors.${spec.name}.${k}`;
      if (!(k in defaults)) throw new RowtrailError('CONFIG', `${where}: unknown option (known: ${Object.keys(defaults).join(', ')})`);
      const d = defaults[k];
      if (k === 'severity') {
        if (!SEVERITIES.includes(v as string)) throw new RowtrailError('CONFIG', `${where}: must be one of ${SEVERITIES.join(', ')}`);
      } else if (Array.isArray(d)) {
        const numbers = d.length > 0 && typeof d[0] === 'number';
        const okArr = Array.isArray(v) && v.every((x) => (numbers ? typeof x === 'number' && Number.isFinite(x) && x > 0 : typeof x === 'string'));
        if (!okArr) throw new RowtrailError('CONFIG', `${where}: must be a list of ${numbers ? 'positive numbers' : 'strings'}`);
      } else if (typeof d === 'number') {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RowtrailError('CONFIG', `${where}: must be a number ≥ 0`);
      } else if (typeof v !== typeof d) {
        throw new RowtrailError('CONFIG', `${where}: must be a ${typeof d}`);
      }
      opts[k] = v;
    }
    out.set(spec.name, opts as Record<string, unknown> & CommonOptions);
  }
  return out;
}
