import { afterEach, describe, expect, test } from '@jest/globals';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { MessageType, createMessage, createServer, type SocketServer } from 'socketkit';
import { cli, jsonLines, runCli, useTestDir } from './helpers.js';

let dir = '';
const servers: SocketServer[] = [];
useTestDir('sk-', (d) => {
  dir = d;
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function inProcessServer(event: string, options: Record<string, unknown> = {}): Promise<SocketServer> {
  const server = await createServer('unix', event, {
    socketDir: dir,
    logLevel: 'silent',
    envFile: false,
    env: {},
    ...options,
  });
  servers.push(server);
  await server.start();
  return server;
}

/** Resolves once `server` has `n` clients registered. */
async function clientsConnected(server: SocketServer, n: number): Promise<void> {
  while (server.getConnectedClients().length < n)
    await new Promise((resolve) => server.once('clientConnected', resolve));
}

/** A TCP port with nothing listening on it (bound, read, then released). */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('no server: exit 1 naming the error code', () => {
  test.each([
    ['listen', []],
    ['send', ['--data', '{"n":1}']],
    ['request', ['--data', '{"n":1}']],
  ])('%s over unix: SOCKET_NOT_FOUND', async (command, extra) => {
    const r = await runCli([command, 'nobody', '--socket-dir', dir, ...extra], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error SOCKET_NOT_FOUND: no server is running for event "nobody"/m);
    expect(r.stderr).toContain(join(dir, 'nobody.sock'));
    expect(r.stdout).toBe('');
  });

  test('listen over tcp to a closed port: SERVER_NOT_RUNNING', async () => {
    const r = await runCli(['listen', 'nobody', '--transport', 'tcp', '--port', String(await closedPort())], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error SERVER_NOT_RUNNING: /m);
  });
});

describe('listen', () => {
  test('--type keeps only that type of message', async () => {
    const server = await inProcessServer('typed');
    const listen = cli(['listen', 'typed', '--socket-dir', dir, '--type', 'error', '--count', '1'], dir);
    await listen.waitFor('stderr', /connected to /);
    server.send({ skip: 'data' });
    server.sendMessage(createMessage('typed', MessageType.CONTROL, { user: 'control' }));
    server.sendMessage(createMessage('typed', MessageType.ERROR, { code: 'APP_FAILED', error: 'it broke' }));
    server.send({ after: 'count reached' });
    expect(await listen.exited).toBe(0);
    const lines = jsonLines(listen.stdout());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ message_type: 'error', data: { code: 'APP_FAILED', error: 'it broke' } });
  });

  test('user CONTROL messages are printed; reserved ones (welcome) are not', async () => {
    const server = await inProcessServer('ctl');
    const listen = cli(['listen', 'ctl', '--socket-dir', dir, '--type', 'control', '--count', '1'], dir);
    await listen.waitFor('stderr', /connected to /);
    server.sendMessage(createMessage('ctl', MessageType.CONTROL, { op: 'reload' }));
    expect(await listen.exited).toBe(0);
    expect(jsonLines(listen.stdout())).toEqual([
      expect.objectContaining({ message_type: 'control', data: { op: 'reload' } }),
    ]);
  });

  test('the server stopping ends listen with 0, or 1 when --count was not reached', async () => {
    const server = await inProcessServer('stopping');
    const plain = cli(['listen', 'stopping', '--socket-dir', dir], dir);
    const counted = cli(['listen', 'stopping', '--socket-dir', dir, '--count', '5'], dir);
    await plain.waitFor('stderr', /connected to /);
    await counted.waitFor('stderr', /connected to /);
    await clientsConnected(server, 2); // a broadcast reaches both (not the queue for the first)
    server.send({ only: 'one' });
    await plain.waitFor('stdout', /"only"/);
    await counted.waitFor('stdout', /"only"/);
    await server.stop();
    expect(await plain.exited).toBe(0);
    expect(plain.stderr()).toContain('the server closed the connection');
    expect(await counted.exited).toBe(1);
    expect(counted.stderr()).toMatch(
      /^error CONNECTION_LOST: the server at \S+ closed the connection after 1 of 5 messages/m,
    );
  });

  test('SIGINT ends listen with 0', async () => {
    await inProcessServer('interrupt');
    const listen = cli(['listen', 'interrupt', '--socket-dir', dir], dir);
    await listen.waitFor('stderr', /connected to /);
    listen.child.kill('SIGINT');
    expect(await listen.exited).toBe(0);
  });

  test('a full server refuses with MAX_CONNECTIONS', async () => {
    await inProcessServer('full', { maxConnections: 1 });
    const first = cli(['listen', 'full', '--socket-dir', dir], dir);
    await first.waitFor('stderr', /connected to /);
    const r = await runCli(['listen', 'full', '--socket-dir', dir], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error MAX_CONNECTIONS: /m);
  });
});

describe('send and request', () => {
  test('a server that does not accept client messages: SEND_NOT_ALLOWED', async () => {
    await inProcessServer('readonly', { allowClientSend: false });
    const r = await runCli(['send', 'readonly', '--socket-dir', dir, '--data', '{"n":1}'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error SEND_NOT_ALLOWED: /m);
  });

  test('a bad JSON line on stdin stops send with INVALID_MESSAGE after the good ones', async () => {
    const server = await inProcessServer('lines');
    const got: unknown[] = [];
    server.on('message', (m) => got.push(m.data));
    const disconnected = new Promise((resolve) => server.once('clientDisconnected', resolve));
    const r = await runCli(['send', 'lines', '--socket-dir', dir], dir, '{"n":1}\n"just a string"\n{"n":3}\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error INVALID_MESSAGE: stdin line 2 is not a JSON object/m);
    await disconnected;
    expect(got).toEqual([{ n: 1 }]);
  });

  test('request without a handler on the server: NO_HANDLER at once (issue 23 item 6)', async () => {
    await inProcessServer('silent');
    const r = await runCli(['request', 'silent', '--socket-dir', dir, '--timeout', '600'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error NO_HANDLER: server "silent" has no request handler/m);
  });

  test('an ERROR reply exits 1 with the handler error code', async () => {
    await inProcessServer('failing', {
      handler: () => {
        throw new Error('division by zero');
      },
    });
    const r = await runCli(['request', 'failing', '--socket-dir', dir, '--data', '{"a":1,"b":0}'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error REMOTE_ERROR: the request handler of "failing" .* failed with HANDLER_FAILED: division by zero/m,
    );
  });
});
