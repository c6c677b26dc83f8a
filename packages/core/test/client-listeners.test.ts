// The application's exceptions are its own (issue 12 item 10) and one buffering rule (item 11).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import type { SocketClient } from '../src/client/client.js';
import { FakeServer, settle, fakeClient } from './fake-server.js';
import { useFakeTimers } from './fake-timers.js';

describe('message listeners', () => {
  it('an exception thrown by a message listener is rethrown asynchronously and never closes the connection', () => {
    // In a child process: jest takes every uncaught exception for a test failure.
    const script = fileURLToPath(new URL('./fixtures/listener-throws.mjs', import.meta.url));
    const out = execFileSync(process.execPath, [script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      seen: [{ boom: true }, { after: 1 }, { after: 2 }],
      caught: ['app bug'],
      disconnected: [],
      connected: true,
      accepted: 1,
    });
  });
});

describe('buffering rule', () => {
  useFakeTimers();

  it('a message listener sees every message and receive() still gets them all, in order', async () => {
    const fs = new FakeServer();
    const c = fakeClient(fs, { handshake: false });
    const seen: unknown[] = [];
    c.on('message', (m) => seen.push(m.data));
    await c.connect();
    for (let i = 0; i < 3; i++) fs.last.send('data', { i });
    await settle(10);
    expect(seen).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(c.bufferedMessages).toBe(3);
    for (let i = 0; i < 3; i++) expect((await c.receive({ timeout: 1000 })).data).toEqual({ i });
    await c.disconnect();
  });

  it('receive() gets each message as it arrived, even when a listener changed the object it was shown', async () => {
    const fs = new FakeServer();
    const c = fakeClient(fs, { handshake: false });
    c.on('message', (m) => {
      m.data.seenBy = 'listener';
      m.eventName = 'changed';
    });
    await c.connect();
    fs.last.send('data', { i: 1, list: [1, 2] });
    await settle(10);
    const m = await c.receive({ timeout: 1000 });
    expect(m.data).toEqual({ i: 1, list: [1, 2] });
    expect(m.eventName).toBe('fake');
    await c.disconnect();
  });

  it('receive() gets a bin as it arrived, even when a listener wrote into the Buffer it was shown (waiting or not)', async () => {
    const fs = new FakeServer();
    const c = fakeClient(fs, { handshake: false });
    c.on('message', (m) => {
      (m.data.blob as Buffer).fill(0xee);
    });
    await c.connect();
    const waiting = c.receive({ timeout: 1000 });
    fs.last.send('data', { blob: Buffer.from([1, 2, 3]) });
    fs.last.send('data', { blob: Buffer.from([4, 5, 6]) });
    await settle(10);
    expect([...((await waiting).data.blob as Buffer)]).toEqual([1, 2, 3]);
    expect([...((await c.receive({ timeout: 1000 })).data.blob as Buffer)]).toEqual([4, 5, 6]);
    await c.disconnect();
  });

  it('bufferMessages: false opts out: nothing is buffered and receive() says why', async () => {
    const fs = new FakeServer();
    const c = fakeClient(fs, { handshake: false, bufferMessages: false });
    const seen: unknown[] = [];
    c.on('message', (m) => seen.push(m.data));
    await c.connect();
    for (let i = 0; i < 3; i++) fs.last.send('data', { i });
    await settle(10);
    expect(seen).toHaveLength(3);
    expect(c.bufferedMessages).toBe(0);
    await expect(c.receive({ timeout: 1000 })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    await c.disconnect();
  });
});

describe('a full buffer with listeners', () => {
  useFakeTimers();

  it(
    'never stalls a listener-only client: the oldest buffered copies are dropped and counted, the listener sees ' +
      'everything',
    async () => {
      const fs = new FakeServer();
      const c = fakeClient(fs, { handshake: false, bufferSize: 10 });
      let seen = 0;
      let overflow = 0;
      c.on('message', () => seen++);
      c.on('bufferOverflow', (n) => (overflow = n));
      await c.connect();
      for (let i = 0; i < 100; i++) fs.last.send('data', { i });
      await settle(20);
      expect(seen).toBe(100);
      expect(c.bufferedMessages).toBe(10);
      expect(overflow).toBe(90);
      expect(c.droppedMessages).toBe(90);
      // receive() gets the newest ten, in order
      expect((await c.receive()).data).toEqual({ i: 90 });
      await c.disconnect();
    },
  );

  /** A client with a receive buffer of ten messages, connected to a fake server. */
  async function tenSlotClient(): Promise<{ fs: FakeServer; c: SocketClient }> {
    const fs = new FakeServer();
    const c = fakeClient(fs, { handshake: false, bufferSize: 10, maxMessageSize: 64 * 1024 });
    await c.connect();
    return { fs, c };
  }

  it.each([false, true])(
    'a bufferOverflow listener added while copies are being dropped gets the next count; once removed it gets none ' +
      '(after removeAllListeners(): %s)',
    async (resetFirst) => {
      const { fs, c } = await tenSlotClient();
      // plain EventEmitter API: an app resetting its handlers must not blind the client to listeners added later
      if (resetFirst) c.removeAllListeners();
      c.on('message', () => undefined);
      for (let i = 0; i < 20; i++) fs.last.send('data', { i });
      await settle(20);
      expect(c.droppedMessages).toBe(10);
      const counts: number[] = [];
      const onOverflow = (n: number): void => {
        counts.push(n);
      };
      c.on('bufferOverflow', onOverflow);
      fs.last.send('data', { i: 20 });
      await settle(20);
      c.off('bufferOverflow', onOverflow);
      fs.last.send('data', { i: 21 });
      await settle(20);
      expect(counts).toEqual([11]);
      expect(c.droppedMessages).toBe(12);
      await c.disconnect();
    },
  );

  it.each([false, true])(
    'without listeners a full buffer pauses reading and drops nothing; a listener added later resumes it (after ' +
      'removeAllListeners(): %s)',
    async (resetFirst) => {
      const { fs, c } = await tenSlotClient();
      if (resetFirst) c.removeAllListeners();
      const big = { blob: 'b'.repeat(32 * 1024) };
      for (let i = 0; i < 60; i++) fs.last.send('data', { ...big, i });
      await settle(20);
      expect(c.bufferedMessages).toBeGreaterThanOrEqual(10);
      expect(c.bufferedMessages).toBeLessThan(60);
      expect(c.droppedMessages).toBe(0);
      const seen: number[] = [];
      c.on('message', (m) => seen.push((m.data as { i: number }).i));
      await settle(50);
      expect(c.bufferedMessages + seen.length).toBeGreaterThanOrEqual(60);
      expect(seen.at(-1)).toBe(59);
      await c.disconnect();
    },
  );
});
