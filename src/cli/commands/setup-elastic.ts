import type { Command } from 'commander';
import { examples, out, positiveInt, configFrom, type CommonOpts } from '../shared.js';
import { RowtrailError } from '../../errors.js';
import { createEsClient, setupElastic } from '../../sinks/elasticsearch/index.js';

interface SetupElasticOpts extends CommonOpts {
  kibanaWait: number;
  templatesOnly?: boolean;
}

/**
 * `rowtrail setup elastic`: the Elasticsearch templates and the Kibana dashboards; idempotent. `--config` and
 * `--json` are `setup`'s options (commander gives a parent's options to the parent wherever they stand).
 */
export function registerSetupElastic(setup: Command): void {
  const cmd = setup
    .command('elastic')    .description('install the Elasticsearch index templates and import the Kibana dashboards (dashboards/); idempotent')
    .option('--kibana-wait <seconds>', 'how long to wait for Kibana to come up', positiveInt, 180)
    .option('--templates-only', 'install the templates, skip the dashboards')
    .addHelpText('after', '\nAlso takes -c, --config <file> (default ./rowtrail.yaml) and --json (one JSON object).');
  examples(cmd, ['rowtrail setup elastic', 'ROWTRAIL_KIBANA_URL=http://localhost:5601 rowtrail setup elastic --json']);
  cmd.action(async (_o: unknown, self: Command) => {
    const opts = self.optsWithGlobals<SetupElasticOpts>();
    const cfg = configFrom(opts);
    if (!cfg.elasticsearch) throw new RowtrailError('CONFIG', `${cfg.file}: no elasticsearch: section (add elasticsearch: { node: http://… })`);
    const es = opts.templatesOnly ? { ...cfg.elasticsearch, kibanaUrl: undefined } : cfg.elasticsearch;
    const client = createEsClient(es);
    try {
      const res = await setupElastic(client, es, { kibanaWaitMs: opts.kibanaWait * 1000 });
      if (opts.json) return out(JSON.stringify(res));
      for (const t of res.templates) out(`installed ${t}`);
      for (const s of res.rolledOver) out(`rolled over ${s} (the templates changed: new documents get the new mappings)`);
      for (const d of res.dashboards) out(`imported ${d.objects} saved objects from ${d.file} (overwrite)`);
      for (const n of res.notes) out(n);
    } finally {
      await client.close();
    }
  });
}
