#!/usr/bin/env node
// The README's test command ends here: installs the system packages tests need,
// builds and tests every workspace package through turbo (cached), then totals
// the per-package jest results into one closing line: "N passed, N failed, N skipped"
// (scripts/test-summary.mjs; a test skipped without a stated reason fails the run).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize } from './test-summary.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const setup = spawnSync('bash', [join(root, 'scripts/ensure-system-deps.sh')], { stdio: 'inherit' });
if (setup.status !== 0) {
  console.error('system dependency setup failed');
  console.log('0 passed, 1 failed, 0 skipped');
  process.exit(1);
}

const turboBin = join(root, 'node_modules/.bin/turbo');
const run = spawnSync(turboBin, ['run', 'test', '--continue', '--concurrency=1', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});

const packages = [];
for (const group of ['packages', 'examples', '.']) {
  const dir = join(root, group);
  const names = group === '.' ? ['bench'] : existsSync(dir) ? readdirSync(dir) : [];
  for (const name of names) {
    const pkgDir = join(dir, name);
    if (!existsSync(join(pkgDir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    if (!pkg.scripts?.test) continue;
    const file = join(pkgDir, '.jest-results.json');
    packages.push({ name: pkg.name, results: existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined });
  }
}
const summary = summarize(packages);
console.log(`\nper package:\n  ${summary.rows.join('\n  ')}`);
if (summary.unexplained.length > 0) {
  console.log(
    '\nskipped without a stated reason (put "[skipped: <why>]" in the test or describe name):\n  ' +
      summary.unexplained.join('\n  '),
  );
}
const ok = run.status === 0 && summary.failed === 0 && summary.passed > 0;
// turbo itself failed (e.g. a build error): never close on "0 failed".
const failed = !ok && summary.failed === 0 ? 1 : summary.failed;
console.log(`${summary.passed} passed, ${failed} failed, ${summary.skipped} skipped`);
process.exit(ok ? 0 : 1);
