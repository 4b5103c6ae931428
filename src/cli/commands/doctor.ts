/**
 * `rowtrail doctor`: every check of every source in one run, then, per source, one block of server settings
 * (saying which need a restart) and one block of grants that fix everything it found at once.
 */
import type { Command } from 'commander';
import { common, configFrom, nonEmpty, out, type CommonOpts } from '../shared.js';
import { sourceUrl, type SourceConfig } from '../../config/index.js';
import { fixSummary, sourceKind, type Check, type FixSummary } from '../../sources/index.js';
import { Store } from '../../store/index.js';
import { identityDoctor } from '../../identity/index.js';
import { guardDoctor } from '../../guard/index.js';
import { RowtrailError } from '../../errors.js';

/** Why undo's role is not checked here: it is a different role, used only by `undo --apply`. */
const UNDO_NOTE =
  'undo --apply uses the role of the config it is given (needs SELECT, INSERT, UPDATE, DELETE on the watched tables); ' +
  'not checked here: a missing privilege stops the undo in one line and its one transaction rolls back';

export function registerDoctor(program: Command): void {
  common(program.command('doctor'))
    .description(
      'check everything each source needs in one run; one line per problem with the fix, then one settings block and one grant block',
    )
    .option('--source <name>', 'only this source', nonEmpty)
    .action(async (opts: CommonOpts & { source?: string }) => {
      const cfg = configFrom(opts);
      let failed = 0;
      let store: Store | null = null;
      try {
        store = Store.open(cfg.store.path, { readonly: true });
      } catch {
        store = null; // no store yet: nothing to compare positions with
      }
      try {
        const sources = cfg.sources.filter((x) => !opts.source || x.name === opts.source);
        if (sources.length === 0) throw new RowtrailError('USAGE', `no source named '${opts.source}' in ${cfg.file}`);
        for (const s of sources) {
          const url = sourceUrl(s);
          const kind = sourceKind(s);
          const checks = await kind.doctor(url, s, { position: store?.position(s.name) ?? null });
          if (!checks.some((c) => c.id === 'connect' && c.level === 'fail')) {
            checks.push(
              ...(await identityDoctor(s, { url, kind: s.kind, attribution: (since) => store?.attribution(s.name, since) ?? null })),
              ...(await guardDoctor(cfg, s, url)),
            );
          }
          failed += checks.filter((c) => c.level === 'fail').length;
          const summary = fixSummary(checks, (g) => kind.grantStatements(g));
          if (opts.json) {
            for (const c of checks) out(JSON.stringify({ source: s.name, ...c }));
            out(JSON.stringify({ source: s.name, summary: { settingsFile: kind.settingsFile, ...summary, undo: UNDO_NOTE } }));
          } else {
            for (const c of checks) out(checkLine(s, c));
            for (const line of summaryLines(s, kind.settingsFile, summary)) out(line);
          }
        }
      } finally {
        store?.close();
      }
      if (failed) process.exitCode = 1;
    });
}

function checkLine(s: SourceConfig, c: Check): string {
  return `${c.level === 'ok' ? 'ok  ' : c.level === 'warn' ? 'WARN' : 'FAIL'} ${s.name}: ${c.message}${c.fix ? ` — fix: ${c.fix}` : ''}`;
}

/** The closing block: what to change once so that the next doctor run is clean. */
export function summaryLines(s: SourceConfig, settingsFile: string, f: FixSummary): string[] {
  const lines: string[] = [];
  if (f.settings.length || f.grants.length) {
    lines.push('', `${s.name}: to fix all of the above at once:`);
    if (f.settings.length) {
      const restart = f.restartFor.length
        ? `then restart the server once (${f.restartFor.join(', ')} ${f.restartFor.length === 1 ? 'takes' : 'take'} effect only at start)`
        : 'no restart needed (also settable at runtime; the file keeps them across restarts)';
      lines.push(`  server settings (${settingsFile}); ${restart}:`, ...f.settings.map((x) => `    ${x}`));
    }
    if (f.grants.length) lines.push('  grants (run as an administrator):', ...f.grants.map((x) => `    ${x}`));
    lines.push(`  then run rowtrail doctor again${s.kind === 'postgres' ? ' (and rowtrail setup for the slot and publication)' : ''}`);
  }
  lines.push(`note ${s.name}: ${UNDO_NOTE}`);
  return lines;
}
