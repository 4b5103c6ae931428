import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import {
  common,
  configFrom,
  examples,
  filterFrom,
  nonEmpty,
  oneOf,
  openStoreForRead,
  out,
  repeatable,
  when,
  type CommonOpts,
  type SelectionOpts,
} from '../shared.js';
import { RowtrailError } from '../../errors.js';
import { applyUndo, prepareUndo, renderJson, scriptStatements, writeSql } from '../../undo/index.js';
import { refusalNote } from '../../undo/undo-render.js';
import { progress } from '../../present/index.js';

interface UndoOpts extends CommonOpts, Omit<SelectionOpts, 'op' | 'limit'> {
  tx: string[];
  change: string[];
  format: 'sql' | 'json';
  skipConflicts?: boolean;
  apply?: boolean;
  yes?: boolean;
}

export function registerUndo(program: Command): void {
  const cmd = common(program.command('undo'), 'print the JSON plan (same as --format json); with --apply, the result as JSON')
    .description('print (or --apply) guarded SQL that reverts selected changes, newest first, in one transaction')
    .option('--tx <id>', 'revert this transaction (xid, GTID or commit position); repeatable', repeatable, [])
    .option('--change <id>', 'revert this change (source:position:index); repeatable', repeatable, [])
    .option('-a, --actor <name>', 'revert the changes of this user, agent or kind', nonEmpty)
    .option('--agent-run <id>', 'revert the changes of this agent run', nonEmpty)
    .option('-s, --since <when>', 'only changes since a duration ago (90s, 10m, 1h, 2d) or an ISO time', when)
    .option('-u, --until <when>', 'only changes until a duration ago or an ISO time', when)
    .option('-t, --table <schema.table>', 'only this table', nonEmpty)
    .option('--source <name>', 'only this source', nonEmpty)
    .option('--format <format>', 'sql: the SQL script; json: the plan', oneOf(['sql', 'json'] as const), 'sql')
    .option('--skip-conflicts', 'leave out rows that changed since (and refused changes) and revert the rest')
    .option('--apply', 'run the undo against the source in one transaction (asks first)')
    .option('-y, --yes', 'with --apply: do not ask')
    .action(async (opts: UndoOpts) => {
      if (!opts.tx.length && !opts.change.length && !opts.actor && !opts.agentRun && !opts.table) {
        throw new RowtrailError('USAGE', 'select what to revert with --tx, --change, --actor, --agent-run or --table');
      }
      const json = opts.json || opts.format === 'json';
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      // Why: undo reads the selection once, start to end; a small page cache keeps a 100k-change undo's memory low.
      store.db.pragma('cache_size = -8192');
      try {
        const filter = filterFrom(opts);
        if (opts.change.length) filter.changeIds = opts.change;
        const { plan, dialect, conn } = await prepareUndo(store, cfg, { filter, skipConflicts: opts.skipConflicts });
        try {
          const blocked = !opts.skipConflicts && (plan.conflicts.length > 0 || plan.refusals.length > 0);
          if (json && (!opts.apply || blocked)) out(JSON.stringify(renderJson(plan, dialect)));
          if (blocked || plan.refusals.length || plan.skipped.length) {
            for (const r of plan.refusals) process.stderr.write(`rowtrail: ${refusalNote(r)}\n`);
            for (const c of plan.conflicts) {
              const kind = blocked ? 'conflict' : 'skipped conflict';
              const since = c.since.map((s) => `${s.actor} (${s.op} at ${s.time}, ${s.changeId})`).join(', ');
              const tail = c.since.length ? `; changed since by ${since}` : '';
              process.stderr.write(`rowtrail: ${kind} ${c.table} ${JSON.stringify(c.key)}: ${c.reason}${tail}\n`);
            }
          }
          if (blocked) {
            throw new RowtrailError(
              'UNDO',
              `undo refused: ${plan.conflicts.length} conflict(s), ${plan.refusals.length} refused change(s) (listed above); ` +
                `nothing was ${opts.apply ? 'applied' : 'printed'}; --skip-conflicts reverts the rest`,
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
            const answer = await rl.question(
              `Apply ${statements.length} statement(s) reverting ${plan.changes - plan.refusals.length} change(s) ` +
                `to source ${plan.source} (database ${plan.database})? [y/N] `,
            );
            rl.close();
            if (!/^y(es)?$/i.test(answer.trim())) throw new RowtrailError('UNDO', 'not applied');
          }
          const bar = progress('applying the undo (one transaction)');
          const res = await applyUndo(conn, dialect, plan, (done, total) => bar.update(done, total, 'statements')).finally(() => bar.end());
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
  examples(cmd, [
    'rowtrail undo --actor deploy-bot --since 1h         # print the SQL that reverts the agent\'s last hour',
    'rowtrail undo --tx 771 --apply                      # run it, in one transaction, after asking',
    'rowtrail undo --agent-run r-17 --skip-conflicts     # revert what has not changed since',
    'rowtrail undo --tx 771 --format json                # the plan: statements, conflicts, refusals',
  ]);
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
