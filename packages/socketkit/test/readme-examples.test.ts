/**
 * Docs that run: every code block of the root README and of each package and
 * example README whose info string says `runnable` (```ts runnable) is
 * compiled with `tsc --strict` against the built packages and run with a
 * timeout; each must exit 0 on its own. The blocks resolve the packages
 * through symlinks in a temporary node_modules, as an application would.
 * The literal `/tmp/sockets` in a block is replaced by a private temporary
 * directory so that parallel runs do not collide.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const RUN_TIMEOUT = 30_000;

interface Block {
  name: string;
  readme: string;
  line: number;
  code: string;
}

function readmes(): string[] {
  const files = ['README.md'];
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, group)).sort()) {
      if (existsSync(join(root, group, name, 'README.md'))) files.push(join(group, name, 'README.md'));
    }
  }
  return files;
}

function extract(): Block[] {
  const blocks: Block[] = [];
  for (const readme of readmes()) {
    const text = readFileSync(join(root, readme), 'utf8');
    const fence = /^```(?:ts|typescript|js|javascript)[ \t]+runnable[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
    for (let m = fence.exec(text); m !== null; m = fence.exec(text)) {
      const line = text.slice(0, m.index).split('\n').length;
      blocks.push({ name: `${readme.replace(/[/.]/g, '_')}_L${line}`, readme, line, code: m[1] as string });
    }
  }
  return blocks;
}

const blocks = extract();
let dir: string;
let socketDir: string;
let compileErrors = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sk-readme-'));
  socketDir = mkdtempSync(join(tmpdir(), 'sk-'));
  // node_modules with every public package, as an installed application sees them.
  mkdirSync(join(dir, 'node_modules/@socketkit'), { recursive: true });
  for (const name of readdirSync(join(root, 'packages'))) {
    const pkgDir = join(root, 'packages', name);
    const manifest = join(pkgDir, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; private?: boolean };
    if (pkg.private === true) continue;
    if (!existsSync(join(pkgDir, 'dist/index.js')))
      throw new Error(`${pkgDir}/dist is missing: run "turbo run build" first`);
    symlinkSync(pkgDir, join(dir, 'node_modules', pkg.name), 'dir');
  }
  // The schema library of the typed-payload examples, as an application would install it.
  symlinkSync(join(root, 'packages/config/node_modules/valibot'), join(dir, 'node_modules/valibot'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme-blocks', private: true, type: 'module' }));
  for (const b of blocks) writeFileSync(join(dir, `${b.name}.ts`), b.code.replaceAll('/tmp/sockets', socketDir));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        skipLibCheck: true,
        outDir: 'out',
        rootDir: '.',
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
      },
      include: ['*.ts'],
    }),
  );
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, timeout: 180_000 }).catch(
    (e: { stdout: string }) => {
      compileErrors = e.stdout;
    },
  );
}, 240_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(socketDir, { recursive: true, force: true });
});

describe('README code blocks marked runnable', () => {
  test('there are some, in the root README and the package READMEs', () => {
    expect(blocks.some((b) => b.readme === 'README.md')).toBe(true);
    expect(new Set(blocks.map((b) => b.readme)).size).toBeGreaterThan(4);
  });

  test.each(blocks.map((b) => [`${b.readme}:${b.line}`, b] as const))(
    '%s compiles and exits 0 on its own',
    async (_where, b) => {
      const own = compileErrors
        .split('\n')
        .filter((l) => l.startsWith(`${b.name}.ts`))
        .join('\n');
      expect(own).toBe('');
      const env: NodeJS.ProcessEnv = { ...process.env, SOCKET_DIR: socketDir };
      delete env.SOCKET_LOG_LEVEL; // the block runs with the library's defaults
      const r = await run(process.execPath, [join(dir, 'out', `${b.name}.js`)], {
        cwd: dir,
        env,
        timeout: RUN_TIMEOUT,
      }).then(
        () => ({ code: 0, killed: false, stderr: '' }),
        (e: { code: number | null; killed: boolean; stderr: string }) => ({
          code: e.code,
          killed: e.killed,
          stderr: e.stderr,
        }),
      );
      expect({ where: `${relative(root, join(root, b.readme))}:${b.line}`, ...r }).toEqual({
        where: `${b.readme}:${b.line}`,
        code: 0,
        killed: false,
        stderr: '',
      });
    },
    RUN_TIMEOUT + 10_000,
  );
});
