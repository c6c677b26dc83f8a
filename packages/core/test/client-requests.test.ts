// In-flight requests and infinite timeouts (issue 12 item 8).
import { describe, expect, it, jest } from '@jest/globals';
import { ErrorCode, type SocketMessage } from '@socketkit/protocol';
import { SocketClient } from '../src/client/client.js';
import type { ClientTransport, TransportStream } from '../src/transport.js';
import { duplexPair, fakeClient as client, FakeServer, settle } from './fake-server.js';
import { useFakeTimers } from './fake-timers.js';

describe('client requests', () => {
  useFakeTimers();

  it('in-flight requests fail at once with CONNECTION_LOST when the connection drops', async () => {
    const fs = new FakeServer();
    const c = client(fs, { handshake: false });
    await c.connect();
    const outcome: unknown[] = [];
    c.request({ q: 1 }, { timeout: 60_000 }).then(
      () => outcome.push('resolved'),
      (e: unknown) => outcome.push(e),
    );
    await settle(5);
    fs.last.destroy();
    await settle(10); // no timer advanced: the timeout is not what ends it
    expect(outcome).toEqual([expect.objectContaining({ code: ErrorCode.CONNECTION_LOST })]);
    await c.disconnect();
  });

  it('a reply that comes after its request timed out is dropped, never delivered as a message', async () => {
    const fs = new FakeServer();
    const c = client(fs, { handshake: false });
    await c.connect();
    const req = c.request({ q: 1 }, { timeout: 100 });
    req.catch(() => undefined);
    await settle(5);
    jest.advanceTimersByTime(100);
    await expect(req).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    fs.last.send('data', { late: true }, { replyTo: fs.last.received[0]?.id as string });
    fs.last.send('data', { after: true });
    fs.last.send('data', { foreign: true }, { replyTo: 'not-ours' }); // a reply_to of someone else is plain data
    await settle(10);
    expect((await c.receive()).data).toEqual({ after: true });
    expect((await c.receive()).data).toEqual({ foreign: true });
    await c.disconnect();
  });

  it('request({timeout: Infinity}) never times out', async () => {
    const fs = new FakeServer();
    const c = client(fs, { handshake: false });
    await c.connect();
    let result: SocketMessage | Error | undefined;
    c.request({ q: 1 }, { timeout: Number.POSITIVE_INFINITY }).then(
      (m) => (result = m),
      (e: Error) => (result = e),
    );
    await settle(5);
    jest.advanceTimersByTime(24 * 3600 * 1000);
    await settle(5);
    expect(result).toBeUndefined();
    const id = fs.last.received[0]?.id as string;
    fs.last.send('data', { a: 1 }, { replyTo: id });
    await settle(5);
    expect((result as SocketMessage).data).toEqual({ a: 1 });
    await c.disconnect();
  });

  it('connect({timeout: Infinity}) never times out', async () => {
    let release: ((s: TransportStream) => void) | undefined;
    const slow: ClientTransport = {
      kind: 'slow',
      address: () => 'slow',
      connect: () => new Promise<TransportStream>((resolve) => (release = resolve)),
    };
    const c = new SocketClient({ eventName: 'fake', transport: slow, logLevel: 'silent', handshake: false });
    let done: unknown;
    c.connect({ timeout: Number.POSITIVE_INFINITY }).then(
      () => (done = 'connected'),
      (e: unknown) => (done = e),
    );
    await settle(5);
    jest.advanceTimersByTime(24 * 3600 * 1000);
    await settle(5);
    expect(done).toBeUndefined();
    const [a, b] = duplexPair();
    b.on('end', () => b.end());
    b.resume();
    release?.(a);
    await settle(5);
    expect(done).toBe('connected');
    await c.disconnect();
    b.destroy();
  });

  it('a timeout that is neither Infinity nor an integer 1..2^31-1 ms is INVALID_CONFIG', async () => {
    const fs = new FakeServer();
    expect(() => client(fs, { connectTimeout: 0 })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }),
    );
    expect(() => client(fs, { closeTimeout: 2 ** 31 })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }),
    );
    const c = client(fs, { handshake: false });
    await c.connect();
    await expect(c.request({}, { timeout: 1.5 })).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG });
    await c.disconnect();
  });
});
