import { defineConfig } from 'vitest/config';

/**
 * One run, two projects sharing its two forked workers. Unit tests are pure and start nothing, so
 * `npm run test:unit` needs no database; integration tests get the private MariaDB and Postgres of
 * test/global-setup.ts (DESIGN §5), which vitest starts only when a run selects integration files.
 */
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: ['test/global-setup.ts'] } },
    ],
  },
});
