import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { SocketError } from '@socketkit/protocol';
import { UnixClientTransport, UnixServerTransport } from '../src/index.js';

/**
 * Review of issue 22 (filesystem): no descriptor and no private bind
 * directory is left behind by a start or a connect that fails, on each of
 * its failure paths.
 */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasProc = (() => {
  try {
    readdirSync('/proc/self/fd');
    return true;
  } catch {
    return false;
  }
})();
const fds = (): number => readdirSync('/proc/self/fd').length;

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'skfd-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
const ROUNDS = 200;

async function failing(what: () => Promise<unknown>): Promise<unknown> {
  try {
    await what();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

const title = 'unix: failing starts and connects leave no descriptor and no private directory (review of issue 22)';
(hasProc ? describe : describe.skip)(
  hasProc ? title : `${title} [skipped: no /proc/self/fd to count descriptors]`,
  () => {
    it('200 starts on a taken name, 200 on an insecure path and 200 with a too-long socketDir: fds unchanged, no ' +
      '.sk-* left', async () => {
      const d = dir();
      const live = new UnixServerTransport({ eventName: 'ev', socketDir: d, mode: 0o600, autoRemoveSocket: true });
      // the probes of the failing starts connect to it: their accepted ends are closed at once
      await live.listen((stream) => (stream as unknown as { destroy(): void }).destroy());
      cleanups.push(() => live.close());
      const open = join(d, 'open');
      mkdirSync(join(open, 'sub'), { recursive: true, mode: 0o700 });
      chmodSync(open, 0o777); // world-writable, not sticky: the path is refused
      const long = join(d, 'x'.repeat(60), 'y'.repeat(40));
      mkdirSync(long, { recursive: true, mode: 0o700 });
      // warm up lazily opened descriptors (libuv's threadpool, ...)
      await failing(() =>
        new UnixServerTransport({ eventName: 'ev', socketDir: d, mode: 0o600, autoRemoveSocket: true }).listen(
          () => undefined,
        ),
      );
      const before = fds();
      const codes = new Map<string, number>();
      for (let i = 0; i < ROUNDS; i++) {
        for (const socketDir of [d, join(open, 'sub'), long]) {
          const err = await failing(() =>
            new UnixServerTransport({ eventName: 'ev', socketDir, mode: 0o600, autoRemoveSocket: true }).listen(
              () => undefined,
            ),
          );
          expect(err).toBeInstanceOf(SocketError);
          const code = (err as SocketError).code;
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }
      expect(fds()).toBe(before);
      expect(Object.fromEntries(codes)).toEqual({
        ADDRESS_IN_USE: ROUNDS,
        INSECURE_SOCKET_DIR: ROUNDS,
        INVALID_CONFIG: ROUNDS,
      });
      for (const socketDir of [d, join(open, 'sub'), long])
        expect(readdirSync(socketDir).filter((n) => n.startsWith('.sk-'))).toEqual([]);
    }, 60_000);

    it("200 connects each: missing socket, stale socket, insecure directory and (as root) another user's socket: fds " +
      'unchanged', async () => {
      const d = dir();
      // a stale socket: bound by a process that exited without removing it
      const py = spawnSync('python3', [
        '-c',
        'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
        join(d, 'stale.sock'),
      ]);
      expect(py.status).toBe(0);
      const other = createServer();
      await new Promise<void>((r) => other.listen(join(d, 'other.sock'), r));
      cleanups.push(() => new Promise((r) => other.close(r)));
      if (asRoot) chownSync(join(d, 'other.sock'), 65534, 65534);
      const open = join(d, 'open');
      mkdirSync(open, { mode: 0o777 });
      chmodSync(open, 0o777);
      const targets = [
        new UnixClientTransport(d, 'missing'),
        new UnixClientTransport(d, 'stale'),
        new UnixClientTransport(open, 'ev'),
      ];
      // another user's socket (refused as insecure): only when root can give it to uid 65534
      if (asRoot) targets.push(new UnixClientTransport(d, 'other'));
      const ac = new AbortController();
      await failing(() => (targets[0] as UnixClientTransport).connect(ac.signal));
      const before = fds();
      let failed = 0;
      for (let i = 0; i < ROUNDS; i++) {
        for (const t of targets) {
          const err = await failing(() => t.connect(ac.signal));
          if (err instanceof SocketError) failed++;
        }
      }
      expect(failed).toBe(ROUNDS * targets.length);
      expect(fds()).toBe(before);
    }, 60_000);
  },
);
