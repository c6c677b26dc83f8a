// Connect can be aborted cleanly (issue 12 item 1, engine side).
import { describe, expect, it, jest } from '@jest/globals';
import { ErrorCode, TimeoutError } from '@socketkit/protocol';
import { SILENT_SERVER_GRACE_MS, SocketClient } from '../src/client/client.js';
import type { ClientTransport, TransportStream } from '../src/transport.js';
import { duplexPair, FakeServer, settle, fakeClient } from './fake-server.js';
import { useFakeTimers } from './fake-timers.js';

/** A transport that ignores the abort signal and hands out a stream only when told to. */
function lateTransport(): { transport: ClientTransport; release(): TransportStream } {
  const waiting: Array<(s: TransportStream) => void> = [];
  return {
    transport: {
      kind: 'late',
      address: () => 'late',
      connect: () => new Promise<TransportStream>((resolve) => waiting.push(resolve)),
    },
    release() {
      const [a, b] = duplexPair();
      b.on('error', () => undefined);
      b.resume();
      (waiting.shift() as (s: TransportStream) => void)(a);
      return a;
    },
  };
}

describe('connect abort', () => {
  useFakeTimers();

  it(
    'when the connect timeout fires, connect() rejects and a stream that arrives later is destroyed, never ' +
      'adopted',
    async () => {
      const late = lateTransport();
      const c = new SocketClient({
        eventName: 'late',
        transport: late.transport,
        logLevel: 'silent',
        connectTimeout: 500,
        autoReconnect: false,
      });
      let outcome: unknown;
      c.connect().then(
        () => (outcome = 'connected'),
        (e: unknown) => (outcome = e),
      );
      jest.advanceTimersByTime(500);
      await settle(5);
      expect(outcome).toBeInstanceOf(TimeoutError);
      const stream = late.release();
      await settle(5);
      expect(stream.destroyed).toBe(true);
      expect(c.isConnected()).toBe(false);
      await c.disconnect();
    },
  );

  it('disconnect() while connecting rejects connect() with CLOSED and destroys a late stream', async () => {
    const late = lateTransport();
    const c = new SocketClient({ eventName: 'late', transport: late.transport, logLevel: 'silent' });
    const connecting = c.connect();
    await settle(2);
    await c.disconnect();
    await expect(connecting).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    const stream = late.release();
    await settle(5);
    expect(stream.destroyed).toBe(true);
    expect(c.isConnected()).toBe(false);
  });

  it('a second connect() while connecting is CONNECT_IN_PROGRESS', async () => {
    const late = lateTransport();
    const c = new SocketClient({ eventName: 'late', transport: late.transport, logLevel: 'silent' });
    // (this transport's server never answers hello: resolve on the open stream)
    const first = c.connect({ waitForWelcome: false });
    await expect(c.connect()).rejects.toMatchObject({ code: ErrorCode.CONNECT_IN_PROGRESS });
    late.release();
    await first;
    expect(c.isConnected()).toBe(true);
    c.disconnect().catch(() => undefined);
    jest.advanceTimersByTime(5000);
  });
});

describe('connect() and a server that never answers hello', () => {
  useFakeTimers();

  it(
    `resolves after SILENT_SERVER_GRACE_MS (${SILENT_SERVER_GRACE_MS} ms) without a token; requests fail at once; a ` +
      `late welcome is taken`,
    async () => {
      const fs = new FakeServer();
      const c = fakeClient(fs, { autoReconnect: false });
      let outcome: unknown;
      c.connect({ timeout: 10 * SILENT_SERVER_GRACE_MS }).then(
        () => (outcome = 'connected'),
        (e: unknown) => (outcome = e),
      );
      await settle(5);
      jest.advanceTimersByTime(SILENT_SERVER_GRACE_MS - 1);
      await settle(5);
      expect(outcome).toBeUndefined();
      jest.advanceTimersByTime(1);
      await settle(5);
      expect(outcome).toBe('connected');
      await expect(c.request({ q: 1 })).rejects.toMatchObject({ code: ErrorCode.REQUESTS_UNSUPPORTED });
      fs.last.welcome();
      await settle(5);
      expect(c.welcome).toBeDefined();
      await c.disconnect();
    },
  );

  it('a refusal within the grace still rejects connect()', async () => {
    const fs = new FakeServer();
    fs.onAccept = (peer) => setTimeout(() => peer.refuse(ErrorCode.MAX_CONNECTIONS), 10);
    const c = fakeClient(fs);
    const outcome = c.connect().catch((e: unknown) => e);
    await settle(5);
    jest.advanceTimersByTime(10);
    await settle(5);
    expect(await outcome).toMatchObject({ code: ErrorCode.MAX_CONNECTIONS });
  });

  it('with a token there is no grace: connect() waits for the welcome up to its timeout', async () => {
    const fs = new FakeServer();
    const c = fakeClient(fs, { token: 'a-token-of-at-least-16-bytes', autoReconnect: false });
    let outcome: unknown;
    c.connect({ timeout: 3 * SILENT_SERVER_GRACE_MS }).then(
      () => (outcome = 'connected'),
      (e: unknown) => (outcome = e),
    );
    await settle(5);
    jest.advanceTimersByTime(2 * SILENT_SERVER_GRACE_MS);
    await settle(5);
    expect(outcome).toBeUndefined();
    jest.advanceTimersByTime(SILENT_SERVER_GRACE_MS);
    await settle(5);
    expect(outcome).toBeInstanceOf(TimeoutError);
  });
});
