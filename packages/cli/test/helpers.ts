import { afterEach, beforeAll, beforeEach } from '@jest/globals';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(pkgDir, 'dist/bin.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

/** Builds the CLI when dist/bin.js is missing or older than src (turbo usually did it already). */
export function ensureBuilt(): void {
  for (const dep of ['socketkit', 'unix', 'tcp']) {
    if (!existsSync(join(pkgDir, '..', dep, 'dist/index.js')))
      throw new Error(`packages/${dep} is not built: run "turbo run build" first`);
  }
  if (existsSync(BIN) && statSync(BIN).mtimeMs >= newestMtime(join(pkgDir, 'src'))) return;
  const r = spawnSync(
    process.execPath,
    [join(pkgDir, '../../node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: pkgDir,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`building the CLI failed:\n${r.stdout}${r.stderr}`);
}

/** A running `socketkit` process with its output collected. */
export interface Cli {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` on the stream; rejects if the process exits first. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

const running = new Set<ChildProcessWithoutNullStreams>();

/** Environment without SOCKET_* variables, so the user's settings do not leak into tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SOCKET_')));
}

/** Spawns `node dist/bin.js ...args` in `cwd` (a temp dir, so no stray .env is read). */
export function cli(args: string[], cwd: string): Cli {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(), stdio: 'pipe' });
  running.add(child);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    for (const l of listeners) l();
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    for (const l of listeners) l();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', (code) => {
      running.delete(child);
      resolve(code);
      for (const l of listeners) l();
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(stream, pattern) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = (stream === 'stdout' ? out : err).match(pattern);
          if (m !== null) {
            listeners.delete(check);
            resolve(m);
          } else if (done) {
            listeners.delete(check);
            reject(
              new Error(
                `socketkit ${args.join(' ')} exited before printing ${pattern} on ` +
                  `${stream}\nstdout:\n${out}\nstderr:\n${err}`,
              ),
            );
          }
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs `socketkit ...args` to completion, feeding `input` on stdin. */
export async function runCli(
  args: string[],
  cwd: string,
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = cli(args, cwd);
  p.child.stdin.end(input);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Kills every process still running (afterEach). */
export async function killAll(): Promise<void> {
  const waits = [...running].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('close', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
}

/** Parses JSON lines. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * The set-up most CLI test files share: the CLI built once, and per test a
 * fresh private (0700) temporary directory handed to `use`; after each test
 * every CLI process it started is killed and the directory removed.
 */
export function useTestDir(prefix: string, use: (dir: string) => void): void {
  let dir = '';
  beforeAll(ensureBuilt);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    chmodSync(dir, 0o700);
    use(dir);
  });
  afterEach(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });
}
