import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ConnectionError, ErrorCode, SocketError } from '@socketkit/protocol';
import { UnixSocketClient, UnixSocketServer } from '../src/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const NOBODY = 65534;

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'skt-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
type ServerOpts = Partial<ConstructorParameters<typeof UnixSocketServer>[0]> & { socketDir: string };
type ClientOpts = Partial<ConstructorParameters<typeof UnixSocketClient>[0]> & { socketDir: string };
function server(opts: ServerOpts): UnixSocketServer {
  const s = new UnixSocketServer({ eventName: 'orders', logLevel: 'silent', envFile: false, ...opts });
  cleanups.push(() => s.stop());
  return s;
}
function client(opts: ClientOpts): UnixSocketClient {
  const c = new UnixSocketClient({
    eventName: 'orders',
    logLevel: 'silent',
    envFile: false,
    autoReconnect: false,
    ...opts,
  });
  cleanups.push(() => c.disconnect());
  return c;
}
async function connectError(c: UnixSocketClient): Promise<ConnectionError> {
  return (await c.connect({ waitForWelcome: true }).then(
    () => new ConnectionError(ErrorCode.CLOSED, 'connected'),
    (e: unknown) => e,
  )) as ConnectionError;
}

describe('client-side checks of the socket directory and file', () => {
  it(
    'a directory writable by anyone (no sticky bit) is refused with INSECURE_SOCKET_DIR naming it, unless ' +
      'allowInsecureDir',
    async () => {
      const socketDir = dir();
      const s = server({ socketDir, allowInsecureDir: true });
      chmodSync(socketDir, 0o777);
      await s.start();
      const err = await connectError(client({ socketDir }));
      expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
      expect(err.message).toContain(socketDir);
      expect(err.message).toContain('writable by any user');
      expect(s.getConnectedClients()).toHaveLength(0);
      const ok = client({ socketDir, allowInsecureDir: true });
      await ok.connect({ waitForWelcome: true });
      expect(s.getConnectedClients()).toHaveLength(1);
    },
  );

  it('a sticky-bit directory (like /tmp) is accepted when the socket file is yours', async () => {
    const socketDir = dir();
    chmodSync(socketDir, 0o1777);
    const s = server({ socketDir });
    await s.start();
    const c = client({ socketDir });
    await c.connect({ waitForWelcome: true });
    expect(s.getConnectedClients()).toHaveLength(1);
  });

  it('a group-writable directory needs its group in trustedGids (on server and client)', async () => {
    const socketDir = dir();
    chmodSync(socketDir, 0o770);
    const gid = statSync(socketDir).gid;
    const refused = await server({ socketDir })
      .start()
      .catch((e: unknown) => e);
    expect((refused as ConnectionError).code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
    const s = server({ socketDir, trustedGids: [gid] });
    await s.start();
    const err = await connectError(client({ socketDir }));
    expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
    expect(err.message).toContain('group-writable');
    const ok = client({ socketDir, trustedGids: [gid] });
    await ok.connect({ waitForWelcome: true });
    expect(s.getConnectedClients()).toHaveLength(1);
  });

  it('a symbolic link as the socket file is refused, even to a live socket', async () => {
    const real = dir();
    const s = server({ socketDir: real });
    await s.start();
    const socketDir = dir();
    symlinkSync(s.socketPath, join(socketDir, 'orders.sock'));
    const err = await connectError(client({ socketDir }));
    expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
    expect(err.message).toContain('symbolic link');
    expect(s.getConnectedClients()).toHaveLength(0);
  });

  (asRoot ? it : it.skip)(
    'a directory or socket owned by another user is refused naming the owner; trustedUids lets it through',
    async () => {
      const socketDir = dir();
      const s = server({ socketDir });
      await s.start();
      chownSync(s.socketPath, NOBODY, NOBODY);
      const fileErr = await connectError(client({ socketDir }));
      expect(fileErr.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
      expect(fileErr.message).toContain(`socket file ${s.socketPath}`);
      expect(fileErr.message).toContain(`owned by uid ${NOBODY}`);
      chownSync(socketDir, NOBODY, NOBODY);
      const dirErr = await connectError(client({ socketDir }));
      expect(dirErr.message).toContain(`socket directory ${socketDir}`);
      expect(dirErr.message).toContain(`owned by uid ${NOBODY}`);
      const trusted = client({ socketDir, trustedUids: [NOBODY] });
      await trusted.connect({ waitForWelcome: true });
      expect(s.getConnectedClients()).toHaveLength(1);
    },
  );

  (asRoot ? it : it.skip)(
    'another user who created the shared directory first and serves there never gets a client',
    async () => {
      const shared = join(dir(), 'shared');
      chmodSync(join(shared, '..'), 0o1777); // a shared parent, like /tmp
      const dist = new URL('../dist/index.js', import.meta.url).href;
      const script = `import(${JSON.stringify(dist)}).then(async ({ UnixSocketServer }) => {
      const s = new UnixSocketServer({
        eventName: 'orders', socketDir: ${JSON.stringify(shared)}, logLevel: 'silent', envFile: false,
      });
      s.on('clientConnected', () => console.log('GOT A CLIENT'));
      await s.start(); console.log('ready');
    });`;
      const attacker = spawn(process.execPath, ['--input-type=module', '-e', script], {
        uid: NOBODY,
        gid: NOBODY,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      cleanups.push(() => attacker.kill('SIGKILL'));
      let out = '';
      attacker.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const exited = once(attacker, 'exit');
      while (!out.includes('ready'))
        await Promise.race([
          once(attacker.stdout, 'data'),
          exited.then(() => Promise.reject(new Error(`attacker exited: ${out}`))),
        ]);
      expect(lstatSync(shared).uid).toBe(NOBODY);
      const err = await connectError(client({ socketDir: shared }));
      expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
      expect(err.message).toContain(`owned by uid ${NOBODY}`);
      expect(out).not.toContain('GOT A CLIENT');
    },
  );
});

describe('the whole path of the socket directory (StrictModes)', () => {
  /** A symlink created by uid 65534 (so owned by it) at `link`, pointing at `target`. */
  function foreignSymlink(target: string, link: string): void {
    const r = spawnSync(
      process.execPath,
      ['-e', `require('fs').symlinkSync(${JSON.stringify(target)}, ${JSON.stringify(link)})`],
      {
        uid: NOBODY,
        gid: NOBODY,
      },
    );
    expect(r.status).toBe(0);
    expect(lstatSync(link).uid).toBe(NOBODY);
  }

  (asRoot ? it : it.skip)(
    `a socketDir reached through another user's symlink is refused by the server and the client, naming the link${
      asRoot ? '' : ' [skipped: needs root to act as a second user]'
    }`,
    async () => {
      const real = dir();
      const shared = dir();
      chmodSync(shared, 0o1777);
      const link = join(shared, 'd');
      foreignSymlink(real, link);
      const err = (await server({ socketDir: link })
        .start()
        .catch((e: unknown) => e)) as ConnectionError;
      expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
      expect(err.message).toContain(link);
      expect(err.message).toContain(`a symbolic link owned by uid ${NOBODY}`);
      expect(existsSync(join(real, 'orders.sock'))).toBe(false);
      const s = server({ socketDir: real });
      await s.start();
      const cerr = await connectError(client({ socketDir: link }));
      expect(cerr.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
      expect(cerr.message).toContain(`a symbolic link owned by uid ${NOBODY}`);
      expect(s.getConnectedClients()).toHaveLength(0);
      const trusted = client({ socketDir: link, trustedUids: [NOBODY] });
      await trusted.connect({ waitForWelcome: true });
      expect(s.getConnectedClients()).toHaveLength(1);
    },
  );

  it('a symlink of your own (in a directory only you control) is followed, and its target is checked too', async () => {
    const real = dir();
    const base = dir();
    const link = join(base, 'd');
    symlinkSync(real, link);
    const s = server({ socketDir: link });
    await s.start();
    const c = client({ socketDir: link });
    await c.connect({ waitForWelcome: true });
    expect(s.getConnectedClients()).toHaveLength(1);
    await c.disconnect();
    await s.stop();
    const open = dir();
    chmodSync(open, 0o777);
    const toOpen = join(base, 'o');
    symlinkSync(join(open, '.'), toOpen);
    const err = (await server({ socketDir: join(toOpen, 'inner') })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
    expect(err.message).toContain(open);
    expect(err.message).toContain('writable by any user');
  });

  it('a component above the socketDir writable by any user (no sticky bit) is refused on server and client', async () => {
    const parent = dir();
    const socketDir = join(parent, 'private');
    const s = server({ socketDir });
    await s.start();
    chmodSync(parent, 0o777);
    const cerr = await connectError(client({ socketDir }));
    expect(cerr.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
    expect(cerr.message).toContain(`its path component ${parent}`);
    expect(s.getConnectedClients()).toHaveLength(0);
    await s.stop();
    const err = (await server({ socketDir })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
    expect(err.message).toContain(parent);
  });

  it('a socket missing from a sticky shared directory is SOCKET_NOT_FOUND without a connect', async () => {
    const shared = dir();
    chmodSync(shared, 0o1777);
    const err = await connectError(client({ socketDir: shared }));
    expect(err.code).toBe(ErrorCode.SOCKET_NOT_FOUND);
  });

  it(
    'the socket is created with its mode inside a private directory: no file with another mode ever appears in ' +
      'socketDir',
    async () => {
      const socketDir = dir();
      const s = server({ socketDir, socketPermissions: '0660' });
      await s.start();
      expect(lstatSync(s.socketPath).mode & 0o777).toBe(0o660);
      // Only the socket and the start lock's key (0600) remain; the private directory is gone.
      const names = readdirSync(socketDir).sort();
      const linux = process.platform === 'linux';
      expect(names).toEqual(linux ? ['.socketkit-start-key', 'orders.sock'] : ['orders.sock']);
      if (linux) expect(lstatSync(join(socketDir, '.socketkit-start-key')).mode & 0o777).toBe(0o600);
    },
  );
});

/** A process that listens on `path` but never accepts (its event loop is blocked), with backlog 1. */
async function stuckServer(path: string): Promise<ChildProcess> {
  const script =
    `require('net').createServer().listen({ path: ${JSON.stringify(path)}, backlog: 1 }, () ` +
    "=> { console.log('ready'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); });";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill('SIGKILL'));
  await once(child.stdout!, 'data');
  return child;
}

describe('one server per path', () => {
  it('two servers started at the same moment on a stale socket: exactly one runs, the other gets ADDRESS_IN_USE', async () => {
    const socketDir = dir();
    const path = join(socketDir, 'orders.sock');
    for (let round = 0; round < 10; round++) {
      const r = spawnSync(process.execPath, [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
      ]);
      expect(r.signal).toBe('SIGKILL');
      const a = server({ socketDir });
      const b = server({ socketDir });
      const results = await Promise.allSettled([a.start(), b.start()]);
      const ok = results.filter((x) => x.status === 'fulfilled');
      const failed = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
      expect(ok).toHaveLength(1);
      expect(failed.map((f) => (f.reason as ConnectionError).code)).toEqual([ErrorCode.ADDRESS_IN_USE]);
      const running = a.isRunning() ? a : b;
      expect([a.isRunning(), b.isRunning()].filter(Boolean)).toHaveLength(1);
      const c = client({ socketDir });
      await c.connect({ waitForWelcome: true });
      expect(running.getConnectedClients()).toHaveLength(1);
      await c.disconnect();
      await running.stop();
      // leave a stale socket for the next round
    }
  });

  it('five processes starting at the same instant on a stale socket: exactly one runs (start lock across ' +
    'processes)', async () => {
    const socketDir = dir();
    const path = join(socketDir, 'orders.sock');
    const dist = new URL('../dist/index.js', import.meta.url).href;
    for (let round = 0; round < 3; round++) {
      spawnSync(process.execPath, [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
      ]);
      const go = Date.now() + 1500;
      const script = `import(${JSON.stringify(dist)}).then(async ({ UnixSocketServer }) => {
        const s = new UnixSocketServer({
          eventName: 'orders', socketDir: ${JSON.stringify(socketDir)}, logLevel: 'silent', envFile: false,
        });
        while (Date.now() < ${go}) {}
        try { await s.start(); console.log('running'); } catch (e) { console.log(e.code); }
        process.stdin.once('end', () => s.stop());
        process.stdin.resume();
      });`;
      const children = Array.from({ length: 5 }, () =>
        spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }),
      );
      const outcomes = await Promise.all(children.map(async (c) => String((await once(c.stdout!, 'data'))[0]).trim()));
      expect(outcomes.filter((o) => o === 'running')).toHaveLength(1);
      expect(outcomes.filter((o) => o === ErrorCode.ADDRESS_IN_USE)).toHaveLength(4);
      await Promise.all(
        children.map((c) => {
          c.stdin!.end();
          return once(c, 'exit');
        }),
      );
    }
  }, 60_000);

  it("an old server's stop() never removes a newer server's live socket", async () => {
    const socketDir = dir();
    const old = server({ socketDir });
    await old.start();
    unlinkSync(old.socketPath); // e.g. removed by an operator or a cleanup script
    const newer = server({ socketDir });
    await newer.start();
    const inode = lstatSync(newer.socketPath).ino;
    await old.stop();
    expect(lstatSync(newer.socketPath).ino).toBe(inode);
    const c = client({ socketDir });
    await c.connect({ waitForWelcome: true });
    expect(newer.getConnectedClients()).toHaveLength(1);
  });

  it('autoRemoveSocket: false and the file deleted by someone else: stop() resolves and the server starts again', async () => {
    const socketDir = dir();
    const s = server({ socketDir, autoRemoveSocket: false });
    await s.start();
    unlinkSync(s.socketPath);
    await s.stop();
    expect(existsSync(s.socketPath)).toBe(false);
    await s.start();
    const c = client({ socketDir });
    await c.connect({ waitForWelcome: true });
    expect(s.getConnectedClients()).toHaveLength(1);
    await c.disconnect();
    await s.stop();
    expect(lstatSync(s.socketPath).isSocket()).toBe(true);
  });

  it('probing a stuck server (backlog full, EAGAIN) is ADDRESS_IN_USE, never a raw EAGAIN', async () => {
    const socketDir = dir();
    const path = join(socketDir, 'orders.sock');
    await stuckServer(path);
    // Fill the backlog until the kernel answers EAGAIN.
    const held: Socket[] = [];
    cleanups.push(() => held.forEach((s) => s.destroy()));
    for (let i = 0; i < 64; i++) {
      const s = createConnection({ path });
      held.push(s);
      const r = await new Promise<string | undefined>((resolve) => {
        s.once('connect', () => resolve('ok'));
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
      });
      if (r === 'EAGAIN') break;
    }
    const err = (await server({ socketDir })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.code).toBe(ErrorCode.ADDRESS_IN_USE);
    expect(err.message).toContain('not accepting');
    expect(lstatSync(path).isSocket()).toBe(true);
    // a client gets a typed error too (whether it gives up at once or retries until its timeout)
    const cerr = (await client({ socketDir, connectTimeout: 300 })
      .connect()
      .catch((e: unknown) => e)) as SocketError;
    expect(cerr).toBeInstanceOf(SocketError);
    expect([ErrorCode.CONNECTION_LOST, ErrorCode.TIMEOUT]).toContain(cerr.code);
    expect(cerr.message).not.toMatch(/^connect EAGAIN/);
  });

  it('a nested directory created by the server is private (0700)', async () => {
    const socketDir = join(dir(), 'a', 'b');
    mkdirSync(join(socketDir, '..'), { recursive: true });
    await server({ socketDir }).start();
    expect(statSync(socketDir).mode & 0o777).toBe(0o700);
  });
});
