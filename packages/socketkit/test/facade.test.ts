import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConnectionError,
  ErrorCode,
  SocketClient,
  SocketServer,
  SocketType,
  TRANSPORT_PACKAGES,
  ValidationError,
  createClient,
  createServer,
  setTransportSpecifierForTesting,
} from '../src/index.js';

const quiet = { logLevel: 'silent' as const, envFile: false as const, env: {} };

let dir: string;
const cleanups: Array<() => Promise<void>> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sk-'));
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  setTransportSpecifierForTesting('unix');
  setTransportSpecifierForTesting('tcp');
  setTransportSpecifierForTesting('nats');
  rmSync(dir, { recursive: true, force: true });
});

async function startServer<S extends SocketServer>(server: S): Promise<S> {
  cleanups.push(() => server.stop());
  await server.start();
  return server;
}

async function connected<C extends SocketClient>(client: C): Promise<C> {
  cleanups.push(() => client.disconnect());
  await client.connect({ waitForWelcome: true });
  return client;
}

describe('SocketType', () => {
  test('names the three transports', () => {
    expect(SocketType).toEqual({ UNIX: 'unix', TCP: 'tcp', NATS: 'nats' });
    expect(TRANSPORT_PACKAGES).toEqual({ unix: '@socketkit/unix', tcp: '@socketkit/tcp', nats: '@socketkit/nats' });
  });
});

describe('unix', () => {
  test('server and client exchange messages both ways', async () => {
    const server = await startServer(await createServer(SocketType.UNIX, 'facade-unix', { ...quiet, socketDir: dir }));
    expect(server.socketPath).toBe(join(dir, 'facade-unix.sock'));
    expect(server).toBeInstanceOf(SocketServer);
    const client = await connected(await createClient('unix', 'facade-unix', { ...quiet, socketDir: dir }));
    expect(client).toBeInstanceOf(SocketClient);

    const fromClient = new Promise((resolve) => server.once('message', (m) => resolve(m.data)));
    await client.send({ hello: 'server' });
    expect(await fromClient).toEqual({ hello: 'server' });

    expect(server.send({ hello: 'client' })).toBe(1);
    const m = await client.receive({ timeout: 5000 });
    expect(m.data).toEqual({ hello: 'client' });
    expect(m.eventName).toBe('facade-unix');
  });

  test('request/reply through a handler given in the options', async () => {
    await startServer(
      await createServer('unix', 'facade-rpc', {
        ...quiet,
        socketDir: dir,
        handler: (d) => ({ sum: Number(d.a) + Number(d.b) }),
      }),
    );
    const client = await connected(await createClient('unix', 'facade-rpc', { ...quiet, socketDir: dir }));
    const reply = await client.request({ a: 2, b: 3 }, { timeout: 5000 });
    expect(reply.data).toEqual({ sum: 5 });
  });

  test('stop removes the socket file', async () => {
    const server = await startServer(await createServer('unix', 'facade-stop', { ...quiet, socketDir: dir }));
    expect(existsSync(server.socketPath)).toBe(true);
    await server.stop();
    expect(existsSync(server.socketPath)).toBe(false);
  });

  test('a client with no server gets SOCKET_NOT_FOUND', async () => {
    const client = await createClient('unix', 'nobody-here', { ...quiet, socketDir: dir, autoReconnect: false });
    const err = await client.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe(ErrorCode.SOCKET_NOT_FOUND);
  });
});

describe('tcp', () => {
  test('server on an OS-assigned port and a client exchange messages', async () => {
    const server = await startServer(await createServer(SocketType.TCP, 'facade-tcp', { ...quiet, port: 0 }));
    expect(server.port).toBeGreaterThan(0);
    const client = await connected(await createClient('tcp', 'facade-tcp', { ...quiet, port: server.port as number }));
    const fromClient = new Promise((resolve) => server.once('message', (m) => resolve(m.data)));
    await client.send({ n: 1 });
    expect(await fromClient).toEqual({ n: 1 });
    server.send({ n: 2 });
    expect((await client.receive({ timeout: 5000 })).data).toEqual({ n: 2 });
  });

  test('request/reply over tcp', async () => {
    const server = await startServer(
      await createServer('tcp', 'facade-tcp-rpc', { ...quiet, port: 0, handler: (d) => ({ echo: d }) }),
    );
    const client = await connected(
      await createClient('tcp', 'facade-tcp-rpc', { ...quiet, port: server.port as number }),
    );
    expect((await client.request({ x: 'y' }, { timeout: 5000 })).data).toEqual({ echo: { x: 'y' } });
  });
});

// NATS through the registry (createServer('nats', ...)): the conformance suite
// creates every server and client of its NATS blocks that way, against a real
// nats-server (socketkit cannot depend on the conformance package, which
// depends on socketkit for the registry).

describe('options merged over loadConfig()', () => {
  test('the environment supplies what the options leave out', async () => {
    const server = await startServer(
      await createServer('unix', 'from-env', {
        logLevel: 'silent',
        envFile: false,
        env: { SOCKET_DIR: dir, SOCKET_UNIX_MAX_CONNECTIONS: '3' },
      }),
    );
    expect(server.socketPath).toBe(join(dir, 'from-env.sock'));
    expect(server.settings.maxConnections).toBe(3);
  });

  test('explicit options beat the environment', async () => {
    const other = join(dir, 'nested');
    const server = await startServer(
      await createServer('unix', 'opt-wins', {
        logLevel: 'silent',
        envFile: false,
        env: { SOCKET_DIR: '/nonexistent/never', SOCKET_MESSAGE_QUEUE_SIZE: '7' },
        socketDir: other,
        messageQueueSize: 2,
      }),
    );
    expect(server.socketPath).toBe(join(other, 'opt-wins.sock'));
    expect(server.settings.messageQueueSize).toBe(2);
  });

  test('a bad value is a ValidationError naming the key and its source', async () => {
    const err = await createServer('tcp', 'bad-config', {
      ...quiet,
      env: { SOCKET_TCP_PORT_RANGE_START: 'abc' },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe(ErrorCode.INVALID_CONFIG);
    expect((err as Error).message).toContain('SOCKET_TCP_PORT_RANGE_START');
    expect((err as Error).message).toContain('environment');
  });
});

describe('validation', () => {
  test('an unknown type is a ValidationError', async () => {
    for (const make of [createServer, createClient] as const) {
      const err = await (make as (t: string, e: string) => Promise<unknown>)('udp', 'x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).code).toBe(ErrorCode.INVALID_CONFIG);
      expect((err as Error).message).toContain('"udp"');
      expect((err as Error).message).toContain('"unix"');
    }
  });

  test('a bad event name is a ValidationError', async () => {
    const err = await createClient('unix', '../etc/passwd', quiet).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe(ErrorCode.INVALID_EVENT_NAME);
  });
});

describe('a transport package that is not installed', () => {
  test.each([
    ['tcp', '@socketkit/tcp'],
    ['unix', '@socketkit/unix'],
    ['nats', '@socketkit/nats'],
  ] as const)('%s: the error says which package to install', async (type, pkg) => {
    setTransportSpecifierForTesting(type, '@socketkit/not-installed-in-this-test');
    for (const make of [() => createServer(type, 'missing', quiet), () => createClient(type, 'missing', quiet)]) {
      const err = await make().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).code).toBe(ErrorCode.INVALID_CONFIG);
      expect((err as Error).message).toContain(`npm install ${pkg}`);
      expect((err as ValidationError).details).toMatchObject({ type, package: pkg });
    }
  });

  test('the other transport still works', async () => {
    setTransportSpecifierForTesting('tcp', '@socketkit/not-installed-in-this-test');
    const server = await startServer(await createServer('unix', 'still-works', { ...quiet, socketDir: dir }));
    expect(server.isRunning()).toBe(true);
  });
});

describe('transport registry', () => {
  it('one table lists the transports; a third party registers its own and createServer/createClient use it', async () => {
    const {
      registerTransport,
      transportNames,
      createServer: cs,
      createClient: cc,
      SocketServer,
      SocketClient,
    } = await import('../src/index.js');
    expect(transportNames()).toEqual(['unix', 'tcp', 'nats']);
    const made: string[] = [];
    const transport = {
      kind: 'memory',
      address: () => 'memory',
      listen: async () => undefined,
      close: async () => undefined,
    };
    const client = { kind: 'memory', address: () => 'memory', connect: async () => Promise.reject(new Error('no')) };
    registerTransport('memory-test', {
      package: 'memory-test',
      load: async () => ({
        createServer: (o) => {
          made.push(`server:${o.eventName}`);
          return new SocketServer({ eventName: o.eventName, transport, logLevel: 'silent' });
        },
        createClient: (o) => {
          made.push(`client:${o.eventName}`);
          return new SocketClient({ eventName: o.eventName, transport: client, logLevel: 'silent' });
        },
      }),
    });
    expect(transportNames()).toEqual(['unix', 'tcp', 'nats', 'memory-test']);
    const server = await cs('memory-test' as never, 'reg', {});
    await server.start();
    await server.stop();
    await cc('memory-test' as never, 'reg', {});
    expect(made).toEqual(['server:reg', 'client:reg']);
    expect(() =>
      registerTransport('memory-test', { package: 'x', load: async () => Promise.reject(new Error('x')) }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() =>
      registerTransport('Bad Name', { package: 'x', load: async () => Promise.reject(new Error('x')) }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
