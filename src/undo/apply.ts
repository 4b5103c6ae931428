/**
 * The `--apply` runner (I/O edge): the plan's statements in one transaction on the source, each checked
 * against its expected affected-row count; any difference or error rolls everything back.
 *
 * The session is marked so capture attributes the undo: PostgreSQL `application_name = 'rowtrail-undo'` and
 * `SET LOCAL rowtrail.actor/run`, MySQL connect attribute `program_name`, and on every statement the
 * sqlcommenter comment `/*agent='rowtrail-undo',run='<run id>'*\/`. Where the dialect can carry it
 * (PostgreSQL's rowtrail.actor), the run's context also names the OS user who ran the undo (`os_user`).
 */
import { userInfo } from 'node:os';
import { RowtrailError } from '../errors.js';
import type { Dialect } from './dialect.js';
import type { SqlConn } from './source-conn.js';
import { scriptStatements, type UndoPlan } from './undo-render.js';

export interface ApplyResult {
  runId: string;
  statements: number;
  rows: number;
}

export async function applyUndo(
  conn: SqlConn,
  d: Dialect,
  plan: UndoPlan,
  onProgress?: (done: number, total: number) => void,
): Promise<ApplyResult> {
  const stmts = scriptStatements(plan, d);
  if (stmts.length === 0) throw new RowtrailError('UNDO', 'nothing to apply: no statement is left in the undo');
  let open = false;
  try {
    open = true;
    for (const s of d.beginStatements(plan.runId, osUser())) await conn.run(s);
    let rows = 0;
    for (let k = 0; k < stmts.length; k++) {
      const n = await conn.run(stmts[k].sql);
      if (n !== stmts[k].expected) {
        throw new RowtrailError(
          'UNDO',
          `statement ${k + 1} of ${stmts.length} (${stmts[k].label}) affected ${n} rows instead of ${stmts[k].expected}: ` +
            'the row changed meanwhile; rolled back, nothing was applied',
        );
      }
      rows += n;
      onProgress?.(k + 1, stmts.length);
    }
    await conn.run(d.commitStatement);
    open = false;
    return { runId: plan.runId, statements: stmts.length, rows };
  } catch (e: any) {
    if (open) await conn.run(d.rollbackStatement).catch(() => undefined);
    if (e instanceof RowtrailError) throw e;
    const code = e?.code ? ` (${e.code})` : '';
    throw new RowtrailError('UNDO', `the database refused the undo${code}: ${String(e?.message ?? e).split('\n')[0]}; rolled back, nothing was applied`, e);
  }
}

/**
 * The OS user running the undo: the account's name, else $USER / $LOGNAME, else `uid:<n>` (in a container
 * the uid may have no passwd entry, where userInfo() throws).
 */
export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER || process.env.LOGNAME || `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}
