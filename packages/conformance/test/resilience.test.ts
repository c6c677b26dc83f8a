import { expect, it } from '@jest/globals';
import { encodeFrame, FrameDecoder, frameBytes, packValue } from '@socketkit/codec';
import { createMessage, ErrorCode, type SocketMessage } from '@socketkit/protocol';
import { describeTransports, once, readAll, until } from '../src/harness.js';

function decodeAll(bytes: Buffer): SocketMessage[] {
  return new FrameDecoder({ maxMessageSize: 1 << 30 }).push(bytes);
}

describeTransports('reconnect', (t) => {
  it('reconnects with backoff after a server restart and receives what was queued meanwhile', async () => {
    const server = t.server();
    await server.start();
    const c = t.client(server, { reconnect: { initialDelay: 20, maxDelay: 100, maxRetries: 100 } });
    const delays: number[] = [];
    c.on('reconnecting', (_attempt, delay) => delays.push(delay));
    await c.connect({ waitForWelcome: true });
    const gone = once(c, 'disconnected');
    await server.stop();
    await gone;
    // messages sent while the server has no client are queued ...
    await server.start();
    server.send({ queued: 1 });
    server.send({ queued: 2 });
    // ... and delivered to the reconnected client, in order
    expect((await c.receive({ timeout: 10000 })).data).toEqual({ queued: 1 });
    expect((await c.receive()).data).toEqual({ queued: 2 });
    expect(c.isConnected()).toBe(true);
    expect(delays.length).toBeGreaterThanOrEqual(1);
    // jitter keeps the first delay within ±25 % of 20 ms
    expect(delays[0]).toBeGreaterThanOrEqual(15);
    expect(delays[0]).toBeLessThanOrEqual(25);
  });

  it('buffers sends while reconnecting and flushes them first on reconnect', async () => {
    const server = t.server();
    await server.start();
    const c = t.client(server, { reconnect: { initialDelay: 20, maxDelay: 50 } });
    await c.connect({ waitForWelcome: true });
    const gone = once(c, 'disconnected');
    await server.stop();
    await gone;
    await c.send({ offline: 1 });
    await c.send({ offline: 2 });
    const got: unknown[] = [];
    server.on('message', (m) => got.push(m.data));
    await server.start();
    await until(() => got.length === 2, 'buffered sends delivered');
    expect(got).toEqual([{ offline: 1 }, { offline: 2 }]);
  });

  it('offlineSend "reject" and a full send buffer are clear errors; maxRetries gives up with RECONNECT_FAILED', async () => {
    const server = t.server();
    await server.start();
    const rejecting = t.client(server, {
      offlineSend: 'reject',
      reconnect: { initialDelay: 10, maxDelay: 10, maxRetries: 3 },
    });
    const small = t.client(server, { sendBufferSize: 1, reconnect: { initialDelay: 5000 } });
    await rejecting.connect({ waitForWelcome: true });
    await small.connect({ waitForWelcome: true });
    // first the one CONNECTION_LOST of the outage, then RECONNECT_FAILED (issue 23 item 4)
    const errors: Array<Error & { code?: string }> = [];
    rejecting.on('error', (e) => errors.push(e));
    const gaveUp = new Promise<[Error]>((resolve) =>
      rejecting.on('close', () => resolve([errors[errors.length - 1] as Error])),
    );
    const attempts: number[] = [];
    rejecting.on('reconnecting', (n) => attempts.push(n));
    const gone = Promise.all([once(rejecting, 'disconnected'), once(small, 'disconnected')]);
    await server.stop();
    await gone;
    await expect(rejecting.send({ a: 1 })).rejects.toMatchObject({ code: ErrorCode.NOT_CONNECTED });
    await small.send({ first: 1 });
    await expect(small.send({ second: 1 })).rejects.toMatchObject({ code: ErrorCode.BUFFER_FULL });
    const [err] = await gaveUp;
    expect(err).toMatchObject({ code: ErrorCode.RECONNECT_FAILED });
    expect(err.message).toContain('3 attempts');
    expect(errors.map((e) => e.code)).toEqual([ErrorCode.CONNECTION_LOST, ErrorCode.RECONNECT_FAILED]);
    expect(attempts).toEqual([1, 2, 3]);
    await expect(rejecting.receive({ timeout: 100 })).rejects.toMatchObject({ code: ErrorCode.RECONNECT_FAILED });
  });
});

describeTransports(
  'back-pressure and slow consumers',
  (t) => {
    // NATS has no per-connection back-pressure to the publisher (see the @socketkit/nats README)
    const itBackpressure = t.caps.backpressure
      ? it
      : (name: string, fn: () => Promise<void>, timeout?: number) =>
          it.skip(`${name} [skipped: this transport has no per-connection back-pressure]`, fn, timeout);

    itBackpressure(
      'a full receive buffer stops reading: back-pressure reaches the server and nothing is dropped',
      async () => {
        const server = t.server({ maxPendingBytes: 64 * 1024 * 1024 });
        await server.start();
        const c = t.client(server, { bufferSize: 16 });
        await c.connect({ waitForWelcome: true });
        const total = 20000;
        const pad = 'p'.repeat(200);
        for (let i = 0; i < total; i++) server.send({ i, pad });
        // the client stops reading at 16 buffered messages, so bytes pile up on the server side
        await until(() => (server.getConnectedClients()[0]?.pendingBytes ?? 0) > 0, 'server-side pending bytes');
        expect(c.bufferedMessages).toBeLessThan(2000);
        for (let i = 0; i < total; i++) {
          const m = await c.receive();
          if (m.data.i !== i) throw new Error(`expected ${i}, got ${String(m.data.i)}`);
        }
        expect(c.bufferedMessages).toBe(0);
      },
    );

    itBackpressure(
      'a client that stops reading is disconnected with SLOW_CONSUMER; memory stays bounded; others keep receiving',
      async () => {
        const limit = 256 * 1024;
        const server = t.server({ maxPendingBytes: limit, drainTimeout: 200 });
        await server.start();
        const fast = t.client(server);
        await fast.connect({ waitForWelcome: true });
        const raw = await t.raw(server);
        raw.pause(); // never reads
        await until(() => server.getConnectedClients().length === 2, 'both registered');
        const slowId = server.getConnectedClients().find((x) => x.id !== fast.welcome?.clientId)?.id as string;
        const dropped = once<[string, string, string]>(server, 'clientDisconnected');
        const payload = { blob: 'x'.repeat(4000) };
        let sent = 0;
        let maxPending = 0;
        let received = 0;
        fast.on('message', () => received++);
        while (server.getConnectedClients().some((x) => x.id === slowId)) {
          server.send({ ...payload, n: sent++ });
          for (const info of server.getConnectedClients()) maxPending = Math.max(maxPending, info.pendingBytes);
          if (sent % 16 === 0) await server.drain();
          if (sent > 100000) throw new Error('slow consumer was never disconnected');
        }
        const [id, , code] = await dropped;
        expect(id).toBe(slowId);
        expect(code).toBe(ErrorCode.SLOW_CONSUMER);
        // the hard bound held: never more than maxPendingBytes + one frame queued for a client
        expect(maxPending).toBeLessThanOrEqual(limit + 4200);
        // the fast client got everything sent
        server.send({ last: true });
        await until(() => received === sent + 1, 'fast client received all');
      },
    );
  },
  (t) => t.caps.raw,
);

describeTransports(
  'hostile frames',
  (t) => {
    it('oversized length prefix: that client gets FRAME_TOO_LARGE and is closed; the server and others carry on', async () => {
      const server = t.server();
      await server.start();
      const good = t.client(server);
      await good.connect({ waitForWelcome: true });
      const errors: Error[] = [];
      server.on('error', (e) => errors.push(e));
      const bad = await t.raw(server);
      const everything = readAll(bad);
      bad.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
      const replies = decodeAll(await everything);
      const last = replies[replies.length - 1] as SocketMessage;
      expect(last.messageType).toBe('error');
      expect(last.data.code).toBe(ErrorCode.FRAME_TOO_LARGE);
      expect(errors.map((e) => (e as { code?: string }).code)).toContain(ErrorCode.FRAME_TOO_LARGE);
      expect(server.isRunning()).toBe(true);
      expect(server.send({ after: 'bad client' })).toBe(1);
      expect((await good.receive()).data).toEqual({ after: 'bad client' });
    });

    // Lenient receive (as the Python module): a well-framed payload that is not
    // a valid message is reported and skipped; the connection stays up.
    it.each([
      ['not msgpack', frameBytes(Buffer.from([0xc1, 0xc1, 0xc1]))],
      ['msgpack but not a message', frameBytes(packValue({ event_name: 'x', data: [] }))],
    ])('%s: reported with INVALID_MESSAGE and skipped; that client stays connected', async (_name, bytes) => {
      const server = t.server();
      await server.start();
      const errors: Error[] = [];
      server.on('error', (e) => errors.push(e));
      const got: unknown[] = [];
      server.on('message', (m) => got.push(m.data));
      const bad = await t.raw(server);
      bad.write(bytes);
      bad.write(encodeFrame(createMessage(server.eventName, 'data', { after: 'invalid' })));
      await until(() => got.length === 1, 'the next message');
      expect(got).toEqual([{ after: 'invalid' }]);
      expect(errors.map((e) => (e as { code?: string }).code)).toEqual([ErrorCode.INVALID_MESSAGE]);
      expect(bad.destroyed).toBe(false);
    });

    it('zero-length frame: ends the stream cleanly (no ERROR), as in the Python module', async () => {
      const server = t.server();
      await server.start();
      const errors: Error[] = [];
      server.on('error', (e) => errors.push(e));
      const bad = await t.raw(server);
      const everything = readAll(bad);
      bad.write(Buffer.from([0, 0, 0, 0]));
      const replies = decodeAll(await everything);
      expect(replies.filter((m) => m.messageType === 'error')).toEqual([]);
      expect(errors).toEqual([]);
      expect(server.isRunning()).toBe(true);
    });

    it('a truncated frame (peer half-closes mid-frame) is answered with MALFORMED_FRAME', async () => {
      const server = t.server();
      await server.start();
      const bad = await t.raw(server);
      const everything = readAll(bad);
      const frame = encodeFrame(createMessage(server.eventName, 'data', { x: 1 }));
      bad.end(frame.subarray(0, frame.length - 3));
      const replies = decodeAll(await everything);
      expect(replies.at(-1)?.data.code).toBe(ErrorCode.MALFORMED_FRAME);
      expect(String(replies.at(-1)?.data.error)).toContain('truncated');
      expect(server.isRunning()).toBe(true);
    });

    it('a client frame above maxMessageSize is refused before the body arrives', async () => {
      const server = t.server({ maxMessageSize: 1024 });
      await server.start();
      const bad = await t.raw(server);
      const everything = readAll(bad);
      const big = encodeFrame(createMessage(server.eventName, 'data', { blob: 'y'.repeat(5000) }));
      bad.write(big.subarray(0, 4)); // header only
      const replies = decodeAll(await everything);
      expect(replies.at(-1)?.data.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    });
  },
  (t) => t.caps.raw,
);
