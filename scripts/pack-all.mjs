#!/usr/bin/env node
// `npx -y pnpm@10.34.9 pack:all`: packs every public package of packages/* into one folder
// (default ./dist-packages), as `pnpm publish` would publish it: `workspace:` ranges rewritten to
// versions, devDependencies and scripts dropped (.pnpmfile.cjs). The packages must be built first
// (the pack:all script runs the build). Then, in any app:
//   npm install /path/to/socketkit/dist-packages/*.tgz
// one install line that works although nothing is on npm yet, because the tarball of every
// @socketkit dependency is in the same line. Prints the tarballs, one per line.
//
// usage: node scripts/pack-all.mjs [--out DIR]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
if (args.length > 0 && (outAt !== 0 || args.length !== 2)) {
  console.error('usage: node scripts/pack-all.mjs [--out DIR]');
  process.exit(2);
}
const out = resolve(outAt === 0 ? args[1] : join(root, 'dist-packages'));

/** The public packages of packages/*, by directory name. */
function publicPackages() {
  const found = [];
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    const manifest = join(root, 'packages', name, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
    if (pkg.private !== true) found.push({ dir: join(root, 'packages', name), name: pkg.name, version: pkg.version });
  }
  return found;
}

const packages = publicPackages();
const unbuilt = packages.filter((p) => !existsSync(join(p.dir, 'dist/index.js'))).map((p) => p.name);
if (unbuilt.length > 0) {
  console.error(`not built: ${unbuilt.join(', ')}; run "npx -y pnpm@10.34.9 build" first (pack:all does)`);
  process.exit(1);
}

mkdirSync(out, { recursive: true });
// A re-run replaces the tarballs of the same version; older versions' tarballs are removed so that
// `npm install dist-packages/*.tgz` never sees two versions of one package.
for (const f of readdirSync(out)) if (f.endsWith('.tgz')) rmSync(join(out, f));
const pnpm = process.env.npm_execpath?.includes('pnpm')
  ? [process.execPath, [process.env.npm_execpath]]
  : ['npx', ['-y', 'pnpm@10.34.9']];
for (const p of packages) {
  execFileSync(pnpm[0], [...pnpm[1], 'pack', '--pack-destination', out], {
    cwd: p.dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const tarballs = readdirSync(out)
  .filter((f) => f.endsWith('.tgz'))
  .sort();
if (tarballs.length !== packages.length) {
  console.error(`expected ${packages.length} tarballs in ${out}, found ${tarballs.length}: ${tarballs.join(', ')}`);
  process.exit(1);
}
const shown = relative(process.cwd(), out) || '.';
for (const t of tarballs) console.log(join(shown, t));
console.error(
  `\n${tarballs.length} packages in ${shown}/. In your app (nothing is on npm yet):\n  npm install ` +
    `${join(out, '*.tgz')}`,
);
