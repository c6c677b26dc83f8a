#!/usr/bin/env node
// The wings of @socketkit/core/src (packages/core/.dependency-cruiser.cjs, docs/architecture.md):
//   node scripts/core-wings.mjs rules     core/src breaks no wing rule and has no cycle
//   node scripts/core-wings.mjs canfail   the same rules, run on fixtures/broken-core, report each broken rule
//                                         (a check that cannot fail is a defect)
//   node scripts/core-wings.mjs size      no file of core/src is longer than MAX_LINES
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
const coreDir = join(root, 'packages/core');
const config = createRequire(import.meta.url)(join(coreDir, '.dependency-cruiser.cjs'));
/** Longest file allowed in core/src: a file past it holds more than one concern. */
const MAX_LINES = 550;

async function violations(dir) {
  const cwd = process.cwd();
  process.chdir(dir); // the rules' paths are relative to the package (`^src/...`)
  try {
    const result = await cruise(['src'], {
      ...config.options,
      ruleSet: { forbidden: config.forbidden },
      validate: true,
    });
    return result.output.summary.violations;
  } finally {
    process.chdir(cwd);
  }
}

const describe = (v) =>
  `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name ?? c).join(' → ')})` : ''}`;

const mode = process.argv[2];
if (mode === 'rules') {
  const found = await violations(coreDir);
  for (const v of found) console.error(describe(v));
  console.log(`core wings: ${found.length} violation(s)`);
  process.exit(found.length === 0 ? 0 : 1);
} else if (mode === 'canfail') {
  const found = await violations(join(here, '../fixtures/broken-core'));
  const broken = new Set(found.map((v) => v.rule.name));
  const expected = [
    'no-cycles',
    'wire-is-the-bottom',
    'server-never-client',
    'client-never-server',
    'every-file-in-a-wing',
  ];
  const missed = expected.filter((name) => !broken.has(name));
  for (const name of missed) console.error(`the fixture breaks ${name} but the check did not report it`);
  console.log(`broken-core fixture: ${found.length} violation(s) of ${[...broken].sort().join(', ')}`);
  process.exit(missed.length === 0 ? 0 : 1);
} else if (mode === 'size') {
  const walk = (d) =>
    readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  const long = walk(join(coreDir, 'src'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ f: relative(coreDir, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
    .filter((x) => x.lines > MAX_LINES);
  for (const x of long) console.error(`${x.f}: ${x.lines} lines (at most ${MAX_LINES}: carve out a concern)`);
  process.exit(long.length === 0 ? 0 : 1);
} else {
  console.error('usage: core-wings.mjs rules|canfail|size');
  process.exit(2);
}
