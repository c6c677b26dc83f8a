/**
 * The root test command's closing line (scripts/test-summary.mjs): counts
 * skipped tests, and fails the run when a test is skipped without a stated
 * reason ("[skipped: <reason>]" in its name or a describe above it).
 */
import { describe, expect, test } from '@jest/globals';
import { summarize } from '../../../scripts/test-summary.mjs';

const result = (tests: Array<{ title: string; status: string; ancestorTitles?: string[] }>) => ({
  numPassedTests: tests.filter((t) => t.status === 'passed').length,
  numFailedTests: tests.filter((t) => t.status === 'failed').length,
  numPendingTests: tests.filter((t) => t.status === 'pending').length,
  numTodoTests: tests.filter((t) => t.status === 'todo').length,
  numRuntimeErrorTestSuites: 0,
  testResults: [{ assertionResults: tests.map((t) => ({ ancestorTitles: [], ...t })) }],
});

describe('test summary', () => {
  test('the closing line counts passed, failed and skipped tests', () => {
    const s = summarize([
      {
        name: 'a',
        results: result([
          { title: 'one', status: 'passed' },
          { title: 'two', status: 'failed' },
        ]),
      },
      {
        name: 'b',
        results: result([
          { title: 'three', status: 'passed' },
          { title: 'four [skipped: needs root]', status: 'pending' },
        ]),
      },
    ]);
    expect(s.line).toBe('2 passed, 1 failed, 1 skipped');
    expect(s.rows).toEqual(['a: 1 passed, 1 failed, 0 skipped', 'b: 1 passed, 0 failed, 1 skipped']);
  });

  test('a skip whose describe states the reason is fine', () => {
    const s = summarize([
      {
        name: 'a',
        results: result([
          { title: 'x', status: 'pending', ancestorTitles: ['golden frames [skipped: golden.json not found]'] },
        ]),
      },
    ]);
    expect(s).toMatchObject({ failed: 0, skipped: 1, unexplained: [] });
  });

  test('a skip without a stated reason fails the run and is named', () => {
    const s = summarize([
      {
        name: 'pkg',
        results: result([
          { title: 'ok', status: 'passed' },
          { title: 'quietly skipped', status: 'pending', ancestorTitles: ['suite'] },
          { title: 'later', status: 'todo' },
        ]),
      },
    ]);
    expect(s.unexplained).toEqual(['pkg: suite > quietly skipped', 'pkg: later']);
    expect(s.line).toBe('1 passed, 2 failed, 2 skipped');
  });

  test('a package whose suite did not run counts as a failure', () => {
    expect(summarize([{ name: 'gone', results: undefined }]).line).toBe('0 passed, 1 failed, 0 skipped');
  });
});
