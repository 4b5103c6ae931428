import type { Command } from 'commander';
import { common, configFrom, nonEmpty, oneOf, out, type CommonOpts } from '../shared.js';
import { sourceUrl } from '../../config/index.js';
import { sourceKind } from '../../sources/index.js';
import { RowtrailError } from '../../errors.js';
import { registerSetupElastic } from './setup-elastic.js';
import { progress } from '../../present/index.js';

interface SetupOpts extends CommonOpts {
  dryRun?: boolean;
  replicaIdentity?: string;
  uninstall?: boolean;
  source?: string;
}

export function registerSetup(program: Command): void {
  const setup = common(program.command('setup'));
  registerSetupElastic(setup);
  setup
    .description('create what capture needs on each source (publication and slot); idempotent')
    .option('--dry-run', 'print the SQL instead of running it')
    .option('--replica-identity <mode>', 'full: set REPLICA IDENTITY FULL where a full before image is missing', oneOf(['full'] as const))
    .option('--uninstall', "remove what setup created for this source (slot, publication, its precise-mode triggers)")
    .option('--source <name>', 'only this source', nonEmpty)
    .addHelpText(
      'after',
      '\nExamples:\n  rowtrail setup --replica-identity full\n  rowtrail setup --dry-run --source app > setup.sql\n' +
        '  rowtrail setup --uninstall --source app\n  rowtrail setup elastic      (Elasticsearch templates, Kibana dashboards)\n',
    )
    .action(async (opts: SetupOpts) => {
      const cfg = configFrom(opts);
      const sources = cfg.sources.filter((s) => !opts.source || s.name === opts.source);
      if (sources.length === 0) throw new RowtrailError('USAGE', `no source named '${opts.source}' in ${cfg.file}`);
      for (const s of sources) {
        const bar = progress(`setup ${s.name}`);
        const res = await sourceKind(s)
          .setup(sourceUrl(s), s, {
            dryRun: opts.dryRun,
            replicaIdentity: opts.replicaIdentity as 'full' | undefined,
            uninstall: opts.uninstall,
            onStep: (done, total, note) => bar.update(done, total, note),
          })
          .finally(() => bar.end());
        if (opts.json) out(JSON.stringify({ source: s.name, ...res }));
        else if (opts.dryRun) {
          // A preview always prints: what blocks it first, as comments, then every statement.
          out(`-- ${s.name}`);
          for (const p of res.problems ?? []) out(`-- BLOCKING: ${p}`);
          for (const n of res.notes) out(`-- ${n}`);
          for (const st of res.statements) out(`${st};`);
        } else for (const n of res.notes) out(`${s.name}: ${n}`);
      }
    });
}
