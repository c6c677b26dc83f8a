#!/usr/bin/env node
// Whole-repository checks, run by the test command as this package's `test`
// (never cached: they read the whole tree, not this package's inputs). Each
// check is one test in .jest-results.json, totalled by scripts/test-all.mjs.
//
// pnpm lint runs in full (no --tolerate-format): a tsc error, a Biome finding
// (warnings included), a formatting difference or a line longer than
// biome.json's lineWidth fails the check.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(pkgDir, '../..');

const CHECKS = [
  {
    title: 'pnpm lint: tsc, Biome lint, formatting and line width',
    cmd: process.execPath,
    args: [join(root, 'scripts/lint.mjs')],
  },
  {
    title: 'pnpm api-docs: TypeDoc builds the API reference with no broken link or undocumented export',
    cmd: join(root, 'node_modules/.bin/typedoc'),
    args: ['--logLevel', 'Warn'],
  },
  {
    title:
      'core wings: no import cycle in @socketkit/core/src and no import across a wing rule (.dependency-cruiser.cjs)',
    cmd: process.execPath,
    args: [join(pkgDir, 'scripts/core-wings.mjs'), 'rules'],
  },
  {
    title: 'core wings: the same rules report every rule a broken fixture breaks (the check can fail)',
    cmd: process.execPath,
    args: [join(pkgDir, 'scripts/core-wings.mjs'), 'canfail'],
  },
  {
    title: 'core wings: no file of @socketkit/core/src is over 550 lines',
    cmd: process.execPath,
    args: [join(pkgDir, 'scripts/core-wings.mjs'), 'size'],
  },
];

const assertionResults = [];
for (const check of CHECKS) {
  const r = spawnSync(check.cmd, check.args, { cwd: root, stdio: 'inherit' });
  const ok = r.status === 0;
  console.log(`${ok ? 'ok' : 'FAILED'}: ${check.title}`);
  assertionResults.push({
    ancestorTitles: ['repository checks'],
    title: check.title,
    fullName: check.title,
    status: ok ? 'passed' : 'failed',
    failureMessages: ok ? [] : [`${check.cmd} ${check.args.join(' ')}: ${r.error?.message ?? `exit ${r.status}`}`],
  });
}

const passed = assertionResults.filter((a) => a.status === 'passed').length;
const failed = assertionResults.length - passed;
writeFileSync(
  join(pkgDir, '.jest-results.json'),
  JSON.stringify(
    {
      numPassedTests: passed,
      numFailedTests: failed,
      numPendingTests: 0,
      numTodoTests: 0,
      numTotalTests: assertionResults.length,
      numRuntimeErrorTestSuites: 0,
      success: failed === 0,
      testResults: [{ name: 'repository checks', status: failed === 0 ? 'passed' : 'failed', assertionResults }],
    },
    null,
    2,
  ),
);
process.exit(failed === 0 ? 0 : 1);
