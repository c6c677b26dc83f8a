import { describe, expect, it } from '@jest/globals';
import { SocketClient, type ClientTransport, type TransportStream } from '@socketkit/core';
import { ConnectionError, ErrorCode, TimeoutError } from '@socketkit/protocol';
import { describeTransports, itIf, onCleanup, once, until } from '../src/harness.js';

describe('connect timeout', () => {
  it('rejects with TimeoutError and aborts the attempt when the transport never completes', async () => {
    let aborted = false;
    const stalled: ClientTransport = {
      kind: 'stalled',
      address: () => 'nowhere',
      connect: (signal) =>
        new Promise<TransportStream>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(signal.reason);
          });
        }),
    };
    const c = new SocketClient({ eventName: 'stall', transport: stalled, logLevel: 'silent', connectTimeout: 50 });
    onCleanup(() => c.disconnect());
    await expect(c.connect()).rejects.toBeInstanceOf(TimeoutError);
    expect(aborted).toBe(true);
    expect(c.isConnected()).toBe(false);
  });
});

describeTransports('client receive, iteration and events', (t) => {
  it('receive({timeout}) rejects with TimeoutError when nothing arrives', async () => {
    const server = t.server();
    await server.start();
    const c = t.client(server);
    await c.connect();
    const err = await c.receive({ timeout: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).code).toBe(ErrorCode.TIMEOUT);
    // and a later message is still received
    server.send({ late: true });
    expect((await c.receive()).data).toEqual({ late: true });
  });

  it('for await yields every message in order and ends on disconnect()', async () => {
    const server = t.server();
    await server.start();
    const c = t.client(server);
    await c.connect({ waitForWelcome: true });
    for (let i = 0; i < 100; i++) server.send({ i });
    const got: number[] = [];
    for await (const m of c) {
      got.push(m.data.i as number);
      if (got.length === 100) void c.disconnect();
    }
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await expect(c.receive()).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });

  it('emits connected, message, disconnected, close', async () => {
    const server = t.server();
    await server.start();
    const c = t.client(server, { autoReconnect: false });
    const events: string[] = [];
    for (const e of ['connected', 'disconnected', 'close', 'welcome'] as const) c.on(e, () => events.push(e));
    const got: unknown[] = [];
    c.on('message', (m) => got.push(m.data));
    await c.connect({ waitForWelcome: true });
    server.send({ n: 1 });
    await until(() => got.length === 1, 'message event');
    await server.stop();
    await until(() => events.includes('close'), 'close event');
    expect(events).toEqual(['connected', 'welcome', 'disconnected', 'close']);
    expect(got).toEqual([{ n: 1 }]);
    expect(c.isConnected()).toBe(false);
    // one rule (README): a 'message' listener sees every message AND it is kept for receive()
    expect(c.bufferedMessages).toBe(1);
    expect((await c.receive()).data).toEqual({ n: 1 });
  });

  it('client errors name the event and the address', async () => {
    const server = t.server();
    await server.start();
    const c = t.client(server, { autoReconnect: false });
    await server.stop();
    const err = (await c.connect().catch((e: unknown) => e)) as ConnectionError;
    expect(err).toBeInstanceOf(ConnectionError);
    expect([ErrorCode.SOCKET_NOT_FOUND, ErrorCode.SERVER_NOT_RUNNING]).toContain(err.code);
    expect(err.message).toContain(server.eventName);
    expect(err.message).toContain(c.address);
  });
});

describeTransports('request/reply', (t) => {
  it('matches concurrent replies to their requests by id', async () => {
    const server = t.server({
      handler: async (data) => {
        // answer out of order: larger n waits less
        await new Promise((r) => setTimeout(r, 20 - (data.n as number)));
        return { double: (data.n as number) * 2 };
      },
    });
    await server.start();
    const c = t.client(server);
    await c.connect();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, n) => c.request({ n })));
    replies.forEach((r, n) => {
      expect(r.data).toEqual({ double: n * 2 });
      expect(typeof r.replyTo).toBe('string');
    });
    expect(new Set(replies.map((r) => r.replyTo)).size).toBe(20);
  });

  it('server.reply() answers later; a throwing handler comes back as an error', async () => {
    const server = t.server();
    server.onRequest((data, ctx) => {
      if (data.fail) throw new Error('handler exploded');
      setImmediate(() => server.reply(ctx.clientId, ctx.message, { later: true }));
      return undefined;
    });
    await server.start();
    const c = t.client(server);
    await c.connect();
    expect((await c.request({})).data).toEqual({ later: true });
    await expect(c.request({ fail: true })).rejects.toMatchObject({
      code: ErrorCode.REMOTE_ERROR,
      remoteCode: ErrorCode.HANDLER_FAILED,
      remoteMessage: 'handler exploded',
    });
  });

  // The test used to have no late reply at all, so it could not fail; with a
  // real late reply it failed on the v1 client, which delivered it as a message.
  it('times out with TimeoutError when nobody answers; a late reply is not delivered', async () => {
    const server = t.server();
    // Holds the request until the client gave up, then answers it late.
    let answerLate: (() => void) | undefined;
    server.onRequest((_data, ctx) => {
      answerLate = () => server.reply(ctx.clientId, ctx.message, { late: true });
      return undefined;
    });
    await server.start();
    const c = t.client(server);
    await c.connect();
    const err = await c.request({ q: 1 }, { timeout: 40 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    // a late reply for a timed-out request is not delivered as a normal message either
    await until(() => answerLate !== undefined, 'request reached the handler');
    answerLate?.();
    server.send({ after: true });
    expect((await c.receive()).data).toEqual({ after: true });
  });
});

describeTransports('handshake and heartbeats', (t) => {
  const itRaw = itIf(t.caps.raw, 'this transport has no raw-peer fixture');
  it(
    'hello/welcome: the welcome carries client id, allow_client_send and max_message_size; control ops never reach ' +
      'user code',
    async () => {
      const server = t.server({ maxMessageSize: 4096 });
      await server.start();
      // A generous heartbeatTimeout: on a loaded machine a 20 ms beat must not race the liveness check.
      const c = t.client(server, { heartbeatInterval: 20, heartbeatTimeout: 60_000 });
      const seen: unknown[] = [];
      c.on('message', (m) => seen.push(m.data));
      await c.connect({ waitForWelcome: true });
      expect(c.welcome).toEqual({
        clientId: expect.stringMatching(/^client_/),
        allowClientSend: true,
        maxMessageSize: 4096,
      });
      // pings go back and forth (client heartbeat) yet user code sees only user messages
      await new Promise((r) => setTimeout(r, 100)); // lets a few beats happen; nothing below depends on how many
      server.send({ op: 'user-level', x: 1 });
      await until(() => seen.length === 1, 'user message');
      expect(seen).toEqual([{ op: 'user-level', x: 1 }]);
      expect(c.isConnected()).toBe(true);
    },
  );

  itRaw('server heartbeats drop a silent peer that sent hello but never answers', async () => {
    const server = t.server({ heartbeatInterval: 20, heartbeatTimeout: 80 });
    await server.start();
    const { encodeFrame } = await import('@socketkit/codec');
    const { createMessage } = await import('@socketkit/protocol');
    const raw = await t.raw(server);
    raw.on('data', () => undefined); // reads, never answers ping
    const gone = once<[string, string]>(server, 'clientDisconnected');
    raw.write(encodeFrame(createMessage(server.eventName, 'control', { op: 'hello', protocol: 1 })));
    const [, reason] = await gone;
    expect(reason).toBe('heartbeat timeout');
  });

  it(
    'waitForWelcome succeeds while the server is already broadcasting fast (welcome queued behind a full receive ' +
      'buffer)',
    async () => {
      const server = t.server();
      await server.start();
      const first = t.client(server);
      await first.connect();
      let running = true;
      const pump = (async () => {
        let i = 0;
        while (running) {
          server.send({ i: i++ });
          if (i % 64 === 0) {
            await server.drain();
            await new Promise((r) => setImmediate(r));
          }
        }
      })();
      try {
        const late = t.client(server, { bufferSize: 16 });
        await late.connect({ waitForWelcome: true, timeout: 5000 });
        expect(late.welcome?.clientId).toMatch(/^client_/);
      } finally {
        running = false;
        await pump;
      }
    },
  );

  itRaw('client heartbeats detect a silently dead server (that did the handshake) and reconnect', async () => {
    const { client: c, accepted } = await t.silentServer(
      { heartbeatInterval: 20, heartbeatTimeout: 80, reconnect: { initialDelay: 10, maxDelay: 20 } },
      { welcome: true },
    );
    const disconnected = once<[string]>(c, 'disconnected');
    const reconnecting = once<[number, number]>(c, 'reconnecting');
    await c.connect();
    const [reason] = await disconnected;
    expect(reason).toContain('heartbeat');
    expect((await reconnecting)[0]).toBe(1);
    // it reconnects to the (still silent) server: a second connection is accepted
    await until(() => accepted.length >= 2, 'second connection after heartbeat drop');
  });
});
