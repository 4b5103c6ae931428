/** Global setup of the fault suite: clears the figures of a previous run; at the end prints and saves them. */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIGURES_DIR, figuresTable, type FaultFigure } from './figures.js';

export default function setup(): () => void {
  rmSync(FIGURES_DIR, { recursive: true, force: true });
  return () => {
    const rows: FaultFigure[] = [];
    if (existsSync(FIGURES_DIR)) {
      for (const f of readdirSync(FIGURES_DIR)) {
        for (const line of readFileSync(join(FIGURES_DIR, f), 'utf8').split('\n')) if (line) rows.push(JSON.parse(line) as FaultFigure);
      }
    }
    rows.sort((a, b) => a.db.localeCompare(b.db) || a.fault.localeCompare(b.fault));
    const out = join(FIGURES_DIR, '..', 'faults-figures.json');
    writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), rows }, null, 2) + '\n');
    console.log(`\nfault figures (${out}; timings are this machine's, shared and noisy):\n${figuresTable(rows)}\n`);
  };
}
