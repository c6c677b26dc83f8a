// The runtimes of runtimes.json and how to get each one from the npm registry.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `{ id, label, package, version }` for each runtime, in run order. */
export const RUNTIMES = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'runtimes.json'), 'utf8'),
).runtimes;

// Generous: the first run on a machine downloads the runtime (tens of MB).
const INSTALL_TIMEOUT_MS = 300_000;

/** How to ask each runtime for its own binary, and how to run a script with it. */
export const KINDS = {
  node: { probe: ['-p', 'process.execPath'], run: (file) => [file] },
  bun: { probe: ['-e', 'console.log(process.execPath)'], run: (file) => [file] },
  deno: {
    probe: ['eval', 'console.log(Deno.execPath())'],
    // The permissions socketkit needs: files and sockets, the network (tcp),
    // the environment (configuration) and the uid (socket-dir ownership check).
    run: (file) => [
      'run',
      '--no-prompt',
      '--no-lock',
      '--allow-read',
      '--allow-write',
      '--allow-net',
      '--allow-env',
      '--allow-sys=uid',
      file,
    ],
  },
};

/** Installs (or finds in the npx cache) one runtime; returns its binary path. */
export function resolveRuntime(rt) {
  const kind = KINDS[rt.package];
  if (kind === undefined) throw new Error(`unknown runtime package "${rt.package}" in runtimes.json`);
  // Outside the workspace, so npx never picks a local bin of the same name.
  const install = () =>
    spawnSync('npx', ['-y', `${rt.package}@${rt.version}`, ...kind.probe], {
      cwd: tmpdir(),
      encoding: 'utf8',
      timeout: INSTALL_TIMEOUT_MS,
    });
  let r = install();
  if (r.status !== 0) r = install(); // one retry: a registry hiccup is not a runtime failure
  const bin = r.stdout?.trim().split('\n').at(-1);
  if (r.status !== 0 || !bin) {
    throw new Error(
      `npx -y ${rt.package}@${rt.version} failed (${r.error?.message ?? `exit ${r.status}`}): ` +
        `${r.stderr?.trim().slice(-500)}`,
    );
  }
  return bin;
}
