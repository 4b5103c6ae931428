import type { Command } from 'commander';
import { common, configFrom, examples, openStoreForRead, out, positiveInt, when, type CommonOpts } from '../shared.js';
import { clip, table } from '../../present/index.js';
import { RowtrailError } from '../../errors.js';
import type { Alert } from '../../model/index.js';
import type { DeliveryState } from '../../store/index.js';
import { resolveAlerts, sendTest } from '../../alerts/index.js';
import { dirname } from 'node:path';

interface AlertsOpts extends CommonOpts {
  open?: boolean;
  since?: Date;
  limit?: number;
  channel?: string;
}

export function registerAlerts(program: Command): void {
  const cmd = common(program.command('alerts'))
    .description(
      'alerts the detectors raised, newest first, with their delivery per channel (`alerts show ID` for one, with its evidence; '
        + '`alerts test` sends a test notification to each configured channel)',
    )
    .argument('[show|test]', '`show` to print one alert in full; `test` to send a test notification')
    .argument('[id]', 'with show: the alert id (or a unique prefix)')
    .option('--channel <name>', 'with test: only this channel (its name in alerts:, default the kind)')
    .option('--open', 'only open alerts')
    .option('-s, --since <when>', 'only alerts active since a duration ago (10m, 1d) or a time', when)
    .option('-n, --limit <n>', 'at most n alerts (the newest)', positiveInt);
  examples(cmd, [
    'rowtrail alerts --open',
    'rowtrail alerts --since 1d --json',
    'rowtrail alerts show bulk-transaction-3f9a',
    'rowtrail alerts test --channel slack',
  ]);
  cmd.action(async (action: string | undefined, id: string | undefined, opts: AlertsOpts) => {
      if (action !== undefined && action !== 'show' && action !== 'test') {
        throw new RowtrailError('USAGE', `unknown alerts action '${action}' (use \`rowtrail alerts show ID\` or \`rowtrail alerts test\`)`);
      }
      if (action === 'test') return testChannels(opts);
      if (action === 'show') {
        if (!id) throw new RowtrailError('USAGE', 'alerts show needs an alert id (list them with `rowtrail alerts`)');
        return showAlert(id, opts);
      }
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      try {
        const rows = store.alerts({ open: opts.open, since: opts.since, limit: opts.limit });
        const delivery = store.outbox.states(rows.map((a) => a.id));
        if (opts.json) {
          for (const a of rows) {
            const d = delivery.get(a.id);
            out(JSON.stringify(d ? { ...a, delivery: d } : a));
          }
          return;
        }
        if (rows.length === 0) return out(opts.open ? 'no open alerts' : 'no alerts');
        out(
          table(
            ['opened', 'severity', 'state', 'id', 'title', 'delivery'],
            rows.map((a) => [
              a.window.from.replace('T', ' ').slice(0, 19),
              a.severity,
              a.state,
              a.id,
              clip(a.title, 100),
              deliveryText(delivery.get(a.id)),
            ]),
          ),
        );
      } finally {
        store.close();
      }
    });
}

function showAlert(id: string, opts: CommonOpts): void {
  const cfg = configFrom(opts);
  const store = openStoreForRead(cfg);
  try {
    const found = store.alerts({ id }).filter((a) => a.id === id || a.id.startsWith(id));
    if (found.length === 0) throw new RowtrailError('NOT_FOUND', `no alert '${id}' (list them with \`rowtrail alerts\`)`);
    if (found.length > 1 && !found.some((a) => a.id === id)) throw new RowtrailError('USAGE', `'${id}' matches ${found.length} alerts; give more of the id`);
    const a = found.find((x) => x.id === id) ?? found[0]!;
    const d = store.outbox.states([a.id]).get(a.id);
    if (opts.json) return out(JSON.stringify(d ? { ...a, delivery: d } : a));
    out(render(a));
    const line = (x: DeliveryState) =>
      `  ${x.channel.padEnd(16)} ${x.event} ${x.state}${x.attempts > 1 ? ` after ${x.attempts} attempts` : ''}${x.error ? `: ${x.error}` : ''}`;
    if (d) out(['delivery', ...d.map(line)].join('\n'));
  } finally {
    store.close();
  }
}

/** An alert as text: what, who, when, the evidence and the undo command. */
export function render(a: Alert): string {
  const actor = a.actor
    ? `${a.actor.agent ?? a.actor.user ?? 'unknown'} (${a.actor.kind}${a.actor.agent && a.actor.user ? ` on ${a.actor.user}` : ''}, ${a.actor.confidence})`
    : '-';
  const lines = [
    `${a.severity.toUpperCase()} ${a.state}  ${a.id}`,
    a.title,
    '',
    a.summary,
    '',
    `detector  ${a.detector}`,
    `source    ${a.source}${a.table ? `  table ${a.table}` : ''}`,
    `actor     ${actor}`,
    `window    ${a.window.from} → ${a.window.to}`,
    'evidence',
    ...Object.entries(a.evidence)
      .filter(([k]) => k !== 'key')
      .map(([k, v]) => `  ${k.padEnd(16)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`),
    `transactions (${a.txIds.length})  ${clip(a.txIds.join(' '), 200)}`,
    `undo      ${a.undo ?? 'not revertible by undo (see the summary)'}`,
  ];
  return lines.join('\n');
}

/** `slack sent, webhook retrying (3 attempts)` */
function deliveryText(d: DeliveryState[] | undefined): string {
  if (!d) return '-';
  const one = (x: DeliveryState) =>
    x.state === 'queued' && x.attempts ? `${x.channel} retrying (${x.attempts} attempt${x.attempts > 1 ? 's' : ''})` : `${x.channel} ${x.state}`;
  return d.map(one).join(', ');
}

/** `alerts test`: one test notification per configured channel (or the one named), no retries. */
async function testChannels(opts: AlertsOpts): Promise<void> {
  const cfg = configFrom(opts);
  const settings = resolveAlerts(cfg.alerts, { baseDir: dirname(cfg.file) });
  if (settings.channels.length === 0) {
    throw new RowtrailError('CONFIG', `${cfg.file}: no alert channels configured (add slack, pagerduty or webhook under alerts:)`);
  }
  const chosen = opts.channel ? settings.channels.filter((c) => c.name === opts.channel) : settings.channels;
  if (chosen.length === 0) {
    throw new RowtrailError('USAGE', `no alert channel named '${opts.channel}' (configured: ${settings.channels.map((c) => c.name).join(', ')})`);
  }
  let bad = 0;
  for (const ch of chosen) {
    const r = await sendTest(ch, settings.timeoutMs);
    const ok = r.kind === 'sent' || r.kind === 'skipped';
    if (!ok) bad++;
    const what = r.kind === 'sent' ? `delivered (HTTP ${r.status})` : r.kind === 'skipped' ? `skipped: ${r.reason}` : r.error;
    if (opts.json) out(JSON.stringify({ channel: ch.name, kind: ch.kind, ok, result: r.kind, status: 'status' in r ? r.status : null, detail: what }));
    else out(`${ch.name} (${ch.kind}): ${ok ? what : `FAILED: ${what}`}`);
  }
  if (bad) process.exitCode = 1;
}
