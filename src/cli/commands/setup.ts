import type { Command } from 'commander';
import { common, configFrom, out, type CommonOpts } from '../shared.js';
import { sourceUrl } from '../../config/index.js';
import { sourceKind } from '../../sources/index.js';
import { Store } from '../../store/index.js';
import { RowtrailError } from '../../errors.js';
import { identityDoctor } from '../../identity/index.js';

interface SetupOpts extends CommonOpts {
  dryRun?: boolean;
  replicaIdentity?: string;
  uninstall?: boolean;
  source?: string;
}

export function registerSetup(program: Command): void {
  common(program.command('setup'))
    .description('create what capture needs on each source (publication and slot); idempotent')
    .option('--dry-run', 'print the SQL instead of running it')
    .option('--replica-identity <full>', 'set REPLICA IDENTITY FULL on watched tables without a full before image')
    .option('--uninstall', 'remove what setup created (slot, publication)')
    .option('--source <name>', 'only this source')
    .action(async (opts: SetupOpts) => {
      const cfg = configFrom(opts);
      if (opts.replicaIdentity !== undefined && opts.replicaIdentity !== 'full') {
        throw new RowtrailError('USAGE', `--replica-identity takes 'full', not '${opts.replicaIdentity}'`);
      }
      const sources = cfg.sources.filter((s) => !opts.source || s.name === opts.source);
      if (sources.length === 0) throw new RowtrailError('USAGE', `no source named '${opts.source}' in ${cfg.file}`);
      for (const s of sources) {
        const res = await sourceKind(s).setup(sourceUrl(s), s, {
          dryRun: opts.dryRun,
          replicaIdentity: opts.replicaIdentity as 'full' | undefined,
          uninstall: opts.uninstall,
        });
        if (opts.json) out(JSON.stringify({ source: s.name, ...res }));
        else if (opts.dryRun) {
          out(`-- ${s.name}`);
          for (const st of res.statements) out(`${st};`);
        } else for (const n of res.notes) out(`${s.name}: ${n}`);
      }
    });

  common(program.command('doctor'))
    .description('check that each source is set up so that capture works; one line per problem with the fix')
    .option('--source <name>', 'only this source')
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
        for (const s of cfg.sources.filter((x) => !opts.source || x.name === opts.source)) {
          const url = sourceUrl(s);
          const checks = await sourceKind(s).doctor(url, s, store?.position(s.name) ?? null);
          if (!checks.some((c) => c.id === 'connect' && c.level === 'fail')) {
            checks.push(...(await identityDoctor(s, { url, kind: s.kind, stats: store?.attribution(s.name, Date.now() - 86_400_000) ?? null })));
          }
          for (const c of checks) {
            if (c.level === 'fail') failed++;
            if (opts.json) out(JSON.stringify({ source: s.name, ...c }));
            else out(`${c.level === 'ok' ? 'ok  ' : c.level === 'warn' ? 'WARN' : 'FAIL'} ${s.name}: ${c.message}${c.fix ? ` — fix: ${c.fix}` : ''}`);
          }
        }
      } finally {
        store?.close();
      }
      if (failed) process.exitCode = 1;
    });
}
