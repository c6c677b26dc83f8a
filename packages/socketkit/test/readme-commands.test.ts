/**
 * Commands that work as written: every command line of a ```sh / ```bash
 * block in the root README, docs/*.md and each package and example README is
 * checked the way the code blocks are compiled and run
 * (readme-examples.test.ts), and so is every `npx ...`, `pnpm ...` and
 * `npm ...` in running text:
 *
 * - `npx -y pnpm@10.34.9 <script>` (and `pnpm <script>`): the script exists in
 *   the root package.json, and pnpm, invoked with exactly the README's
 *   arguments, runs that script rather than a pnpm or npm built-in of the same
 *   name (`pnpm docs` opens npm's docs page and exits 0, building nothing).
 *   This runs pnpm for real in a scratch directory whose package.json has the
 *   same script names, each echoing a marker.
 * - `socketkit ...` and `npx @socketkit/cli ...`: the CLI's own parser accepts
 *   the command, its options and values (the line runs with `--help`
 *   appended, which the parser handles after validating every option).
 * - `npm install [-g] <names>`: each name is a public package of this repo.
 * - `node <file> ...`: the file exists after the build.
 * A few cheap commands also run for real (`socketkit ls --json`,
 * `pack:all --out` in install tests). An unknown program fails the test, so a
 * new kind of command needs a rule here.
 */
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(root, 'packages/cli/bin/socketkit.js');
/** pnpm commands the READMEs use as pnpm's own, not as scripts. */
const PNPM_BUILTINS = new Set(['install', 'add', 'exec', 'dlx']);
/** Programs a README line may start with that need no check of their own (they only feed a checked command). */
const PLAIN = new Set(['printf', 'echo', 'cat']);

interface Command {
  where: string;
  argv: string[];
}

function readmes(): string[] {
  const files = [
    'README.md',
    'CONTRIBUTING.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => join('docs', f)),
  ];
  for (const group of ['packages', 'examples', 'bench']) {
    const dir = join(root, group);
    if (group === 'bench') {
      if (existsSync(join(dir, 'README.md'))) files.push('bench/README.md');
      continue;
    }
    for (const name of readdirSync(dir).sort())
      if (existsSync(join(dir, name, 'README.md'))) files.push(join(group, name, 'README.md'));
  }
  return files;
}

/** Splits one shell line into words (quotes honoured, comment dropped) and the words into commands at && || | ; &. */
function commandsOf(line: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = (): void => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = (): void => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "'" || c === '"') {
      const close = line.indexOf(c, i + 1);
      if (close < 0) throw new Error(`unclosed quote in: ${line}`);
      word += line.slice(i + 1, close);
      inWord = true;
      i = close;
    } else if (c === '#' && !inWord) {
      break;
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else if (c === '&' || c === '|' || c === ';') {
      endCommand();
      if (line[i + 1] === c) i++;
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return commands;
}

function extract(): Command[] {
  const found: Command[] = [];
  for (const readme of readmes()) {
    const text = readFileSync(join(root, readme), 'utf8');
    const fence = /^```(?:sh|bash|shell)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
    for (let m = fence.exec(text); m !== null; m = fence.exec(text)) {
      const first = text.slice(0, m.index).split('\n').length + 1;
      (m[1] as string).split('\n').forEach((line, i) => {
        for (const argv of commandsOf(line)) {
          // Environment assignments before the program (VAR=value cmd).
          while (argv.length > 1 && /^[A-Z_][A-Z0-9_]*=/.test(argv[0] as string)) argv.shift();
          found.push({ where: `${readme}:${first + i}`, argv });
        }
      });
    }
    // Commands in running text (`npx -y pnpm@10.34.9 docs` builds it ...), outside the code blocks; `...` stands for
    // more arguments.
    const prose = text.replace(/^```[\s\S]*?^```[ \t]*$/gm, (block) => block.replace(/[^\n]/g, ' '));
    const span = /`((?:npx|pnpm|npm) [^`\n]+)`/g;
    for (let m = span.exec(prose); m !== null; m = span.exec(prose)) {
      const line = prose.slice(0, m.index).split('\n').length;
      for (const argv of commandsOf(m[1] as string)) {
        // A pattern such as `npx -y <package>@<version>` names no command.
        if (argv.slice(0, 3).some((a) => a.startsWith('<'))) continue;
        found.push({ where: `${readme}:${line}`, argv: argv.filter((a) => a !== '...') });
      }
    }
  }
  return found;
}

const commands = extract();
const rootScripts = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;
const publicNames = new Set<string>();
for (const name of readdirSync(join(root, 'packages'))) {
  const manifest = join(root, 'packages', name, 'package.json');
  if (!existsSync(manifest)) continue;
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; private?: boolean };
  if (pkg.private !== true) publicNames.add(pkg.name);
}

/** The pnpm arguments of a command (after `npx -y pnpm@x` or `pnpm`), or undefined when it is not pnpm. */
function pnpmArgs(argv: string[]): string[] | undefined {
  if (argv[0] === 'pnpm') return argv.slice(1);
  if (argv[0] === 'npx' && argv[1] === '-y' && /^pnpm@/.test(argv[2] ?? '')) return argv.slice(3);
  return undefined;
}

/** The first positional word of pnpm's arguments: the command or script name. */
function pnpmCommand(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--filter' || a === '-F') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

const kinds = {
  pnpm: [] as Command[],
  cli: [] as Command[],
  npmInstall: [] as Command[],
  node: [] as Command[],
  other: [] as Command[],
};
for (const c of commands) {
  const [program] = c.argv;
  if (pnpmArgs(c.argv) !== undefined) kinds.pnpm.push(c);
  else if (program === 'socketkit' || (program === 'npx' && c.argv.includes('@socketkit/cli'))) kinds.cli.push(c);
  else if (program === 'npm' && (c.argv[1] === 'install' || c.argv[1] === 'i')) kinds.npmInstall.push(c);
  else if (program === 'node') kinds.node.push(c);
  else if (!PLAIN.has(program as string)) kinds.other.push(c);
}

describe('README shell commands', () => {
  test('there are some of each kind, and none of a kind this test cannot check', () => {
    expect(kinds.pnpm.length).toBeGreaterThan(3);
    expect(kinds.cli.length).toBeGreaterThan(10);
    expect(kinds.npmInstall.length).toBeGreaterThan(3);
    expect(kinds.other.map((c) => `${c.where}: ${c.argv.join(' ')}`)).toEqual([]);
  });

  test('every pnpm script the READMEs name exists, and pnpm runs it as written, not a built-in of the same ' +
    'name', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'sk-readme-pnpm-'));
    try {
      const names = Object.keys(rootScripts);
      writeFileSync(
        join(scratch, 'package.json'),
        JSON.stringify({
          name: 'readme-commands',
          private: true,
          scripts: Object.fromEntries(names.map((n) => [n, `echo RAN-SCRIPT-${n}`])),
        }),
      );
      const seen = new Map<string, Command>();
      for (const c of kinds.pnpm) {
        const args = pnpmArgs(c.argv) as string[];
        const name = pnpmCommand(args);
        if (name === undefined || PNPM_BUILTINS.has(name)) continue;
        const filtered = args.includes('--filter') || args.includes('-F');
        expect({ where: c.where, name, filtered, defined: rootScripts[name] !== undefined }).toEqual({
          where: c.where,
          name,
          filtered: false,
          defined: true,
        });
        const key = args.join(' ');
        if (!seen.has(key)) seen.set(key, c);
      }
      expect(seen.size).toBeGreaterThan(3);
      for (const [, c] of seen) {
        const args = pnpmArgs(c.argv) as string[];
        const name = pnpmCommand(args) as string;
        const r = await run('npx', ['-y', 'pnpm@10.34.9', ...args], { cwd: scratch, timeout: 60_000 }).then(
          (o) => o.stdout,
          (e: { stdout: string; stderr: string }) => `${e.stdout}${e.stderr}`,
        );
        expect({
          where: c.where,
          command: c.argv.join(' '),
          ranTheScript: r.includes(`RAN-SCRIPT-${name}`),
          out: r.slice(0, 300),
        }).toMatchObject({
          where: c.where,
          command: c.argv.join(' '),
          ranTheScript: true,
        });
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 180_000);

  test('every socketkit command line is accepted by the CLI parser (options and values)', async () => {
    for (const c of kinds.cli) {
      const args = c.argv[0] === 'socketkit' ? c.argv.slice(1) : c.argv.slice(c.argv.indexOf('@socketkit/cli') + 1);
      // Placeholders such as <event> stand for a value.
      const concrete = args.map((a) => (/^<[^>]+>$/.test(a) ? 'jobs' : a));
      const r = await run(process.execPath, [CLI, ...concrete, ...(concrete.includes('--help') ? [] : ['--help'])], {
        cwd: root,
        timeout: 30_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      expect({ where: c.where, command: c.argv.join(' '), ...r }).toEqual({
        where: c.where,
        command: c.argv.join(' '),
        code: 0,
        stderr: '',
      });
    }
  }, 120_000);

  test('socketkit ls --json, as the README shows it, runs and prints JSON', async () => {
    expect(kinds.cli.some((c) => c.argv.join(' ') === 'socketkit ls --json')).toBe(true);
    const socketDir = mkdtempSync(join(tmpdir(), 'sk-'));
    try {
      const { stdout } = await run(process.execPath, [CLI, 'ls', '--json', '--socket-dir', socketDir], {
        cwd: socketDir,
        timeout: 30_000,
      });
      expect(JSON.parse(stdout)).toBeDefined();
    } finally {
      rmSync(socketDir, { recursive: true, force: true });
    }
  });

  test('every npm install names public packages of this repository', () => {
    for (const c of kinds.npmInstall) {
      const names = c.argv.slice(2).filter((a) => !a.startsWith('-'));
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        // A tarball from pack:all (./dist-packages/*.tgz) or a package name.
        const ok = name.endsWith('.tgz') ? /dist-packages\//.test(name) : publicNames.has(name);
        expect({ where: c.where, name, ok }).toEqual({ where: c.where, name, ok: true });
      }
    }
  });

  test('every node <file> names a file that the build writes', () => {
    for (const c of kinds.node) {
      const file = c.argv[1] as string;
      expect({ where: c.where, file, exists: existsSync(join(root, file)) }).toEqual({
        where: c.where,
        file,
        exists: true,
      });
    }
  });
});
