import { defineConfig } from 'vitest/config';

// One runner for every room. The JSON report is what .ci/run reads to print its
// "N passed, N failed" line; vitest's own console summary is for people.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'var/test-results.json' },
  },
});
