// Totals per-package jest results (the --json output each package writes to
// .jest-results.json) into the closing line "N passed, N failed, N skipped".
// A skipped test must say why in its name: "[skipped: <reason>]" in its own
// title or in a describe above it; a skip without one fails the run.

/** The marker a skipped test's full name must contain. */
export const SKIP_REASON = /\[skipped: [^\]]+\]/;

/**
 * @param {Array<{ name: string, results: any | undefined }>} packages jest JSON per package
 *   (`results` undefined: the suite did not run).
 * @returns {{ passed: number, failed: number, skipped: number, unexplained: string[], rows: string[], line: string }}
 */
export function summarize(packages) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const unexplained = [];
  const rows = [];
  for (const { name, results: r } of packages) {
    if (r === undefined) {
      rows.push(`${name}: no results (suite did not run)`);
      failed += 1;
      continue;
    }
    // A suite that failed to load counts as a failure even though it ran no test.
    const broken = r.numRuntimeErrorTestSuites ?? 0;
    const skips = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    passed += r.numPassedTests;
    failed += r.numFailedTests + broken;
    skipped += skips;
    for (const file of r.testResults ?? []) {
      for (const t of file.assertionResults ?? []) {
        if (t.status !== 'pending' && t.status !== 'skipped' && t.status !== 'todo') continue;
        const full = [...(t.ancestorTitles ?? []), t.title].join(' > ');
        if (!SKIP_REASON.test(full)) unexplained.push(`${name}: ${full}`);
      }
    }
    rows.push(`${name}: ${r.numPassedTests} passed, ${r.numFailedTests + broken} failed, ${skips} skipped`);
  }
  failed += unexplained.length;
  return { passed, failed, skipped, unexplained, rows, line: `${passed} passed, ${failed} failed, ${skipped} skipped` };
}
