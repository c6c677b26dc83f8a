// Issue 23 items 3-6: what a client does when the server is not there yet,
// dies, refuses, or fails a request, on every transport.
import { spawn } from 'node:child_process';
import { createServer as netServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from '@jest/globals';
import type { SocketClient, SocketLogger, SocketServer } from '@socketkit/core';
import { ErrorCode, MaxConnectionsError, RemoteError, SocketError } from '@socketkit/protocol';
import { createClient } from 'socketkit';
import { type TransportFactory, describeTransports, onCleanup, tempDir, uniqueEvent, until } from '../src/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const SERVER = join(here, 'fixtures', 'server.mjs');

/** A free loopback port (listen on 0, close). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** A server not started yet, and a client for it (tcp: a fixed free port). */
async function notStarted(
  t: TransportFactory,
  clientOpts: Record<string, unknown> = {},
): Promise<{ server: SocketServer; client: SocketClient }> {
  const server = t.server((t.name === 'tcp' ? { port: await freePort() } : {}) as never);
  return { server, client: t.client(server, clientOpts) };
}

/** A logger that keeps its warnings. */
function captureLog(): SocketLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    error: () => undefined,
    warn: (...a: unknown[]) => warnings.push(a.map(String).join(' ')),
  };
}

/** Where a child-process server of transport `t` listens: its config for fixtures/server.mjs. */
async function childConfig(t: TransportFactory): Promise<Record<string, unknown>> {
  const eventName = uniqueEvent('died');
  if (t.name === 'unix') return { kind: 'unix', eventName, socketDir: tempDir() };
  if (t.name === 'tcp') return { kind: 'tcp', eventName, port: await freePort() };
  // a throwaway server only to learn this file's nats-server URL
  return { kind: 'nats', eventName, servers: t.addr(t.server()).servers };
}

/** Starts fixtures/server.mjs; resolves once it listens. The test may SIGKILL it; cleanup kills it. */
async function startChild(cfg: Record<string, unknown>): Promise<{ kill(): Promise<void> }> {
  const child = spawn(process.execPath, [SERVER, JSON.stringify(cfg)], {
    cwd: join(here, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  await until(() => out.includes('\n') || child.exitCode !== null, `child server listening ${err}`);
  if (child.exitCode !== null) throw new Error(`child server failed: ${err}`);
  return {
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A client of the child server described by `cfg`. */
async function childClient(cfg: Record<string, unknown>, opts: Record<string, unknown>): Promise<SocketClient> {
  const where =
    cfg.kind === 'unix'
      ? { socketDir: cfg.socketDir }
      : cfg.kind === 'tcp'
        ? { port: cfg.port }
        : { servers: cfg.servers };
  const c = (await createClient(
    cfg.kind as 'unix',
    cfg.eventName as string,
    { ...where, envFile: false, ...opts } as never,
  )) as unknown as SocketClient;
  onCleanup(() => c.disconnect());
  return c;
}

class AppError extends Error {
  readonly code = 'ORDER_NOT_FOUND';
}

describeTransports('request errors keep their code (issue 23 item 6)', (t) => {
  it('a handler error with a code reaches the client as a RemoteError with that code and message', async () => {
    const server = t.server({
      handler: (data) => {
        if (data.kind === 'app') throw new AppError('order 7 does not exist');
        if (data.kind === 'socketkit') throw new SocketError(ErrorCode.TIMEOUT, 'the database did not answer');
        if (data.kind === 'custom') throw Object.assign(new Error('no stock'), { code: 'OUT_OF_STOCK' });
        throw new Error('division by zero');
      },
    });
    await server.start();
    const c = t.client(server);
    await c.connect();
    const cases: Array<[string, string, string]> = [
      ['app', 'ORDER_NOT_FOUND', 'order 7 does not exist'],
      ['socketkit', 'TIMEOUT', 'the database did not answer'],
      ['custom', 'OUT_OF_STOCK', 'no stock'],
      ['plain', 'HANDLER_FAILED', 'division by zero'],
    ];
    for (const [kind, remoteCode, remoteMessage] of cases) {
      const err = await c.request({ kind }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect(err).toMatchObject({ code: ErrorCode.REMOTE_ERROR, remoteCode, remoteMessage });
      expect((err as Error).message).toContain(`${remoteCode}: ${remoteMessage}`);
    }
    // the connection is fine afterwards
    expect(c.isConnected()).toBe(true);
  });

  it('a request to a server without a handler fails at once with NO_HANDLER', async () => {
    const server = t.server();
    const seen: unknown[] = [];
    server.on('message', (m) => seen.push(m.data));
    await server.start();
    const c = t.client(server);
    await c.connect();
    // the timeout is far longer than the test: only an immediate answer passes
    const err = await c.request({ q: 1 }, { timeout: 600_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SocketError);
    expect((err as SocketError).code).toBe(ErrorCode.NO_HANDLER);
    expect((err as SocketError).message).toMatch(/no request handler/);
    // the 'message' listener still saw it
    expect(seen).toEqual([{ q: 1 }]);
  });

  it("a 'message' listener that answers with server.reply() is not overridden by NO_HANDLER", async () => {
    const server = t.server();
    server.on('message', (m, clientId) => {
      if (m.id !== undefined) server.reply(clientId, m, { echoed: m.data.q });
    });
    await server.start();
    const c = t.client(server);
    await c.connect();
    for (let i = 0; i < 20; i++) expect((await c.request({ q: i }, { timeout: 600_000 })).data).toEqual({ echoed: i });
  });
});

describeTransports('a refusal reaches connect() (issue 23 item 5)', (t) => {
  it('a client over maxConnections gets connect() rejected with MAX_CONNECTIONS (autoReconnect on) and stops', async () => {
    const server = t.server({ maxConnections: 1 });
    await server.start();
    const first = t.client(server);
    await first.connect();
    const second = t.client(server);
    let reconnects = 0;
    second.on('reconnecting', () => reconnects++);
    const err = await second.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MaxConnectionsError);
    expect((err as SocketError).code).toBe(ErrorCode.MAX_CONNECTIONS);
    expect(second.state).toBe('closed');
    expect(reconnects).toBe(0);
    // the first client is untouched
    server.send({ still: true });
    expect((await first.receive()).data).toEqual({ still: true });
  });

  it(
    'connect({ waitForWelcome: false }) keeps the old opt-out: resolves on the open stream, the refusal is an error ' +
      'event',
    async () => {
      const server = t.server({ maxConnections: 1 });
      await server.start();
      await t.client(server).connect();
      const second = t.client(server, { autoReconnect: false });
      const errors: Error[] = [];
      second.on('error', (e) => errors.push(e));
      await second.connect({ waitForWelcome: false });
      await until(() => errors.length > 0, 'refusal reported');
      expect(errors[0]).toBeInstanceOf(MaxConnectionsError);
    },
  );
});

describeTransports('no start-order trap (issue 23 item 3)', (t) => {
  it('by default a client started before its server rejects at once (fail fast)', async () => {
    const { client } = await notStarted(t);
    const err = await client.connect().catch((e: unknown) => e);
    expect([ErrorCode.SOCKET_NOT_FOUND, ErrorCode.SERVER_NOT_RUNNING]).toContain((err as SocketError).code);
  });

  it('connect({ waitForServer: true }) waits for a server started later, then receives from it', async () => {
    const { server, client } = await notStarted(t);
    const attempts: number[] = [];
    client.on('reconnecting', (a) => attempts.push(a));
    const connecting = client.connect({ waitForServer: true, timeout: 60_000 });
    await until(() => attempts.length >= 3, 'the client retried while the server was missing');
    await server.start();
    await connecting;
    expect(client.welcome?.clientId).toBeDefined();
    server.send({ first: true });
    expect((await client.receive()).data).toEqual({ first: true });
  });

  it('connect({ waitForServer: ms }) gives up with the missing-server code, naming the wait', async () => {
    const { client } = await notStarted(t);
    const err = await client.connect({ waitForServer: 300 }).catch((e: unknown) => e);
    expect([ErrorCode.SOCKET_NOT_FOUND, ErrorCode.SERVER_NOT_RUNNING]).toContain((err as SocketError).code);
    expect((err as Error).message).toMatch(/waitForServer/);
    expect(client.state).toBe('closed');
  });

  it('disconnect() while waiting for the server ends the wait at once with CLOSED', async () => {
    const { client } = await notStarted(t);
    let attempts = 0;
    client.on('reconnecting', () => attempts++);
    const connecting = client.connect({ waitForServer: true, timeout: 600_000 }).catch((e: unknown) => e);
    await until(() => attempts >= 1, 'waiting');
    await client.disconnect();
    expect(await connecting).toMatchObject({ code: ErrorCode.CLOSED });
  });
});

describeTransports('a client whose server died is never silent (issue 23 item 4)', (t) => {
  const quick = { heartbeatInterval: 100, heartbeatTimeout: 400 };

  it('SIGKILL of the server: one "lost" warning and error event, then for await ends with RECONNECT_FAILED', async () => {
    const cfg = await childConfig(t);
    const child = await startChild(cfg);
    const log = captureLog();
    const client = await childClient(cfg, {
      ...quick,
      logger: log,
      reconnect: { initialDelay: 20, maxDelay: 50, maxRetries: 5 },
    });
    const errors: string[] = [];
    client.on('error', (e) => errors.push((e as SocketError).code));
    await client.connect();
    let got = 0;
    const end = await (async () => {
      try {
        for await (const _m of client) if (++got === 3) void child.kill();
        return 'ended without an error';
      } catch (err) {
        return err;
      }
    })();
    expect(end).toMatchObject({ code: ErrorCode.RECONNECT_FAILED });
    expect((end as Error).message).toMatch(/gave up reconnecting .* after 5 attempts/);
    expect(errors).toEqual([ErrorCode.CONNECTION_LOST, ErrorCode.RECONNECT_FAILED]);
    expect(log.warnings.filter((w) => w.includes('lost the server'))).toHaveLength(1);
    expect(log.warnings.find((w) => w.includes('lost the server'))).toMatch(
      /reconnecting \(backoff 20 ms ×2 up to 50 ms, at most 5 attempts\)/,
    );
    expect(client.state).toBe('closed');
    await expect(client.receive()).rejects.toMatchObject({ code: ErrorCode.RECONNECT_FAILED });
  });

  it('a server back after SIGKILL: one "lost" and one "back" warning, and messages flow again', async () => {
    const cfg = await childConfig(t);
    const child = await startChild(cfg);
    const log = captureLog();
    const client = await childClient(cfg, {
      ...quick,
      logger: log,
      reconnect: { initialDelay: 20, maxDelay: 100, maxRetries: Number.POSITIVE_INFINITY },
    });
    await client.connect();
    await client.receive();
    await child.kill();
    await until(() => log.warnings.some((w) => w.includes('lost the server')), 'lost warning');
    await startChild(cfg);
    await until(() => log.warnings.some((w) => w.includes('is back')), 'back warning', 20_000);
    // messages from the new server arrive (drain what the old one sent first)
    for (;;) {
      const m = await client.receive({ timeout: 10_000 });
      if (m.data.tick === 0) break;
    }
    expect(log.warnings.filter((w) => w.includes('lost the server'))).toHaveLength(1);
    expect(log.warnings.filter((w) => w.includes('is back'))).toHaveLength(1);
    expect(log.warnings.find((w) => w.includes('is back'))).toMatch(/reconnected after \d+ attempt\(s\), \d+ ms/);
  }, 30_000);
});
