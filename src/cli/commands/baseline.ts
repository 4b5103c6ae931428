import type { Command } from 'commander';
import { common, configFrom, examples, nonEmpty, openStoreForRead, out, type CommonOpts } from '../shared.js';
import { clip, progress, table } from '../../present/index.js';
import { Store } from '../../store/index.js';
import { DetectorEngine, TxBuilder } from '../../../detectors/index.js';

interface ShowOpts extends CommonOpts {
  actor?: string;
  table?: string;
}

export function registerBaseline(program: Command): void {
  const baseline = program.command('baseline').description('what rowtrail considers normal, per actor and table (`show`), and relearning it (`rebuild`)');
  const show = common(baseline.command('show'))
    .description('the learned baselines: per (actor, table, op) volumes by hour of the week, and each actor’s usual hours')
    .option('-a, --actor <name>', 'only this actor (agent or user)', nonEmpty)
    .option('-t, --table <schema.table>', 'only this table', nonEmpty);
  examples(show, ['rowtrail baseline show --actor deploy-bot', 'rowtrail baseline show --table public.customers --json', 'rowtrail baseline rebuild']);
  show.action((opts: ShowOpts) => {
      const cfg = configFrom(opts);
      const store = openStoreForRead(cfg);
      try {
        const saved = store.detectorState('engine');
        if (!saved) return out('no baselines yet: `rowtrail watch` learns them from the changes it captures (or run `rowtrail baseline rebuild`)');
        const engine = new DetectorEngine(cfg.detectors, { tableRows: () => null });
        engine.restore(saved.state);
        const rows = engine
          .describe(Date.now())
          .filter((r) => (!opts.actor || r.actor === opts.actor) && (!opts.table || r.table === opts.table));
        if (opts.json) {
          for (const r of rows) out(JSON.stringify(r));
          return;
        }
        if (rows.length === 0) return out('no baseline matches');
        out(
          table(
            ['detector', 'source', 'actor', 'table', 'op', 'history', 'learned', 'normal'],
            rows.map((r) => [r.detector, r.source, r.actor, r.table ?? '*', r.op ?? '*', r.history, r.learned ? 'yes' : 'learning', clip(r.normal, 70)]),
          ),
        );
      } finally {
        store.close();
      }
    });
  common(baseline.command('rebuild'))
    .description('relearn every baseline from the stored history (stop `rowtrail watch` first: it holds the store)')
    .action((opts: CommonOpts) => {
      const cfg = configFrom(opts);
      const store = Store.open(cfg.store.path, { owner: 'rowtrail baseline rebuild' });
      try {
        const engine = new DetectorEngine(cfg.detectors, { tableRows: () => null });
        const bar = progress('rebuilding baselines');
        const [from, to] = [engine.lastSeq, store.latestSeq()];
        let n = 0;
        for (;;) {
          let builder: TxBuilder | null = null;
          let seq = -1;
          let batch = 0;
          for (const { seq: s, event } of store.detectionEventsAfter(engine.lastSeq, 1000)) {
            if (s !== seq) {
              if (builder) engine.process(builder.finish(), seq);
              builder = new TxBuilder(event);
              seq = s;
              batch++;
            }
            builder!.add(event);
          }
          if (builder) engine.process(builder.finish(), seq);
          n += batch;
          bar.update(Math.max(0, engine.lastSeq - from), Math.max(0, to - from), `${n.toLocaleString('en-US')} transactions`);
          if (batch === 0) break;
        }
        engine.tick(Date.now());
        // Only the baselines: history that already raised its alerts does not raise them again.
        store.saveDetection([], 'engine', engine.lastSeq, engine.snapshot());
        bar.end();
        if (opts.json) out(JSON.stringify({ transactions: n, lastSeq: engine.lastSeq }));
        else out(`rebuilt the baselines from ${n.toLocaleString('en-US')} stored transactions`);
      } finally {
        store.close();
      }
    });
}
