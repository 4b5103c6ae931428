import { defineConfig } from 'vitest/config';

// Not part of `npm test` (test/** only): a measurement, run on demand.
export default defineConfig({
  test: {
    include: ['bench/identity-mariadb-stress/run.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
