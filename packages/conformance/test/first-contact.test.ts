// Issue 23 items 3-6: what a client does when the server is not there yet,
// dies, refuses, or fails a request, on every transport.
import { expect, it } from '@jest/globals';
import { ErrorCode, RemoteError, SocketError } from '@socketkit/protocol';
import { describeTransports } from '../src/harness.js';

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
