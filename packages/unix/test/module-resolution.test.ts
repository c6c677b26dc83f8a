// A socketkit process loads modules correctly afterwards. Node's realpath (used by `import` and `require`) reads the
// result of the process's last synchronous stat and stops following symlinks when it names a socket (nodejs/node
// issue 51142): a plain lstat of a socket file made the next package loaded through a pnpm symlink resolve to the
// link's own path, where its dependencies are not found ("Cannot find module 'tslib'").
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';

const fixture = fileURLToPath(new URL('./fixtures/resolve-after-stale.mjs', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function run(mode: 'server' | 'client', stale: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'sk-resolve-'));
  dirs.push(dir);
  // A socket file nobody listens on, as a SIGKILLed server leaves behind.
  if (stale) {
    execFileSync('python3', [
      '-c',
      'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
      join(dir, 'resolve.sock'),
    ]);
  }
  const out = execFileSync(process.execPath, [fixture, dir, mode], { encoding: 'utf8' });
  return (JSON.parse(out.trim().split('\n').at(-1) as string) as { resolved: string }).resolved;
}

describe('module resolution after socketkit stats a socket file', () => {
  it.each([
    ['a server started over a stale socket', 'server', true],
    ['a client that connected', 'client', false],
  ] as const)('%s: a package behind a pnpm symlink resolves to its real path', (_title, mode, stale) => {
    const resolved = run(mode, stale);
    expect(resolved).toContain('/packages/config/package.json');
    expect(resolved).not.toContain('/node_modules/@socketkit/config/');
  });
});
