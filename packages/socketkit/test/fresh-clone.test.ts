/**
 * Quiet set-up: a fresh clone's `pnpm install --frozen-lockfile` and build
 * print no warning on a supported Node (the machine's, >= 20.19). The test
 * clones the committed HEAD of this repository (SOCKETKIT_FRESH_CLONE_REF
 * names another commit, e.g. to measure an older one) into a temp dir, runs
 * the README's install and `pnpm build` there (the pnpm store is shared, so
 * nothing is downloaded twice; the build is a real one, turbo's cache is not
 * copied), and checks both outputs for what a new user used to see: pnpm's
 * `WARN` (`Unsupported engine` from an `engines` field, `Failed to create
 * bin` for a command whose file the build writes later), the `Ignored build
 * scripts` box, and any `warn`/`deprecated` line. Then the `socketkit`
 * command that install linked runs.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const PNPM = ['-y', 'pnpm@10.34.9'];
const WARNING = /WARN|warn|Unsupported engine|Failed to create bin|Ignored build scripts|approve-builds|deprecated/;

const base = mkdtempSync(join(tmpdir(), 'sk-fresh-clone-'));
const clone = join(base, 'socketkit');

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

/** Runs a command in the clone with a plain environment (none of the workspace's npm_* variables); output merged. */
async function inClone(cmd: string, args: string[], timeout: number): Promise<{ code: number; out: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (/^(npm_|pnpm_|turbo_)/i.test(k)) delete env[k];
  env.FORCE_COLOR = '0';
  // The build shares this checkout's turbo cache: packages whose inputs are the same as here replay their build (and
  // its output, warnings included) instead of compiling again; anything that differs builds for real.
  env.TURBO_CACHE_DIR = join(root, '.turbo/cache');
  return run(cmd, args, { cwd: clone, env, timeout, maxBuffer: 64 * 1024 * 1024 }).then(
    (r) => ({ code: 0, out: `${r.stdout}${r.stderr}` }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }),
  );
}

const warnings = (out: string): string[] => out.split('\n').filter((l) => WARNING.test(l));

describe('a fresh clone installs and builds without a warning', () => {
  test('pnpm install --frozen-lockfile, then pnpm build: exit 0, no warning; the socketkit command works', async () => {
    const ref =
      process.env.SOCKETKIT_FRESH_CLONE_REF ?? (await run('git', ['rev-parse', 'HEAD'], { cwd: root })).stdout.trim();
    await run('git', ['clone', '--quiet', '--no-checkout', root, clone], { timeout: 60_000 });
    await run('git', ['checkout', '--quiet', ref], { cwd: clone });

    const install = await inClone('npx', [...PNPM, 'install', '--frozen-lockfile'], 120_000);
    expect({ step: 'install', code: install.code, warnings: warnings(install.out) }).toEqual({
      step: 'install',
      code: 0,
      warnings: [],
    });

    const build = await inClone('npx', [...PNPM, 'build'], 200_000);
    expect({ step: 'build', code: build.code, warnings: warnings(build.out) }).toEqual({
      step: 'build',
      code: 0,
      warnings: [],
    });

    // The command install linked before the build existed (a workspace package depends on the CLI).
    const help = await inClone(join(clone, 'packages/repo-checks/node_modules/.bin/socketkit'), ['--help'], 30_000);
    expect({ code: help.code, usage: help.out.includes('usage: socketkit <command>') }).toEqual({
      code: 0,
      usage: true,
    });
  }, 360_000);
});
