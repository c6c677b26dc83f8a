#!/usr/bin/env node
// The README's test command ends here: installs the system packages tests need,
// builds and tests every workspace package through turbo (cached), then totals
// the per-package jest results into one closing line: "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const setup = spawnSync('bash', [join(root, 'scripts/ensure-system-deps.sh')], { stdio: 'inherit' });
if (setup.status !== 0) {
  console.error('system dependency setup failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const turboBin = join(root, 'node_modules/.bin/turbo');
const run = spawnSync(turboBin, ['run', 'test', '--continue', '--concurrency=1', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});

let passed = 0;
let failed = 0;
const rows = [];
for (const group of ['packages', 'examples', '.']) {
  const dir = join(root, group);
  const names = group === '.' ? ['bench'] : existsSync(dir) ? readdirSync(dir) : [];
  for (const name of names) {
    const pkgDir = join(dir, name);
    if (!existsSync(join(pkgDir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    if (!pkg.scripts?.test) continue;
    const file = join(pkgDir, '.jest-results.json');
    if (!existsSync(file)) {
      rows.push(`${pkg.name}: no results (suite did not run)`);
      failed += 1;
      continue;
    }
    const r = JSON.parse(readFileSync(file, 'utf8'));
    // A suite that failed to load counts as a failure even though it ran no test.
    const brokenSuites = r.numRuntimeErrorTestSuites ?? 0;
    passed += r.numPassedTests;
    failed += r.numFailedTests + brokenSuites;
    rows.push(`${pkg.name}: ${r.numPassedTests} passed, ${r.numFailedTests + brokenSuites} failed`);
  }
}
console.log('\nper package:\n  ' + rows.join('\n  '));
const ok = run.status === 0 && failed === 0 && passed > 0;
if (!ok && failed === 0) failed = 1; // turbo itself failed (e.g. a build error)
console.log(`${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
