// Connect can be aborted cleanly (issue 12 item 1, engine side).
import { describe, expect, it, jest } from '@jest/globals';
import { ErrorCode, TimeoutError } from '@socketkit/protocol';
import { SocketClient } from '../src/client.js';
import type { ClientTransport, TransportStream } from '../src/transport.js';
import { duplexPair, settle } from './fake-server.js';
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

  it('when the connect timeout fires, connect() rejects and a stream that arrives later is destroyed, never adopted', async () => {
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
  });

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
