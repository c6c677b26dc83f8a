// Reconnect rules against foreign servers (issue 12 items 2, 3).
import { describe, expect, it, jest } from '@jest/globals';
import { type ConnectionError, ErrorCode, MaxConnectionsError } from '@socketkit/protocol';
import type { SocketClient } from '../src/client/client.js';
import { fakeClient as client, FakeServer, settle } from './fake-server.js';
import { useFakeTimers } from './fake-timers.js';

/** Lets the client see each close and schedule its next attempt, `n` times, recording the delays. */
async function runAttempts(c: SocketClient, n: number): Promise<number[]> {
  const delays: number[] = [];
  c.on('reconnecting', (_attempt, delay) => delays.push(delay));
  for (let i = 0; i < n; i++) {
    await settle(10);
    const d = delays[delays.length - 1];
    if (d === undefined) break;
    jest.advanceTimersByTime(d);
  }
  await settle(10);
  return delays;
}

describe('client reconnect backoff', () => {
  useFakeTimers();

  it(
    'backs off exponentially against a server that accepts and closes at once, sending nothing (Python at its ' +
      'limit)',
    async () => {
      const fs = new FakeServer();
      fs.onAccept = (p) => setImmediate(() => p.stream.end());
      const c = client(fs, { handshake: false });
      await c.connect();
      const delays = await runAttempts(c, 7);
      expect(delays.slice(0, 7)).toEqual([100, 200, 400, 800, 1600, 3200, 5000]);
      await c.disconnect();
    },
  );

  it('resets the backoff after a connection delivered a message', async () => {
    const fs = new FakeServer();
    let n = 0;
    fs.onAccept = (p) =>
      setImmediate(() => {
        // the 4th connection delivers a message before closing
        if (++n === 4) p.send('data', { hi: 1 });
        p.stream.end();
      });
    const c = client(fs, { handshake: false });
    await c.connect();
    const delays = await runAttempts(c, 5);
    expect(delays.slice(0, 5)).toEqual([100, 200, 400, 100, 200]);
    await c.disconnect();
  });

  it('resets the backoff after a connection stayed up for minUptimeMs', async () => {
    const fs = new FakeServer();
    const c = client(fs, { handshake: false, minUptimeMs: 1000 });
    const delays: number[] = [];
    c.on('reconnecting', (_a, d) => delays.push(d));
    await c.connect();
    fs.last.stream.end();
    await settle(10);
    jest.advanceTimersByTime(100); // attempt 1
    await settle(10);
    fs.last.stream.end(); // dies at once: grows
    await settle(10);
    jest.advanceTimersByTime(200); // attempt 2
    await settle(10);
    jest.advanceTimersByTime(1500); // stays up
    fs.last.stream.end();
    await settle(10);
    expect(delays).toEqual([100, 200, 100]);
    await c.disconnect();
  });
});

describe('reconnect.maxRetries (issue 23 item 4)', () => {
  useFakeTimers();

  it(
    'counts attempts since the server last answered: a server restarted more times than maxRetries never exhausts ' +
      'it',
    async () => {
      const fs = new FakeServer();
      // every connection is welcomed, then the server dies at once (restarted over and over)
      fs.onAccept = (p) =>
        setImmediate(() => {
          p.welcome();
          setImmediate(() => p.stream.end());
        });
      const c = client(fs, { reconnect: { maxRetries: 3, jitter: 0 } });
      const errors: string[] = [];
      c.on('error', (e) => errors.push((e as ConnectionError).code));
      await c.connect();
      const delays = await runAttempts(c, 8);
      // the backoff still grows (the connections are not stable) ...
      expect(delays.slice(0, 5)).toEqual([100, 200, 400, 800, 1600]);
      // ... but the bound is never reached: each restart was answered
      expect(c.state).not.toBe('closed');
      expect(errors).not.toContain(ErrorCode.RECONNECT_FAILED);
      await c.disconnect();
    },
  );

  it(
    'without the handshake, a server that accepts and closes at once does not count as answering: gives up after ' +
      'maxRetries',
    async () => {
      const fs = new FakeServer();
      fs.onAccept = (p) => setImmediate(() => p.stream.end());
      const c = client(fs, { handshake: false, reconnect: { maxRetries: 3, jitter: 0 } });
      const errors: string[] = [];
      c.on('error', (e) => errors.push((e as ConnectionError).code));
      await c.connect();
      await runAttempts(c, 6);
      expect(c.state).toBe('closed');
      expect(errors).toEqual([ErrorCode.RECONNECT_FAILED]);
    },
  );
});

describe('MAX_CONNECTIONS', () => {
  useFakeTimers();

  it('while reconnecting is not fatal: the client retries with backoff and gets in when a slot frees', async () => {
    const fs = new FakeServer();
    let n = 0;
    fs.onAccept = (p) =>
      setImmediate(() => {
        n++;
        if (n === 1 || n >= 4) p.welcome();
        else {
          p.refuse(ErrorCode.MAX_CONNECTIONS);
          p.stream.end();
        }
      });
    const c = client(fs);
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    let closed = false;
    c.on('close', () => (closed = true));
    await c.connect({ waitForWelcome: true });
    fs.last.stream.end(); // server restarts
    const delays = await runAttempts(c, 4);
    expect(fs.peers.length).toBe(4);
    expect(delays).toEqual([100, 200, 400]);
    expect(closed).toBe(false);
    expect(c.isConnected()).toBe(true);
    expect(c.welcome?.clientId).toBe('client_1_0');
    // the refusals, and the one CONNECTION_LOST of the outage (issue 23 item 4)
    expect(errors.filter((e) => !(e instanceof MaxConnectionsError)).map((e) => (e as ConnectionError).code)).toEqual([
      ErrorCode.CONNECTION_LOST,
    ]);
    expect(errors.filter((e) => e instanceof MaxConnectionsError).length).toBe(2);
    await c.disconnect();
  });

  it('on a first connect({waitForWelcome}) still rejects with MaxConnectionsError and does not retry', async () => {
    const fs = new FakeServer();
    fs.onAccept = (p) =>
      setImmediate(() => {
        p.refuse(ErrorCode.MAX_CONNECTIONS);
        p.stream.end();
      });
    const c = client(fs);
    await expect(c.connect({ waitForWelcome: true })).rejects.toBeInstanceOf(MaxConnectionsError);
    await settle(10);
    jest.advanceTimersByTime(60_000);
    await settle(10);
    expect(fs.peers.length).toBe(1);
    expect(c.isConnected()).toBe(false);
    await c.disconnect();
  });
});
