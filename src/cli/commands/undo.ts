import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { common, configFrom, openStoreForRead, out, type CommonOpts } from '../shared.js';
import { filterFrom } from './changes.js';
import { RowtrailError } from '../../errors.js';
import { applyUndo, prepareUndo, renderJson, scriptStatements, writeSql } from '../../undo/index.js';
import { refusalNote } from '../../undo/undo-render.js';

interface UndoOpts extends CommonOpts {
  tx: string[];
  change: string[];
  actor?: string;
  agentRun?: string;
  since?: string;
  until?: string;
  table?: string;
  source?: string;
  format: string;
  skipConflicts?: boolean;
  apply?: boolean;
  yes?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerUndo(program: Command): void {
  common(program.command('undo'))
    .description('print (or --apply) guarded SQL that reverts selected changes, newest first, in one transaction')
    .option('--tx <id>', 'revert this transaction (xid or commit position); repeatable', collect, [])
    .option('--change <id>', 'revert this change (source:position:index); repeatable', collect, [])
    .option('-a, --actor <name>', 'revert the changes of this user, agent or kind')
    .option('--agent-run <id>', 'revert the changes of this agent run')
    .option('-s, --since <when>', 'only changes since a duration ago (10m, 1h) or a time')
    .option('-u, --until <when>', 'only changes until a duration ago or a time')
    .option('-t, --table <schema.table>', 'only this table')
    .option('--source <name>', 'only this source')
    .option('--format <sql|json>', 'print the SQL script or the JSON plan', 'sql')
    .option('--skip-conflicts', 'leave out rows that changed since (and refused changes) and revert the rest')
    .option('--apply', 'run the undo against the source in one transaction (asks first)')
    .option('-y, --yes', 'with --apply: do not ask')
    .action(async (opts: UndoOpts) => {
      if (!['sql', 'json'].includes(opts.format)) throw new RowtrailError('USAGE', `--format must be sql or json, not '${opts.format}'`);
      if (!opts.tx.length && !opts.change.length && !opts.actor && !opts.agentRun && !opts.table) {
        throw new RowtrailError('USAGE', 'select what to revert with --tx, --change, --actor, --agent-run or --table');
      }
      const json = opts.json || opts.format === 'json';
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      // Why: undo reads the selection once, start to end; a small page cache keeps a 100k-change undo's memory low.
      store.db.pragma('cache_size = -8192');
      try {
        const filter = filterFrom({ ...opts, tx: opts.tx });
        if (opts.change.length) filter.changeIds = opts.change;
        const { plan, dialect, conn } = await prepareUndo(store, cfg, { filter, skipConflicts: opts.skipConflicts });
        try {
          const blocked = !opts.skipConflicts && (plan.conflicts.length > 0 || plan.refusals.length > 0);
          if (json && (!opts.apply || blocked)) out(JSON.stringify(renderJson(plan, dialect)));
          if (blocked || plan.refusals.length || plan.skipped.length) {
            for (const r of plan.refusals) process.stderr.write(`rowtrail: ${refusalNote(r)}\n`);
            for (const c of plan.conflicts) process.stderr.write(`rowtrail: ${blocked ? 'conflict' : 'skipped conflict'} ${c.table} ${JSON.stringify(c.key)}: ${c.reason}${c.since.length ? `; changed since by ${c.since.map((s) => `${s.actor} (${s.op} at ${s.time}, ${s.changeId})`).join(', ')}` : ''}\n`);
          }
          if (blocked) {
            throw new RowtrailError(
              'UNDO',
              `undo refused: ${plan.conflicts.length} conflict(s), ${plan.refusals.length} refused change(s) (listed above); nothing was ${opts.apply ? 'applied' : 'printed'}; --skip-conflicts reverts the rest`,
            );
          }
          const statements = scriptStatements(plan, dialect);
          if (statements.length === 0) throw new RowtrailError('UNDO', 'nothing to revert: every selected change was refused, conflicts, or cancels out');
          if (!opts.apply) {
            if (!json) writeChunked(plan, dialect);
            return;
          }
          if (!opts.yes) {
            if (!process.stdin.isTTY) throw new RowtrailError('USAGE', '--apply asks for confirmation; pass --yes when not at a terminal');
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            const answer = await rl.question(`Apply ${statements.length} statement(s) reverting ${plan.changes - plan.refusals.length} change(s) to source ${plan.source} (database ${plan.database})? [y/N] `);
            rl.close();
            if (!/^y(es)?$/i.test(answer.trim())) throw new RowtrailError('UNDO', 'not applied');
          }
          const res = await applyUndo(conn, dialect, plan);
          if (json) out(JSON.stringify({ applied: true, ...res, source: plan.source, database: plan.database }));
          else {
            out(`applied undo ${res.runId}: ${res.statements} statement(s), ${res.rows} row(s), in one transaction on ${plan.source} (${plan.database})`);
            out(`its changes are attributed to agent rowtrail-undo, run ${res.runId}: rowtrail changes --agent-run ${res.runId}`);
          }
        } finally {
          await conn.close();
        }
      } finally {
        store.close();
      }
    });
}

/** Writes the script to stdout in 64 KB pieces (a large undo is never one string). */
function writeChunked(plan: Parameters<typeof writeSql>[0], dialect: Parameters<typeof writeSql>[1]): void {
  let buf: string[] = [];
  let size = 0;
  writeSql(plan, dialect, (t) => {
    buf.push(t);
    size += t.length;
    if (size >= 65536) {
      process.stdout.write(buf.join(''));
      buf = [];
      size = 0;
    }
  });
  if (buf.length) process.stdout.write(buf.join(''));
}
