// A vitest reporter that makes a skipped test a failure in CI (CI=1, exported by .ci/run). A skip there
// means a tool or capability the test needs was not provided, or a test was switched off: either way
// the run proved less than it says. Locally skips stay skips (test/helpers/tools.ts names what is
// missing). The only skips CI tolerates are listed below with the documented reason they cannot apply
// in CI; none is listed today.
import type { Reporter, TestModule } from 'vitest/node';

/** Exact skip notes CI accepts, each with why it cannot apply to a CI run. */
export const CI_ACCEPTED_SKIPS: Readonly<Record<string, string>> = {};

export default class CiSkipReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    if (!process.env.CI) return;
    const skipped: string[] = [];
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const result = test.result();
        if (result.state !== 'skipped') continue;
        if (result.note !== undefined && result.note in CI_ACCEPTED_SKIPS) continue;
        skipped.push(`${mod.moduleId}: ${test.fullName}${result.note ? ` (${result.note})` : ''}`);
      }
    }
    if (skipped.length === 0) return;
    console.error(`\nci: ${skipped.length} test(s) skipped; in CI a skip is a failure:`);
    for (const s of skipped) console.error(`  - ${s}`);
    process.exitCode = 1;
  }
}
