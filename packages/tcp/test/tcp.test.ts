import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ConnectionError, ErrorCode, MaxConnectionsError } from '@socketkit/protocol';
import { TcpSocketClient, TcpSocketServer } from '../src/index.js';
import { occupy } from './ports.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

type ServerOpts = Partial<ConstructorParameters<typeof TcpSocketServer>[0]>;
function socketDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sktcp-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
function server(opts: ServerOpts = {}): TcpSocketServer {
  const s = new TcpSocketServer({
    eventName: 'rpc',
    logLevel: 'silent',
    envFile: false,
    socketDir: socketDir(),
    ...opts,
  });
  cleanups.push(() => s.stop());
  return s;
}
function client(port: number, opts: Partial<ConstructorParameters<typeof TcpSocketClient>[0]> = {}): TcpSocketClient {
  const c = new TcpSocketClient({
    eventName: 'rpc',
    port,
    logLevel: 'silent',
    envFile: false,
    autoReconnect: false,
    ...opts,
  });
  cleanups.push(() => c.disconnect());
  return c;
}
async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}
/** A run of `n` consecutive free loopback ports. */
async function freeRange(n: number): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await canBind(p);
    if (ok) return base;
  }
}

describe('tcp transport', () => {
  it('binds 127.0.0.1 by default on an explicit port', async () => {
    const base = await freeRange(1);
    const s = server({ port: base });
    await s.start();
    expect(s.port).toBe(base);
    expect(s.address).toBe(`127.0.0.1:${base}`);
    const c = client(base);
    await c.connect({ waitForWelcome: true });
    expect(s.send({ hi: 1 })).toBe(1);
    expect((await c.receive()).data).toEqual({ hi: 1 });
  });

  it('auto-assigns the first free port of the range and skips occupied ones', async () => {
    const base = await freeRange(3);
    await occupy(base, cleanups);
    const s = server({ portRangeStart: base, portRangeEnd: base + 2 });
    await s.start();
    expect(s.port).toBe(base + 1);
    const s2 = server({ eventName: 'rpc2', portRangeStart: base, portRangeEnd: base + 2 });
    await s2.start();
    expect(s2.port).toBe(base + 2);
  });

  it('an exhausted range is PORT_RANGE_EXHAUSTED naming the range', async () => {
    const base = await freeRange(2);
    await occupy(base, cleanups);
    await occupy(base + 1, cleanups);
    const err = (await server({ portRangeStart: base, portRangeEnd: base + 1 })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.code).toBe(ErrorCode.PORT_RANGE_EXHAUSTED);
    expect(err.message).toContain(`${base}-${base + 1}`);
  });

  it('an explicit port in use is ADDRESS_IN_USE', async () => {
    const base = await freeRange(1);
    await occupy(base, cleanups);
    const err = (await server({ port: base })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.ADDRESS_IN_USE);
    expect(err.message).toContain(String(base));
  });

  it('a closed port is SERVER_NOT_RUNNING naming host:port', async () => {
    const base = await freeRange(1);
    const err = (await client(base)
      .connect()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err.code).toBe(ErrorCode.SERVER_NOT_RUNNING);
    expect(err.message).toContain(`127.0.0.1:${base}`);
  });

  it('restarts on the same port (SO_REUSEADDR) right after clients were connected', async () => {
    const s = server({ port: 0 });
    await s.start();
    const port = s.port as number;
    const c = client(port);
    await c.connect({ waitForWelcome: true });
    await s.stop();
    await s.start();
    expect(s.port).toBe(port);
  });

  it('maxConnections from the tcp options applies', async () => {
    const s = server({ port: 0, maxConnections: 1 });
    await s.start();
    await client(s.port as number).connect({ waitForWelcome: true });
    await expect(client(s.port as number).connect({ waitForWelcome: true })).rejects.toBeInstanceOf(
      MaxConnectionsError,
    );
  });

  it('binding all interfaces without token or TLS is INSECURE_BIND; allowInsecure binds and logs a warning', async () => {
    const warnings: string[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      error: () => undefined,
      warn: (m: unknown) => warnings.push(String(m)),
    };
    const refused = (await server({ port: 0, host: '0.0.0.0', logger })
      .start()
      .catch((e: unknown) => e)) as ConnectionError;
    expect(refused.code).toBe(ErrorCode.INSECURE_BIND);
    const s = server({ port: 0, host: '0.0.0.0', logger, allowInsecure: true });
    await s.start();
    expect(warnings.some((w) => w.includes('without token or TLS'))).toBe(true);
  });
});

describe('shared-secret token', () => {
  it('a client with the right token is served', async () => {
    const s = server({ port: 0, token: 's3cret-s3cret-s3cret' });
    await s.start();
    const c = client(s.port as number, { token: 's3cret-s3cret-s3cret' });
    await c.connect({ waitForWelcome: true });
    expect(s.send({ ok: 1 })).toBe(1);
    expect((await c.receive()).data).toEqual({ ok: 1 });
  });

  it('a wrong token is closed with UNAUTHORIZED and receives nothing', async () => {
    const s = server({ port: 0, token: 's3cret-s3cret-s3cret' });
    await s.start();
    s.send({ queued: 'secret data' });
    const c = client(s.port as number, { token: 'wrong-wrong-wrong-wrong' });
    const err = await c.connect({ waitForWelcome: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    expect(s.getConnectedClients()).toEqual([]);
    expect(s.queuedMessages).toBe(1);
  });

  it('no hello within the auth timeout: closed with UNAUTHORIZED', async () => {
    const s = server({ port: 0, token: 's3cret-s3cret-s3cret', authTimeout: 50 });
    await s.start();
    const c = client(s.port as number, { handshake: false });
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    await c.connect();
    await expect(c.receive({ timeout: 2000 })).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    expect(s.getConnectedClients()).toEqual([]);
  });
});
