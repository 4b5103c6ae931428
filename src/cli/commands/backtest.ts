import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { RowtrailError } from '../../errors.js';
import { backtest, backtestCsv, parseSeries } from '../../../detectors/index.js';

export function registerBacktest(program: Command): void {
  program
    .command('backtest')
    .description('score a timestamp,value series with a detector, to tune it on your own history (prints timestamp,value,anomaly_score)')
    .requiredOption('--detector <name>', 'the detector (volume-spike)')
    .requiredOption('--csv <file>', "a CSV with a 'timestamp,value' header, one row per time bucket ('-' reads stdin)")
    .addHelpText(
      'after',
      '\nTimestamps: YYYY-MM-DD HH:MM:SS (UTC) or ISO-8601. Each row is scored against the rows before it, then learned;\n' +
        'the first day of rows scores 0 (warm-up). Score = 1 - the two-sided tail probability under the baseline.\n\n' +
        'Example:\n  rowtrail backtest --detector volume-spike --csv deletes-per-hour.csv > scored.csv',
    )
    .action((opts: { detector: string; csv: string }) => {
      if (opts.detector !== 'volume-spike') throw new RowtrailError('USAGE', `backtest supports --detector volume-spike (got '${opts.detector}')`);
      let text: string;
      try {
        text = readFileSync(opts.csv === '-' ? 0 : opts.csv, 'utf8');
      } catch (e: any) {
        throw new RowtrailError('USAGE', `cannot read ${opts.csv}: ${e?.code === 'ENOENT' ? 'no such file' : (e?.message ?? e)}`);
      }
      const warnings: string[] = [];
      const rows = parseSeries(text, opts.csv === '-' ? 'stdin' : opts.csv, warnings);
      for (const w of warnings) process.stderr.write(`rowtrail: warning: ${w}\n`);
      process.stdout.write(backtestCsv(backtest(rows)));
    });
}
