import { defineConfig } from 'vitest/config';

/** The fault suite (`npm run test:faults`): daemons, databases and a proxy under faults; see test/faults. */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.faults.ts'],
    globalSetup: ['test/faults/report.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default', 'json'],
    outputFile: { json: '.tmp/vitest-faults-report.json' },
  },
});
