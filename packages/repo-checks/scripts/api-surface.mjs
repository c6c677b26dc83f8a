#!/usr/bin/env node
// The public API of every published package, as text: each export of its main entry with its type (classes with
// their base, constructor, statics and members; interfaces and aliases with their properties). One file per package
// in ../api/, compared by the repo checks, so a change of any exported name or signature shows in review.
//   node scripts/api-surface.mjs           compare with ../api/*.api.txt (exit 1 on a difference, printed as a diff)
//   node scripts/api-surface.mjs --update  write ../api/*.api.txt (after an intended API change)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
const ts = createRequire(join(root, 'package.json'))('typescript');
// Every published package: each folder of packages/ whose package.json is not private (a new one is in at once).
const PACKAGES = readdirSync(join(root, 'packages'))
  .filter((name) => existsSync(join(root, 'packages', name, 'package.json')))
  .filter((name) => JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).private !== true)
  .sort();

function surface(entry) {
  const program = ts.createProgram([entry], {
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
  });
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(entry);
  const mod = checker.getSymbolAtLocation(sf);
  const out = [];
  const flags = ts.TypeFormatFlags.NoTruncation;
  for (const sym of checker.getExportsOfModule(mod)) {
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const decl = target.declarations?.[0];
    let text = '';
    if (target.flags & ts.SymbolFlags.Class) {
      const t = checker.getTypeOfSymbolAtLocation(target, decl);
      const inst = checker.getDeclaredTypeOfSymbol(target);
      const bases = inst.getBaseTypes?.() ?? [];
      const members = checker
        .getPropertiesOfType(inst)
        .map((p) => `${p.name}: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(p, decl), undefined, flags)}`)
        .sort();
      const statics = checker
        .getPropertiesOfType(t)
        .map((p) => p.name)
        .sort();
      text = `class extends [${bases.map((b) => checker.typeToString(b)).join(',')}] ctor(${checker
        .getSignaturesOfType(t, ts.SignatureKind.Construct)
        .map((s) => checker.signatureToString(s, undefined, flags))
        .join(' | ')}) statics[${statics}] {${members.join('; ')}}`;
    } else if (target.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) {
      const t = checker.getDeclaredTypeOfSymbol(target);
      const props = checker
        .getPropertiesOfType(t)
        .map((p) => {
          const type = checker.typeToString(checker.getTypeOfSymbolAtLocation(p, decl), undefined, flags);
          return `${p.name}${p.flags & ts.SymbolFlags.Optional ? '?' : ''}: ${type}`;
        })
        .sort();
      text = `type ${checker.typeToString(t, undefined, flags)} {${props.join('; ')}}`;
    } else {
      const t = checker.getTypeOfSymbolAtLocation(target, decl);
      text = checker.typeToString(t, undefined, flags);
    }
    out.push(`${sym.name} :: ${text}`);
  }
  return `${out
    .sort()
    .join('\n')
    .replace(
      /import\("[^"]*\/packages\/([^/"]+)\/dist\/[^"]*"(, \{ with: \{ "resolution-mode": "import" \} \})?\)/g,
      'import(@socketkit/$1)',
    )
    .replace(/@[0-9]+/g, '@N')}\n`;
}

const apiDir = join(here, '../api');
const update = process.argv.includes('--update');
let differ = 0;
for (const name of PACKAGES) {
  const text = surface(join(root, 'packages', name, 'dist/index.d.ts'));
  const file = join(apiDir, `${name}.api.txt`);
  if (update) {
    mkdirSync(apiDir, { recursive: true });
    writeFileSync(file, text);
    continue;
  }
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (before === text) continue;
  differ++;
  const fresh = join(tmpdir(), `socketkit-${name}.api.txt`);
  writeFileSync(fresh, text);
  spawnSync('diff', ['-u', file, fresh], { stdio: 'inherit' });
  console.error(
    `${name}: the public API changed (above). If that is intended: node ${join(here, 'api-surface.mjs')} --update`,
  );
}
process.exit(differ === 0 ? 0 : 1);
