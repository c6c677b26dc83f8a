import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  readFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { FrameDecoder, encodeFrame } from '@socketkit/codec';
import { onCleanup, readAll, transports } from '@socketkit/conformance';
import { ErrorCode, createMessage } from '@socketkit/protocol';
import { TcpSocketClient, TcpSocketServer } from '@socketkit/tcp';
import { UnixSocketServer } from '@socketkit/unix';
import { record } from './report.js';

const quiet = { logLevel: 'silent' as const, envFile: false as const };
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function base(): string {
  const d = mkdtempSync(join(tmpdir(), 'sks-'));
  onCleanup(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
function unixServer(
  opts: Partial<ConstructorParameters<typeof UnixSocketServer>[0]> & { socketDir: string },
): UnixSocketServer {
  const s = new UnixSocketServer({ eventName: 'secure', ...quiet, ...opts });
  onCleanup(() => s.stop());
  return s;
}
async function startError(s: { start(): Promise<void> }): Promise<{ code?: string; message: string }> {
  return (await s.start().then(
    () => ({ message: 'started' }),
    (e: unknown) => e,
  )) as { code?: string; message: string };
}

describe('unix socket security', () => {
  it('defaults: directory created 0700, socket file 0600', async () => {
    const socketDir = join(base(), 'fresh');
    const s = unixServer({ socketDir });
    await s.start();
    expect(statSync(socketDir).mode & 0o777).toBe(0o700);
    expect(lstatSync(s.socketPath).mode & 0o777).toBe(0o600);
  });

  it.each([0o770, 0o777, 0o755 | 0o020, 0o702])(
    'a socket directory writable by group/others (%o) is refused with INSECURE_SOCKET_DIR unless allowed',
    async (mode) => {
      const socketDir = base();
      chmodSync(socketDir, mode);
      const err = await startError(unixServer({ socketDir }));
      expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
      expect(err.message).toContain(socketDir);
      expect(existsSync(join(socketDir, 'secure.sock'))).toBe(false);
      const allowed = unixServer({ socketDir, allowInsecureDir: true });
      await allowed.start();
      expect(allowed.isRunning()).toBe(true);
    },
  );

  (asRoot ? it : it.skip)(
    `a socket directory owned by another user is refused ` +
      `(INSECURE_SOCKET_DIR)${asRoot ? '' : ' [skipped: needs root to chown]'}`,
    async () => {
      const socketDir = base();
      chownSync(socketDir, 65534, 65534);
      const err = await startError(unixServer({ socketDir }));
      expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
      expect(err.message).toContain('owned by uid 65534');
    },
  );

  it('never follows a symlink planted at the socket path (target untouched, link kept)', async () => {
    const socketDir = base();
    const victim = join(base(), 'victim.txt');
    writeFileSync(victim, 'keep me');
    symlinkSync(victim, join(socketDir, 'secure.sock'));
    const err = await startError(unixServer({ socketDir }));
    expect(err.code).toBe(ErrorCode.ADDRESS_IN_USE);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect(lstatSync(join(socketDir, 'secure.sock')).isSymbolicLink()).toBe(true);
  });

  it('event names that try path traversal are rejected before any file is touched', () => {
    const socketDir = join(base(), 'never-created');
    const tried: string[] = [];
    for (const bad of ['../x', 'a/b', '', 'x'.repeat(65), 'ünïcode', '..', '.', 'a\u0000b', ' ', '/abs']) {
      tried.push(JSON.stringify(bad));
      expect(() => new UnixSocketServer({ eventName: bad, socketDir, ...quiet })).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_EVENT_NAME }) as unknown as Error,
      );
    }
    expect(existsSync(socketDir)).toBe(false);
    record('security-event-names', { rejected: tried.length, names: tried });
  });
});

describe('tcp security', () => {
  it(
    'binds 127.0.0.1 unless told otherwise; all interfaces without token or TLS: INSECURE_BIND unless allowInsecure ' +
      '(then a warning)',
    async () => {
      const s = new TcpSocketServer({ eventName: 'secure', ...quiet, port: 0 });
      onCleanup(() => s.stop());
      await s.start();
      expect(s.address.startsWith('127.0.0.1:')).toBe(true);
      const warnings: string[] = [];
      const logger = {
        debug: () => undefined,
        info: () => undefined,
        error: () => undefined,
        warn: (m: unknown) => warnings.push(String(m)),
      };
      const refused = new TcpSocketServer({ eventName: 'secure', ...quiet, port: 0, host: '0.0.0.0', logger });
      expect((await startError(refused)).code).toBe(ErrorCode.INSECURE_BIND);
      const all = new TcpSocketServer({
        eventName: 'secure',
        ...quiet,
        port: 0,
        host: '0.0.0.0',
        logger,
        allowInsecure: true,
      });
      onCleanup(() => all.stop());
      await all.start();
      expect(warnings.join('\n')).toContain('without token or TLS');
    },
  );

  it('token: a client without it is closed with UNAUTHORIZED within the auth timeout and receives nothing else', async () => {
    const s = new TcpSocketServer({
      eventName: 'secure',
      ...quiet,
      port: 0,
      token: 'hunter2-hunter2-hunter2',
      authTimeout: 100,
    });
    onCleanup(() => s.stop());
    await s.start();
    s.send({ secret: 'queued before anyone connected' });
    const tcp = transports.find((t) => t.name === 'tcp');
    // 1) a raw peer that says nothing
    const silent = await tcp!.raw(s);
    const silentGot = new FrameDecoder().push(await readAll(silent));
    expect(silentGot.map((m) => m.data.code)).toEqual([ErrorCode.UNAUTHORIZED]);
    // 2) a raw peer that sends data before hello
    const eager = await tcp!.raw(s);
    const eagerAll = readAll(eager);
    eager.write(encodeFrame(createMessage('secure', 'data', { hi: 1 })));
    const eagerGot = new FrameDecoder().push(await eagerAll);
    expect(eagerGot.map((m) => m.data.code)).toEqual([ErrorCode.UNAUTHORIZED]);
    // 3) a client with the wrong token
    const wrong = new TcpSocketClient({
      eventName: 'secure',
      ...quiet,
      port: s.port,
      token: 'nope-nope-nope-nope',
      autoReconnect: false,
    });
    onCleanup(() => wrong.disconnect());
    await expect(wrong.connect({ waitForWelcome: true })).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    expect(s.queuedMessages).toBe(1);
    // 4) the right token gets the queue
    const right = new TcpSocketClient({
      eventName: 'secure',
      ...quiet,
      port: s.port,
      token: 'hunter2-hunter2-hunter2',
      autoReconnect: false,
    });
    onCleanup(() => right.disconnect());
    await right.connect({ waitForWelcome: true });
    expect((await right.receive()).data).toEqual({ secret: 'queued before anyone connected' });
    record('security-token', { unauthorizedPeers: 3, leakedMessages: 0 });
  });
});
