import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { FrameDecoder, encodeFrame } from '@socketkit/codec';
import {
  ConnectionError,
  ErrorCode,
  PROTOCOL_VERSION,
  ValidationError,
  createMessage,
  type SocketMessage,
} from '@socketkit/protocol';
import { TcpSocketClient, TcpSocketServer } from '../src/index.js';
import { occupy } from './ports.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
const quiet = { logLevel: 'silent' as const, envFile: false as const };
const TOKEN = 'a-token-of-at-least-16-bytes';

function socketDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'skep-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
type ServerOpts = Partial<ConstructorParameters<typeof TcpSocketServer>[0]>;
type ClientOpts = Partial<ConstructorParameters<typeof TcpSocketClient>[0]>;
function server(opts: ServerOpts): TcpSocketServer {
  const s = new TcpSocketServer({ eventName: 'orders', ...quiet, ...opts });
  cleanups.push(() => s.stop());
  return s;
}
function client(opts: ClientOpts): TcpSocketClient {
  const c = new TcpSocketClient({ eventName: 'orders', ...quiet, autoReconnect: false, ...opts });
  cleanups.push(() => c.disconnect());
  return c;
}
/** A raw TCP peer: connect, write frames, collect every message until the server closes. */
async function rawExchange(port: number, frames: Buffer[]): Promise<SocketMessage[]> {
  const s: Socket = createConnection({ host: '127.0.0.1', port });
  cleanups.push(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  const chunks: Buffer[] = [];
  s.on('data', (b: Buffer) => chunks.push(b));
  for (const f of frames) s.write(f);
  await new Promise((r) => s.once('close', r));
  return new FrameDecoder().push(Buffer.concat(chunks));
}
/** A port free right now, as a one-port range for servers without an explicit port. */
async function onePortRange(): Promise<{ portRangeStart: number; portRangeEnd: number }> {
  const s = createServer();
  await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0 }, r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return { portRangeStart: port, portRangeEnd: port };
}
const hello = (event: string, data: Record<string, unknown>): Buffer =>
  encodeFrame(createMessage(event, 'control', { op: 'hello', ...data }));

describe('TCP endpoints by event name', () => {
  it('a client for another event is refused with WRONG_EVENT; the welcome names the event', async () => {
    const jobs = server({ eventName: 'jobs', port: 0 });
    await jobs.start();
    const wrong = client({ eventName: 'orders', port: jobs.port as number });
    const err = (await wrong.connect({ waitForWelcome: true }).catch((e: unknown) => e)) as ConnectionError;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.code).toBe(ErrorCode.WRONG_EVENT);
    expect(err.message).toContain('"jobs"');
    const right = client({ eventName: 'jobs', port: jobs.port as number });
    const welcome = new Promise((r) => right.once('welcome', r));
    await right.connect({ waitForWelcome: true });
    await welcome;
    expect(jobs.getConnectedClients()).toHaveLength(1);
  });

  it('the welcome names the event and the protocol version', async () => {
    const jobs = server({ eventName: 'jobs', port: 0 });
    await jobs.start();
    const s = createConnection({ host: '127.0.0.1', port: jobs.port as number });
    cleanups.push(() => s.destroy());
    const chunks: Buffer[] = [];
    s.on('data', (b: Buffer) => chunks.push(b));
    await new Promise((r) => s.once('connect', r));
    s.write(hello('jobs', { protocol: 2, event: 'jobs' }));
    const dec = new FrameDecoder();
    for (;;) {
      await new Promise((r) => s.once('data', r));
      const msgs = dec.push(Buffer.concat(chunks.splice(0)));
      const welcome = msgs.find((m) => m.data.op === 'welcome');
      if (welcome !== undefined) {
        expect(welcome.data.event).toBe('jobs');
        expect(welcome.data.protocol).toBe(PROTOCOL_VERSION);
        break;
      }
    }
  });

  it(
    'without a port the server publishes {socketDir}/{event}.tcp (0600), a client without a port finds it, and the ' +
      'file stays after stop',
    async () => {
      const dir = socketDir();
      const s = server({ socketDir: dir, ...(await onePortRange()) });
      await s.start();
      const file = join(dir, 'orders.tcp');
      expect(s.addressFile).toBe(file);
      expect(lstatSync(file).mode & 0o777).toBe(0o600);
      const rec = JSON.parse(readFileSync(file, 'utf8')) as { port: number; event: string; pid: number };
      expect(rec).toMatchObject({ port: s.port, event: 'orders', pid: process.pid });
      const c = client({ socketDir: dir });
      await c.connect({ waitForWelcome: true });
      expect(c.address).toBe(`127.0.0.1:${s.port}`);
      expect(s.getConnectedClients()).toHaveLength(1);
      await c.disconnect();
      await s.stop();
      expect(existsSync(file)).toBe(true);
    },
  );

  it(
    'a restarted server (new process state) binds its previous port, or fails with ADDRESS_IN_USE naming the address ' +
      'file',
    async () => {
      const dir = socketDir();
      const first = server({ socketDir: dir, ...(await onePortRange()) });
      await first.start();
      const port = first.port as number;
      await first.stop();
      const again = server({ socketDir: dir, ...(await onePortRange()) });
      await again.start();
      expect(again.port).toBe(port);
      await again.stop();
      await occupy(port, cleanups);
      const third = server({ socketDir: dir, ...(await onePortRange()) });
      const err = (await third.start().catch((e: unknown) => e)) as ConnectionError;
      expect(err.code).toBe(ErrorCode.ADDRESS_IN_USE);
      expect(err.message).toContain(join(dir, 'orders.tcp'));
      // an in-process restart never moves either
      const s = server({ socketDir: socketDir(), port: 0 });
      await s.start();
      const p = s.port as number;
      await s.stop();
      await occupy(p, cleanups);
      expect(((await s.start().catch((e: unknown) => e)) as ConnectionError).code).toBe(ErrorCode.ADDRESS_IN_USE);
    },
  );

  it('a second server for the same event on the same host fails instead of taking another port', async () => {
    const dir = socketDir();
    await server({ socketDir: dir, ...(await onePortRange()) }).start();
    const err = (await server({ socketDir: dir, ...(await onePortRange()) })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.ADDRESS_IN_USE);
  });

  it('no port and no address file: SOCKET_NOT_FOUND saying to pass port; across hosts port is required', async () => {
    const dir = socketDir();
    const err = (await client({ socketDir: dir })
      .connect()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.SOCKET_NOT_FOUND);
    expect(err.message).toContain(join(dir, 'orders.tcp'));
    expect(err.message).toContain('pass port');
    expect(() => new TcpSocketClient({ eventName: 'orders', ...quiet, host: '192.0.2.10' })).toThrow(ValidationError);
    expect(() => new TcpSocketClient({ eventName: 'orders', ...quiet, host: '192.0.2.10' })).toThrow(/pass port/);
  });

  it('an address file writable by others is refused (INSECURE_SOCKET_DIR), like a socket file', async () => {
    const dir = socketDir();
    const s = server({ socketDir: dir, ...(await onePortRange()) });
    await s.start();
    chmodSync(join(dir, 'orders.tcp'), 0o666);
    const err = (await client({ socketDir: dir })
      .connect()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
    expect(err.message).toContain('orders.tcp');
    chmodSync(dir, 0o777);
    chmodSync(join(dir, 'orders.tcp'), 0o600);
    const err2 = (await client({ socketDir: dir })
      .connect()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err2.code).toBe(ErrorCode.INSECURE_SOCKET_DIR);
  });
});

describe('protected mode', () => {
  it('a non-loopback bind needs a token or TLS (INSECURE_BIND) unless allowInsecure', async () => {
    const err = (await server({ port: 0, host: '0.0.0.0' })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.INSECURE_BIND);
    expect(err.message).toContain('allowInsecure');
    const withToken = server({ port: 0, host: '0.0.0.0', token: TOKEN });
    await withToken.start();
    expect(withToken.isRunning()).toBe(true);
    const allowed = server({ port: 0, host: '::', allowInsecure: true, eventName: 'other' });
    await allowed.start().catch((e: { code?: string }) => {
      if (e.code !== 'CONNECTION_LOST') throw e; // no IPv6 on this host
    });
    for (const loop of ['127.0.0.1', 'localhost']) {
      const s = server({ port: 0, host: loop, eventName: 'loop' });
      await s.start();
      await s.stop();
    }
  });
});

describe('mutual authentication over TCP (protocol 2)', () => {
  it('tokens shorter than 16 bytes are INVALID_CONFIG on both sides', () => {
    expect(() => new TcpSocketServer({ eventName: 'orders', ...quiet, token: 'hunter2' })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }) as unknown as Error,
    );
    expect(() => new TcpSocketClient({ eventName: 'orders', ...quiet, port: 1, token: 'hunter2' })).toThrow(
      ValidationError,
    );
  });

  it('the right token: served, and sends made before authentication are delivered after it', async () => {
    const s = server({ port: 0, token: TOKEN });
    await s.start();
    const got: unknown[] = [];
    s.on('message', (m) => got.push(m.data));
    const c = client({ port: s.port as number, token: TOKEN });
    await c.connect();
    await c.send({ early: 1 });
    await c.waitForWelcome();
    const reply = new Promise((r) => s.once('message', r));
    await c.send({ late: 2 });
    await reply;
    expect(got).toEqual([{ early: 1 }, { late: 2 }]);
  });

  it(
    'an impostor server without the token is refused by the client with UNAUTHORIZED and gets none of its ' +
      'messages',
    async () => {
      // The impostor is a socketkit server without a token on the address the client was given.
      const impostor = server({ port: 0 });
      await impostor.start();
      const got: unknown[] = [];
      impostor.on('message', (m) => got.push(m.data));
      const c = client({ port: impostor.port as number, token: TOKEN });
      // connect() waits for the server's answer: the refusal rejects it (issue 23 item 5)
      const err = (await c.connect().catch((e: unknown) => e)) as ConnectionError;
      expect(err.code).toBe(ErrorCode.UNAUTHORIZED);
      expect(err.message).toContain('impostor');
      await expect(c.send({ more: 1 })).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
      expect(got).toEqual([]);
      // with connect({ waitForWelcome: false }), a send made before the refusal waits and is never written
      const early = client({ port: impostor.port as number, token: TOKEN });
      await early.connect({ waitForWelcome: false });
      await early.send({ secret: 'for the real server only' });
      expect(((await early.waitForWelcome().catch((e: unknown) => e)) as ConnectionError).code).toBe(
        ErrorCode.UNAUTHORIZED,
      );
      expect(got).toEqual([]);
    },
  );

  it('a protocol-1 hello (token in clear) to a token server: PROTOCOL_MISMATCH saying to upgrade, nothing else', async () => {
    const s = server({ port: 0, token: TOKEN });
    await s.start();
    s.send({ queued: 1 });
    const got = await rawExchange(s.port as number, [hello('orders', { protocol: 1, token: TOKEN })]);
    expect(got.map((m) => m.data.code)).toEqual([ErrorCode.PROTOCOL_MISMATCH]);
    expect(String(got[0]?.data.error)).toContain('upgrade');
    expect(s.queuedMessages).toBe(1);
  });

  it('a wrong proof is UNAUTHORIZED; the challenge carries a nonce and a proof, never the token', async () => {
    const s = server({ port: 0, token: TOKEN });
    await s.start();
    const sock = createConnection({ host: '127.0.0.1', port: s.port as number });
    cleanups.push(() => sock.destroy());
    await new Promise((r) => sock.once('connect', r));
    const chunks: Buffer[] = [];
    sock.on('data', (b: Buffer) => chunks.push(b));
    sock.write(hello('orders', { protocol: 2, event: 'orders', nonce: 'ab'.repeat(32) }));
    await new Promise((r) => sock.once('data', r));
    const [challenge] = new FrameDecoder().push(Buffer.concat(chunks.splice(0)));
    expect(challenge?.data).toMatchObject({ op: 'auth_challenge', protocol: 2 });
    expect(JSON.stringify(challenge?.data)).not.toContain(TOKEN);
    sock.write(encodeFrame(createMessage('orders', 'control', { op: 'auth_proof', proof: 'cd'.repeat(32) })));
    await new Promise((r) => sock.once('close', r));
    const rest = new FrameDecoder().push(Buffer.concat(chunks));
    expect(rest.map((m) => m.data.code)).toEqual([ErrorCode.UNAUTHORIZED]);
    expect(s.getConnectedClients()).toEqual([]);
  });
});
