import { defineConfig } from 'vitest/config';

// One runner for every room. The JSON report is what .ci/run reads to print its
// "N passed, N failed" line; vitest's own console summary is for people. In CI (CI=1) the skip reporter
// turns any skipped test into a failed run.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json', './test/helpers/ci-skip-reporter.ts'],
    outputFile: { json: 'var/test-results.json' },
  },
});
