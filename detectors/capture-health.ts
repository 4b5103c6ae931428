/**
 * capture-health: is rowtrail's own record complete and revertible? Four conditions per source, each one
 * alert that stays open while it lasts and resolves when it is healthy again:
 * - `lag`: the oldest change not yet durable in the store was committed more than `lagSeconds` ago;
 * - `retention`: the log rowtrail still needs is at risk of removal: PostgreSQL, the slot's WAL is about to be
 *   (or was) dropped (`wal_status` unreserved / lost, or `retentionFraction` of what max_slot_wal_keep_size
 *   allows is used) or it retains more than `retainedBytes` (disk); MySQL / MariaDB, the lag reached
 *   `retentionFraction` of the binlog retention (the file holding the oldest needed change was written at most
 *   lag seconds ago, so this is an upper bound of how close it is to expiry);
 * - `irreversible`: watched tables whose updates and deletes are logged without a full before image
 *   (PostgreSQL REPLICA IDENTITY DEFAULT / INDEX / NOTHING; binlog_row_image not FULL): undo cannot revert them;
 * - `attribution`: the share of transactions attributed to a session (exact or inferred) over the last
 *   `attributionWindowMinutes` fell `attributionDrop` below its share over the previous week.
 * The first three come from periodic `HealthSample`s (the daemon measures them: src/detection/capture-status.ts);
 * attribution is learned from the committed transactions, in commit time, so a replay counts nothing twice.
 * Pure: no I/O. A finding is emitted when a condition starts or gets worse (not on every sample), a resolution
 * when it ends; a measurement that is not known (null) decides nothing.
 */
import type { Severity } from '../src/model/index.js';
import { num } from './summary.js';
import type { DetectorSpec, DetectorUnit, Finding, HealthSample, Resolution, TxSummary } from './types.js';

export interface CaptureHealthOptions {
  enabled: boolean;
  severity: Severity;
  /** Lag (seconds) that alerts. Default 300 (the /healthz bound). */
  lagSeconds: number;
  /** Lag at which the alert is critical. Default 3600. */
  criticalLagSeconds: number;
  /** WAL a PostgreSQL slot may hold back before it alerts (bytes; disk usage). Default 5 GiB. */
  retainedBytes: number;
  /** Share of the server's log retention used up that alerts. Default 0.5. */
  retentionFraction: number;
  /** Share at which the retention alert is critical. Default 0.8. */
  criticalRetentionFraction: number;
  /** Alert on watched tables that cannot be reverted (no full before image). Default true. */
  irreversible: boolean;
  /** Drop of the attributed share (0–1, absolute) that alerts. Default 0.2. */
  attributionDrop: number;
  /** Transactions the recent window needs before it is judged (the week before needs 4×). Default 50. */
  attributionMinTransactions: number;
  /** The recent window (minutes). Default 60. */
  attributionWindowMinutes: number;
  /** The history it is compared with (hours). Default 168. */
  attributionHistoryHours: number;
}

const BUCKET_MS = 5 * 60_000;

interface Attribution {
  /** 5-minute bucket index → [attributed, total] transactions. */
  buckets: Map<number, [number, number]>;
  newest: number;
}

interface Problem {
  severity: Severity;
  /** What makes a new finding worth emitting (severity, the table list): not the changing numbers. */
  sig: string;
  title: string;
  summary: string;
  table: string | null;
  evidence: Finding['evidence'];
}

interface State {
  v: 1;
  active: [string, string][];
  attribution: [string, { newest: number; buckets: [number, number, number][] }][];
}

class CaptureHealth implements DetectorUnit {
  /** Open condition key → its signature. */
  private active = new Map<string, string>();
  private attribution = new Map<string, Attribution>();

  constructor(private readonly o: CaptureHealthOptions) {}

  observe(tx: TxSummary): Finding[] {
    if (!Number.isFinite(tx.commitMs)) return [];
    let a = this.attribution.get(tx.source);
    if (!a) this.attribution.set(tx.source, (a = { buckets: new Map(), newest: tx.commitMs }));
    const b = Math.floor(tx.commitMs / BUCKET_MS);
    let cell = a.buckets.get(b);
    if (!cell) {
      a.buckets.set(b, (cell = [0, 0]));
      const oldest = b - Math.ceil((this.o.attributionHistoryHours * 3_600_000) / BUCKET_MS) - 1;
      for (const k of a.buckets.keys()) if (k < oldest) a.buckets.delete(k);
    }
    if (tx.actor.confidence !== 'unknown') cell[0]++;
    cell[1]++;
    a.newest = Math.max(a.newest, tx.commitMs);
    return [];
  }

  /** Attribution is judged as time passes, on each source's newest commit time (replays and catch-up alike). */
  tick(): { findings: Finding[]; resolutions: Resolution[] } {
    const out = { findings: [] as Finding[], resolutions: [] as Resolution[] };
    for (const [source, a] of this.attribution) this.decide(out, source, 'attribution', a.newest, this.attributionProblem(source, a));
    return out;
  }

  sample(s: HealthSample): { findings: Finding[]; resolutions: Resolution[] } {
    const out = { findings: [] as Finding[], resolutions: [] as Resolution[] };
    this.decide(out, s.source, 'lag', s.at, this.lagProblem(s));
    this.decide(out, s.source, 'retention', s.at, this.retentionProblem(s));
    if (this.o.irreversible) this.decide(out, s.source, 'irreversible', s.at, irreversibleProblem(s, this.o.severity));
    return out;
  }

  /** Emits a finding when the condition starts or changes substance, a resolution when it ends; undefined decides nothing. */
  private decide(out: { findings: Finding[]; resolutions: Resolution[] }, source: string, what: string, at: number, p: Problem | null | undefined): void {
    if (p === undefined) return;
    const key = `${source}|${what}`;
    const prev = this.active.get(key);
    if (p === null) {
      if (prev === undefined) return;
      this.active.delete(key);
      out.resolutions.push({ detector: 'capture-health', key, at });
      return;
    }
    const sig = `${p.severity}|${p.sig}`;
    if (prev === sig) return;
    this.active.set(key, sig);
    out.findings.push({
      detector: 'capture-health',
      key,
      severity: p.severity,
      title: p.title,
      summary: p.summary,
      source,
      table: p.table,
      actor: null,
      at,
      txIds: [],
      evidence: { ...p.evidence, condition: what },
    });
  }

  private lagProblem(s: HealthSample): Problem | null | undefined {
    const lag = s.lagSeconds;
    if (lag === null || !Number.isFinite(lag)) return undefined;
    if (lag <= this.o.lagSeconds) return null;
    const severity = lag >= this.o.criticalLagSeconds ? 'critical' : this.o.severity;
    const behind = s.lagBytes !== null ? ` (${bytes(s.lagBytes)} of log)` : '';
    return {
      severity,
      sig: '',
      title: `Capture of ${s.source} is ${duration(lag)} behind the server`,
      summary:
        `The oldest change of ${s.source} not yet stored by rowtrail was committed ${duration(lag)} ago${behind}; the bound is ` +
        `${duration(this.o.lagSeconds)}. Alerts and undo see those changes only once capture catches up, and the server keeps its log until then.`,
      table: null,
      evidence: { observed: Math.round(lag), expected: this.o.lagSeconds, lagBytes: s.lagBytes },
    };
  }

  private retentionProblem(s: HealthSample): Problem | null | undefined {
    const o = this.o;
    if (s.kind === 'mysql') {
      if (s.retentionSeconds === null || s.lagSeconds === null) return undefined;
      if (!(s.retentionSeconds > 0)) return null; // kept until purged by hand
      const used = s.lagSeconds / s.retentionSeconds;
      if (used < o.retentionFraction) return null;
      return {
        severity: used >= o.criticalRetentionFraction ? 'critical' : o.severity,
        sig: '',
        title: `Binlogs ${s.source} still needs expire in at most ${duration(Math.max(0, s.retentionSeconds - s.lagSeconds))}`,
        summary:
          `rowtrail is ${duration(s.lagSeconds)} behind on ${s.source} and the server keeps binlogs ${duration(s.retentionSeconds)}: ` +
          'once the binlog holding its position is purged, the changes in between are lost. Let capture catch up, or raise ' +
          'binlog_expire_logs_seconds.',
        table: null,
        evidence: { observed: Math.round(s.lagSeconds), expected: s.retentionSeconds, score: round(used) },
      };
    }
    if (s.retainedBytes === null && s.walStatus === null) return undefined;
    const retained = s.retainedBytes ?? 0;
    const used = s.safeBytes !== null ? retained / Math.max(1, retained + Math.max(0, s.safeBytes)) : null;
    const score = used === null ? undefined : round(used);
    const ev = { observed: retained, expected: o.retainedBytes, safeBytes: s.safeBytes, walStatus: s.walStatus, score };
    if (s.walStatus === 'lost') {
      return {
        severity: 'critical',
        sig: 'lost',
        title: `The replication slot of ${s.source} lost WAL: changes are missing`,
        summary:
          `PostgreSQL removed WAL the slot of ${s.source} still needed (wal_status lost): changes after the stored position are gone. ` +
          'Recreate the slot (rowtrail setup) and raise max_slot_wal_keep_size.',
        table: null,
        evidence: ev,
      };
    }
    const unreserved = s.walStatus === 'unreserved';
    const atLimit = used !== null && used >= o.retentionFraction;
    const disk = retained >= o.retainedBytes;
    if (!unreserved && !atLimit && !disk) return null;
    const critical = unreserved || (used !== null && used >= o.criticalRetentionFraction);
    const why = unreserved
      ? 'the server will remove WAL the slot still needs at the next checkpoint (wal_status unreserved)'
      : atLimit
        ? `it has used ${Math.round(used! * 100)}% of what max_slot_wal_keep_size lets it keep (${bytes(Math.max(0, s.safeBytes ?? 0))} left)`
        : `above the ${bytes(o.retainedBytes)} bound: the server's disk fills while capture is behind`;
    return {
      severity: critical ? 'critical' : o.severity,
      sig: critical ? 'critical' : '',
      title: `The replication slot of ${s.source} retains ${bytes(retained)} of WAL`,
      summary: `The slot of ${s.source} holds back ${bytes(retained)} of WAL; ${why}. Let capture catch up (rowtrail must be running and not lagging).`,
      table: null,
      evidence: ev,
    };
  }

  private attributionProblem(source: string, a: Attribution): Problem | null | undefined {
    const o = this.o;
    const newest = Math.floor(a.newest / BUCKET_MS);
    const from = newest - Math.max(1, Math.ceil((o.attributionWindowMinutes * 60_000) / BUCKET_MS)) + 1;
    const oldest = newest - Math.ceil((o.attributionHistoryHours * 3_600_000) / BUCKET_MS);
    let ra = 0;
    let rn = 0;
    let ba = 0;
    let bn = 0;
    for (const [k, [att, n]] of a.buckets) {
      if (k >= from) {
        ra += att;
        rn += n;
      } else if (k >= oldest) {
        ba += att;
        bn += n;
      }
    }
    if (rn < o.attributionMinTransactions || bn < 4 * o.attributionMinTransactions) return undefined;
    const recent = ra / rn;
    const usual = ba / bn;
    const open = this.active.has(`${source}|attribution`);
    // Hysteresis: an open alert resolves only once the share is back within half the drop.
    if (usual - recent < (open ? o.attributionDrop / 2 : o.attributionDrop)) return null;
    return {
      severity: o.severity,
      sig: '',
      title: `Attribution on ${source} dropped to ${pct(recent)} of transactions (usually ${pct(usual)})`,
      summary:
        `Over the last ${duration(o.attributionWindowMinutes * 60)}, rowtrail attributed ${num(ra)} of ${num(rn)} transactions of ${source} ` +
        `to a session (${pct(recent)}); over the week before, ${pct(usual)}. Check the identity sampler (pg_stat_activity / processlist ` +
        'access), the precise-mode triggers and agents tagging their SQL: unattributed changes show as actor unknown.',
      table: null,
      evidence: { observed: round(recent), expected: round(usual), score: round(usual - recent), transactions: rn },
    };
  }

  snapshot(): State {
    return {
      v: 1,
      active: [...this.active],
      attribution: [...this.attribution].map(([s, a]) => [s, { newest: a.newest, buckets: [...a.buckets].map(([k, [x, n]]) => [k, x, n]) }]),
    };
  }

  restore(state: unknown): boolean {
    const s = state as State;
    if (s?.v !== 1 || !Array.isArray(s.active) || !Array.isArray(s.attribution)) return false;
    try {
      const active = new Map(s.active.filter((e) => typeof e[0] === 'string' && typeof e[1] === 'string'));
      const attribution = new Map<string, Attribution>();
      for (const [src, a] of s.attribution) {
        if (typeof src !== 'string' || !Number.isFinite(a?.newest) || !Array.isArray(a.buckets)) return false;
        const buckets = new Map<number, [number, number]>();
        for (const [k, x, n] of a.buckets) if ([k, x, n].every(Number.isFinite)) buckets.set(k, [x, n]);
        attribution.set(src, { newest: a.newest, buckets });
      }
      this.active = active;
      this.attribution = attribution;
      return true;
    } catch {
      return false;
    }
  }
}

function irreversibleProblem(s: HealthSample, severity: Severity): Problem | null | undefined {
  if (s.irreversible === null) return undefined;
  if (s.irreversible.length === 0) return null;
  const tables = [...s.irreversible].sort((x, y) => x.table.localeCompare(y.table));
  const names = tables.map((t) => t.table);
  const shown = names.length > 8 ? `${names.slice(0, 8).join(', ')} and ${names.length - 8} more` : names.join(', ');
  const fix = s.kind === 'postgres' ? 'rowtrail setup --replica-identity full' : 'SET GLOBAL binlog_row_image=FULL (and in my.cnf)';
  const all = names.length === 1 && names[0] === '*';
  return {
    severity,
    sig: names.join(','),
    title: all
      ? `No table of ${s.source} can be reverted: ${tables[0].reason}`
      : `${names.length} table(s) of ${s.source} cannot be reverted (no full before image): ${shown}`,
    summary:
      `Updates and deletes on ${all ? `every table of ${s.source}` : shown} are logged without their old values ` +
      `(${[...new Set(tables.map((t) => t.reason))].join('; ')}): rowtrail records them, but undo cannot revert them. Fix: ${fix}.`,
    table: names.length === 1 && !all ? names[0] : null,
    evidence: { observed: names.length, expected: 0, tables: tables.slice(0, 50) },
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

export function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 360) / 10} h`;
  return `${Math.round(seconds / 8640) / 10} days`;
}

export function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export const captureHealth: DetectorSpec<Omit<CaptureHealthOptions, 'enabled' | 'severity'>> = {
  name: 'capture-health',
  description: 'replication lag, log retention at risk, tables undo cannot revert, attribution rate dropping',
  defaults: {
    enabled: true,
    severity: 'warning',
    lagSeconds: 300,
    criticalLagSeconds: 3600,
    retainedBytes: 5 * 1024 ** 3,
    retentionFraction: 0.5,
    criticalRetentionFraction: 0.8,
    irreversible: true,
    attributionDrop: 0.2,
    attributionMinTransactions: 50,
    attributionWindowMinutes: 60,
    attributionHistoryHours: 168,
  },
  create: (o) => new CaptureHealth(o),
};
