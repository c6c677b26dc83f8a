/** The marker a skipped test's full name must contain: "[skipped: <reason>]". */
export declare const SKIP_REASON: RegExp;
/** Totals per-package jest JSON results; see test-summary.mjs. */
export declare function summarize(packages: Array<{ name: string; results: unknown }>): {
  passed: number;
  failed: number;
  skipped: number;
  unexplained: string[];
  rows: string[];
  line: string;
};
