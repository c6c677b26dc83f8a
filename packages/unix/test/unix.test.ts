import { chmodSync, lstatSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ConnectionError, ErrorCode, ValidationError } from '@socketkit/protocol';
import { UnixSocketClient, UnixSocketServer, socketPathFor } from '../src/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sku-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
function server(
  opts: Partial<ConstructorParameters<typeof UnixSocketServer>[0]> & { socketDir: string },
): UnixSocketServer {
  const s = new UnixSocketServer({ eventName: 'orders', logLevel: 'silent', envFile: false, ...opts });
  cleanups.push(() => s.stop());
  return s;
}
function client(socketDir: string, eventName = 'orders'): UnixSocketClient {
  const c = new UnixSocketClient({ eventName, socketDir, logLevel: 'silent', envFile: false, autoReconnect: false });
  cleanups.push(() => c.disconnect());
  return c;
}

describe('unix socket file lifecycle', () => {
  it('uses {socketDir}/{eventName}.sock, creates the dir 0700, the socket 0600, and removes it on stop', async () => {
    const base = dir();
    const socketDir = join(base, 'nested', 'sockets');
    const s = server({ socketDir });
    expect(s.socketPath).toBe(join(socketDir, 'orders.sock'));
    await s.start();
    expect(statSync(socketDir).mode & 0o777).toBe(0o700);
    const st = lstatSync(s.socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await s.stop();
    expect(existsSync(s.socketPath)).toBe(false);
  });

  it('socketPermissions and autoRemoveSocket=false are honoured', async () => {
    const socketDir = dir();
    const s = server({ socketDir, socketPermissions: '0660', autoRemoveSocket: false });
    await s.start();
    expect(lstatSync(s.socketPath).mode & 0o777).toBe(0o660);
    await s.stop();
    expect(lstatSync(s.socketPath).isSocket()).toBe(true);
    // and the left-over (now stale) socket is recovered by the next server
    const again = server({ socketDir });
    await again.start();
    const c = client(socketDir);
    await c.connect({ waitForWelcome: true });
    expect(again.getConnectedClients()).toHaveLength(1);
  });

  it('recovers a stale socket file left by a server killed with SIGKILL', async () => {
    const socketDir = dir();
    const path = join(socketDir, 'orders.sock');
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(r.signal).toBe('SIGKILL');
    expect(lstatSync(path).isSocket()).toBe(true);
    const s = server({ socketDir });
    await s.start();
    const c = client(socketDir);
    await c.connect({ waitForWelcome: true });
    expect(s.getConnectedClients()).toHaveLength(1);
  });

  it('never steals a live server\u2019s socket: ADDRESS_IN_USE', async () => {
    const socketDir = dir();
    const first = server({ socketDir });
    await first.start();
    const second = server({ socketDir });
    const err = (await second.start().catch((e: unknown) => e)) as ConnectionError;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.code).toBe(ErrorCode.ADDRESS_IN_USE);
    expect(err.message).toContain(first.socketPath);
    // the first server still works
    const c = client(socketDir);
    await c.connect({ waitForWelcome: true });
    expect(first.send({ ok: 1 })).toBe(1);
  });

  it('refuses (and never deletes) a regular file or a symlink at the socket path', async () => {
    const socketDir = dir();
    const path = join(socketDir, 'orders.sock');
    writeFileSync(path, 'precious');
    const err = (await server({ socketDir })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.ADDRESS_IN_USE);
    expect(err.message).toContain('not a socket');
    expect(lstatSync(path).isFile()).toBe(true);
    rmSync(path);
    const target = join(dir(), 'elsewhere');
    symlinkSync(target, path);
    const err2 = (await server({ socketDir })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err2.code).toBe(ErrorCode.ADDRESS_IN_USE);
    expect(err2.message).toContain('symbolic link');
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(existsSync(target)).toBe(false);
  });

  it('a path longer than the OS limit is a ValidationError naming the path', () => {
    const long = `/tmp/${'d'.repeat(100)}`;
    expect(() => socketPathFor(long, 'orders')).toThrow(ValidationError);
    expect(
      () => new UnixSocketServer({ eventName: 'orders', socketDir: long, logLevel: 'silent', envFile: false }),
    ).toThrow(long);
  });

  it('rejects path-traversal event names before touching any file', () => {
    const socketDir = dir();
    for (const bad of ['../x', 'a/b', '', 'x'.repeat(65), 'ünï', '.']) {
      expect(() => new UnixSocketServer({ eventName: bad, socketDir, logLevel: 'silent', envFile: false })).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_EVENT_NAME }) as unknown as Error,
      );
    }
  });

  it('refuses an insecure socket directory unless allowed', async () => {
    const socketDir = dir();
    chmodSync(socketDir, 0o777);
    const err = (await server({ socketDir })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
    const ok = server({ socketDir, allowInsecureDir: true });
    await ok.start();
    expect(ok.isRunning()).toBe(true);
  });

  it('a socketDir that is a file is a clear error', async () => {
    const base = dir();
    const file = join(base, 'file');
    writeFileSync(file, '');
    const err = (await server({ socketDir: file })
      .start()
      .catch((e: unknown) => e)) as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain(file);
  });
});

describe('unix options', () => {
  it('defaultTimeoutMs is in milliseconds (receive times out after 50 ms)', async () => {
    const socketDir = dir();
    const s = server({ socketDir });
    await s.start();
    const c = new UnixSocketClient({
      eventName: 'orders',
      socketDir,
      logLevel: 'silent',
      envFile: false,
      defaultTimeoutMs: 50,
    });
    cleanups.push(() => c.disconnect());
    await c.connect();
    await expect(c.receive()).rejects.toThrow('within 50 ms');
  });
});

describe('unix client errors', () => {
  it('no socket file: SOCKET_NOT_FOUND naming the event and path', async () => {
    const socketDir = dir();
    const c = client(socketDir);
    const err = (await c.connect().catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.SOCKET_NOT_FOUND);
    expect(err.message).toContain('"orders"');
    expect(err.message).toContain(join(socketDir, 'orders.sock'));
  });

  it('stale socket (refused): SERVER_NOT_RUNNING', async () => {
    const socketDir = dir();
    const s = server({ socketDir, autoRemoveSocket: false });
    await s.start();
    await s.stop();
    const err = (await client(socketDir)
      .connect()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.SERVER_NOT_RUNNING);
    expect(err.message).toContain(s.socketPath);
  });

  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  it('EACCES: PERMISSION_DENIED naming the path (as root, the client runs as an unprivileged uid)', async () => {
    if (!asRoot) {
      const socketDir = dir();
      const s = server({ socketDir, socketPermissions: '0000' });
      await s.start();
      const err = (await client(socketDir)
        .connect()
        .catch((e: unknown) => e)) as ConnectionError;
      expect(err.code).toBe(ErrorCode.PERMISSION_DENIED);
      expect(err.message).toContain(s.socketPath);
      return;
    }
    const socketDir = dir();
    chmodSync(socketDir, 0o755);
    const s = server({ socketDir, allowInsecureDir: true });
    await s.start();
    const { spawnSync } = await import('node:child_process');
    const script =
      `import('${new URL('../dist/index.js', import.meta.url).href}').then(async ({ UnixSocketClient }) => {
      const c = new UnixSocketClient({ eventName: 'orders', ` +
      `socketDir: ${JSON.stringify(socketDir)}, logLevel: 'silent', envFile: false, autoReconnect: false });
      try { await c.connect(); console.log('connected'); } catch (e) { console.log(e.code + ' ' + e.message); }
    });`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
    });
    expect(r.stdout).toContain('PERMISSION_DENIED');
    expect(r.stdout).toContain(s.socketPath);
  });
});
