/**
 * `npm run eval:detectors`: runs every detector over simulated weeks of labelled activity
 * (bench/detectors/simulate.ts) and prints recall per incident kind and magnitude, precision over alert
 * groups, false alarms per simulated day and time to detect — on held-out seeds (101–105) unless `--seeds`
 * names others (1–3 were used for tuning).
 *
 * Scoring: an alarm is a raised alert of severity warning or critical (info alerts are listed apart); it
 * detects an incident when it names the incident's actor (and its table, where the alert has one, for the
 * incidents about one table: not for a spike, drift or silence of the writer's whole rate) and is raised
 * between the incident's start and an hour after its end. Alarms of one actor less than 30 minutes
 * apart form one alert group; a group is true when one of its alarms detects an incident.
 */
import { DetectorEngine } from '../../detectors/index.js';
import { simulate, type Incident } from './simulate.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const seeds = arg('--seeds', '101,102,103,104,105').split(',').map(Number);
const weeks = Number(arg('--weeks', '4'));

interface Alarm {
  at: number;
  actor: string;
  table: string | null;
  detector: string;
  severity: string;
  title: string;
}

const perKind = new Map<string, { total: number; hit: number; ttd: number[]; gross: boolean }>();
let groups = 0;
let trueGroups = 0;
let infos = 0;
let evalDays = 0;
const misses: string[] = [];
const falseAlarms: string[] = [];
let txCount = 0;
const t0 = Date.now();

for (const seed of seeds) {
  const sim = simulate(seed, weeks);
  txCount += sim.txs.length;
  const engine = new DetectorEngine({}, { tableRows: (_s, t) => sim.tableRows.get(t) ?? null });
  const alarms: Alarm[] = [];
  let nextTick = 0;
  let seq = 0;
  const collect = (changes: ReturnType<DetectorEngine['process']>) => {
    for (const c of changes) {
      if (c.type !== 'raised') continue;
      const at = Date.parse(c.alert.window.from);
      if (at < sim.evalStart) continue;
      if (c.alert.severity === 'info') {
        infos++;
        continue;
      }
      alarms.push({ at, actor: c.alert.actor?.agent ?? c.alert.actor?.user ?? 'unknown', table: c.alert.table, detector: c.alert.detector, severity: c.alert.severity, title: c.alert.title });
    }
  };
  for (const tx of sim.txs) {
    while (tx.commitMs >= nextTick) {
      if (nextTick) collect(engine.tick(nextTick));
      nextTick = (Math.floor(tx.commitMs / 60_000) + 1) * 60_000;
    }
    collect(engine.process(tx, ++seq));
  }
  for (let t = nextTick; t <= sim.end; t += 60_000) collect(engine.tick(t));
  evalDays += (sim.end - sim.evalStart) / 86_400_000;

  // A spike, a drift or a silence changes the writer's whole rate (every table it writes): an alarm naming the
  // writer detects it on any of its tables; the other incidents are about one table.
  const writerWide = (i: Incident) => i.kind === 'spike' || i.kind === 'slow-drift' || i.kind === 'service-silent';
  const detects = (a: Alarm, i: Incident) =>
    a.actor === i.actor && (a.table === null || a.table === i.table || writerWide(i)) && a.at >= i.start - 60_000 && a.at <= i.end + 3_600_000;
  for (const i of sim.incidents) {
    const key = `${i.kind} ${i.magnitude}`;
    const k = perKind.get(key) ?? { total: 0, hit: 0, ttd: [], gross: i.gross };
    perKind.set(key, k);
    k.total++;
    const first = alarms.filter((a) => detects(a, i)).sort((a, b) => a.at - b.at)[0];
    if (first) {
      k.hit++;
      k.ttd.push(Math.max(0, first.at - i.start) / 60_000);
    } else misses.push(`seed ${seed}: ${key} by ${i.actor} on ${i.table} at ${new Date(i.start).toISOString()}`);
  }
  alarms.sort((a, b) => a.at - b.at);
  const lastOf = new Map<string, { at: number; isTrue: boolean; first: Alarm }>();
  const closeGroup = (g: { isTrue: boolean; first: Alarm }) => {
    groups++;
    if (g.isTrue) trueGroups++;
    else falseAlarms.push(`seed ${seed}: ${g.first.detector} ${g.first.severity} ${new Date(g.first.at).toISOString()} ${g.first.title}`);
  };
  for (const a of alarms) {
    const isTrue = sim.incidents.some((i) => detects(a, i));
    const g = lastOf.get(a.actor);
    if (g && a.at - g.at < 30 * 60_000) {
      g.at = a.at;
      g.isTrue ||= isTrue;
    } else {
      if (g) closeGroup(g);
      lastOf.set(a.actor, { at: a.at, isTrue, first: a });
    }
  }
  for (const g of lastOf.values()) closeGroup(g);
}

const q = (a: number[], p: number) => (a.length ? [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))] : NaN);
console.log(`seeds ${seeds.join(',')}: ${weeks} weeks each (last week evaluated), ${txCount.toLocaleString('en-US')} transactions, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log('incident'.padEnd(32), 'recall', '  ttd median/p90 (min)');
for (const [k, v] of [...perKind].sort()) {
  console.log(`${(k + (v.gross ? ' (gross)' : '')).padEnd(32)} ${v.hit}/${v.total}`.padEnd(40), `${q(v.ttd, 0.5).toFixed(1)} / ${q(v.ttd, 0.9).toFixed(1)}`);
}
const gross = [...perKind.values()].filter((v) => v.gross);
const grossRecall = gross.reduce((a, v) => a + v.hit, 0) / gross.reduce((a, v) => a + v.total, 0);
const grossTtd = gross.flatMap((v) => v.ttd);
const spikes35 = [...perKind].filter(([k]) => /^spike (3|5)x/.test(k)).map(([, v]) => v);
const spikeRecall = spikes35.reduce((a, v) => a + v.hit, 0) / spikes35.reduce((a, v) => a + v.total, 0);
console.log(`gross incidents: recall ${grossRecall.toFixed(2)} (target ≥ 0.95), time to detect p90 ${q(grossTtd, 0.9).toFixed(1)} min (target ≤ 2)`);
console.log(`3–5x spikes: recall ${spikeRecall.toFixed(2)} (target ≥ 0.8)`);
console.log(`alert groups: ${groups}, precision ${(trueGroups / groups).toFixed(2)} (target ≥ 0.7); false alarms ${((groups - trueGroups) / evalDays).toFixed(2)} per simulated day (target ≤ 1); info alerts ${infos}`);
if (process.argv.includes('--verbose')) {
  console.log('\nmissed:\n  ' + misses.join('\n  '));
  console.log('\nfalse alarm groups:\n  ' + falseAlarms.join('\n  '));
}
