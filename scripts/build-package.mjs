#!/usr/bin/env node
// The build of a published package (its `build` script, run by turbo in the package's directory):
//   node ../../scripts/build-package.mjs [--inline PKG]... [entry.ts ...]
// (entries relative to src/, default index.ts).
// 1. tsc -p tsconfig.build.json --emitDeclarationOnly: the .d.ts files and their maps, as before (TypeDoc, the API
//    snapshots of repo-checks and every TypeScript consumer read these);
// 2. esbuild bundles the package's OWN modules into one ES module per entry (dist/<entry>.js + .js.map), so that an
//    import reads a handful of files instead of resolving, stat-ing and compiling ~40 (issue 28: cold start).
//    Every bare import stays external: other @socketkit packages keep one copy of their classes and module state
//    (instanceof across packages), third-party packages stay the user's dependencies. Several entries of one package
//    (`@socketkit/core`, `/internal`, `/net`) and its dynamic imports share code through chunks (dist/chunk-*.js),
//    never through copies, so a class has one identity whichever subpath it was imported from. A chunk may order
//    the modules of an import cycle differently from Node (esbuild), so a package built from several entries must
//    have no cycle (core: repo-checks' core-wings rule "no-cycles"). @socketkit/cli (args.ts and broker-args.ts
//    import each other) bundles only its command, bin.ts, whose dynamic imports stay chunks of their own (a
//    single-file bundle would hoist the imports of the commands it loads on demand: node:http, the tcp transport).
//    --tsc-js: tsc also emits every module's JavaScript (the package's other entries use it, unbundled), and the
//    listed entries are bundled over theirs.
//    --inline PKG: the parts of third-party package PKG that the package uses are bundled in (tree-shaken). Only
//    for a package with no identity or state our code or a user could depend on (valibot: schemas are plain objects
//    that carry their own `~run`, we only call safeParse/is, never throw its ValiError nor read its global config);
//    it stays a dependency for the types that the .d.ts files name. Its license notice heads each output file.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const inline = new Set();
const entries = [];
let tscJs = false;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--inline') inline.add(process.argv[++i]);
  else if (process.argv[i] === '--tsc-js') tscJs = true;
  else entries.push(process.argv[i]);
}
if (entries.length === 0) entries.push('index.ts');
const pkgRequire = createRequire(join(process.cwd(), 'package.json'));

rmSync('dist', { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', ...(tscJs ? [] : ['--emitDeclarationOnly'])],
  { stdio: 'inherit' },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const { engines } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const esbuild = require('esbuild');
/** The package name of a bare specifier (`@scope/name/sub` → `@scope/name`), or undefined for a relative path. */
const packageOf = (spec) => (/^[./]/.test(spec) ? undefined : spec.split('/', spec.startsWith('@') ? 2 : 1).join('/'));
const banner = [...inline]
  .map((name) => {
    let dir = dirname(pkgRequire.resolve(name));
    while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
    const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const text = readFileSync(join(dir, file), 'utf8').trim();
    const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    return `/*! Parts of ${name} (${version}) are bundled in this file:\n${text}\n*/`;
  })
  .join('\n');
let result;
try {
  result = await esbuild.build({
    entryPoints: entries.map((e) => join('src', e)),
    outbase: 'src',
    outdir: 'dist',
    chunkNames: '[name]-[hash]',
    metafile: true,
    bundle: true,
    splitting: true,
    plugins: [
      {
        name: 'external-packages',
        setup(build) {
          build.onResolve({ filter: /^[^./]/ }, (args) =>
            inline.has(packageOf(args.path)) ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
    ...(banner === '' ? {} : { banner: { js: banner } }),
    format: 'esm',
    platform: 'node',
    target: `node${/\d+(\.\d+)*/.exec(engines.node)[0]}`,
    tsconfig: 'tsconfig.build.json',
    // No keepNames: its __name() call per function and class cost ~4 ms of CPU per import of @socketkit/unix
    // (issue 28). A name two modules share gets a suffix in the bundle; for a class (error names, constructor.name)
    // the check below refuses that.
    sourcemap: 'linked',
    // The sources ship beside dist (package.json `files`): maps point at them instead of embedding them.
    sourcesContent: false,
    logLevel: 'warning',
  });
} catch {
  process.exit(1); // esbuild printed the errors
}

// A class keeps its source name: refuse a bundle where esbuild renamed one because two modules declare it.
const CLASS = /\bclass\s+(?!extends\b)([A-Za-z_$][\w$]*)|\b(?:var|let|const)\s+([A-Za-z_$][\w$]*)\s*=\s*class\b/g;
const classes = (text) => [...text.matchAll(CLASS)].map((m) => m[1] ?? m[2]);
for (const [out, { inputs }] of Object.entries(result.metafile.outputs)) {
  if (!out.endsWith('.js')) continue;
  const declared = new Set(Object.keys(inputs).flatMap((input) => classes(readFileSync(input, 'utf8'))));
  for (const name of classes(readFileSync(out, 'utf8'))) {
    if (!declared.has(name)) {
      console.error(
        `${out}: class ${name} is not a name of the sources (renamed by the bundler?): rename one of the two`,
      );
      process.exit(1);
    }
  }
}

// A module that finds a file relative to its own URL (`new URL('../package.json', import.meta.url)`) must land at
// the same depth under dist/ as it has under src/: refuse a bundle that moved one.
const depth = (path, base) =>
  relative(base, dirname(path))
    .split('/')
    .filter((p) => p !== '').length;
for (const [out, { inputs }] of Object.entries(result.metafile.outputs)) {
  for (const input of Object.keys(inputs)) {
    if (!input.startsWith('src/')) continue;
    if (
      !/import\.meta\.url\)\s*\)?\s*\(?\s*['"`]\.|\(\s*['"`]\.[^'"`]*['"`]\s*,\s*import\.meta\.url/.test(
        readFileSync(input, 'utf8'),
      )
    )
      continue;
    if (depth(input, 'src') !== depth(out, 'dist')) {
      console.error(`${input} resolves a path relative to import.meta.url but was bundled into ${out} (another depth)`);
      process.exit(1);
    }
  }
}

// A map's sources inside node_modules (an inlined package) point at the workspace's pnpm store: point them at the
// package as an install places it beside this one (node_modules/<name>/...).
if (inline.size > 0) {
  for (const file of listMaps('dist')) {
    const map = JSON.parse(readFileSync(file, 'utf8'));
    map.sources = map.sources.map((src) => {
      const at = src.lastIndexOf('/node_modules/');
      return at < 0 ? src : join(relative(dirname(file), '.'), src.slice(at + 1));
    });
    writeFileSync(file, JSON.stringify(map));
  }
}

function listMaps(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listMaps(join(dir, e.name)) : e.name.endsWith('.js.map') ? [join(dir, e.name)] : [],
  );
}
