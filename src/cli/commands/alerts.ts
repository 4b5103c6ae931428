import type { Command } from 'commander';
import { common, configFrom, examples, openStoreForRead, out, positiveInt, when, type CommonOpts } from '../shared.js';
import { clip, table } from '../../present/index.js';
import { RowtrailError } from '../../errors.js';
import type { Alert } from '../../model/index.js';

interface AlertsOpts extends CommonOpts {
  open?: boolean;
  since?: Date;
  limit?: number;
}

export function registerAlerts(program: Command): void {
  const cmd = common(program.command('alerts'))
    .description('alerts the detectors raised, newest first (`alerts show ID` for one, with its evidence)')
    .argument('[show]', '`show` to print one alert in full')
    .argument('[id]', 'with show: the alert id (or a unique prefix)')
    .option('--open', 'only open alerts')
    .option('-s, --since <when>', 'only alerts active since a duration ago (10m, 1d) or a time', when)
    .option('-n, --limit <n>', 'at most n alerts (the newest)', positiveInt);
  examples(cmd, ['rowtrail alerts --open', 'rowtrail alerts --since 1d --json', 'rowtrail alerts show bulk-transaction-3f9a']);
  cmd.action((action: string | undefined, id: string | undefined, opts: AlertsOpts) => {
      if (action !== undefined && action !== 'show') throw new RowtrailError('USAGE', `unknown alerts action '${action}' (use \`rowtrail alerts show ID\`)`);
      if (action === 'show') {
        if (!id) throw new RowtrailError('USAGE', 'alerts show needs an alert id (list them with `rowtrail alerts`)');
        return showAlert(id, opts);
      }
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      try {
        const rows = store.alerts({ open: opts.open, since: opts.since, limit: opts.limit });
        if (opts.json) {
          for (const a of rows) out(JSON.stringify(a));
          return;
        }
        if (rows.length === 0) return out(opts.open ? 'no open alerts' : 'no alerts');
        out(
          table(
            ['opened', 'severity', 'state', 'id', 'title'],
            rows.map((a) => [a.window.from.replace('T', ' ').slice(0, 19), a.severity, a.state, a.id, clip(a.title, 100)]),
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
    const a = found.find((x) => x.id === id) ?? found[0];
    if (opts.json) return out(JSON.stringify(a));
    out(render(a));
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
