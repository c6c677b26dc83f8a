// Bounded in bytes both ways (issue 12 items 6, 7) and graceful refusal (item 9).
import { describe, expect, it, jest } from '@jest/globals';
import { encodeFrame } from '@socketkit/codec';
import { createMessage, ErrorCode } from '@socketkit/protocol';
import { SocketClient } from '../src/client/client.js';
import { ServerRig } from './duplex-pair.js';
import { fakeClient as client, FakeServer, settle } from './fake-server.js';
import { useFakeTimers } from './fake-timers.js';

const MiB = 1024 * 1024;

describe('receive buffer bounded in bytes', () => {
  it(
    'a server sending 1 MiB frames to a client that does not read cannot make it hold more ' +
      'than maxBufferedBytes (+ one frame); nothing is dropped',
    async () => {
      const fs = new FakeServer();
      const c = client(fs, {
        handshake: false,
        maxMessageSize: 2 * MiB,
        maxBufferedBytes: 4 * MiB,
        autoReconnect: false,
      });
      await c.connect();
      const blob = 'x'.repeat(MiB - 200);
      const frame = encodeFrame(createMessage('fake', 'data', { blob }), 2 * MiB);
      const total = 24;
      let written = 0;
      let peak = 0;
      const peer = fs.last.stream;
      // write as fast as the stream takes it, like a producer that honours back-pressure
      const pump = async (): Promise<void> => {
        while (written < total) {
          written++;
          if (!peer.write(frame)) await new Promise((r) => peer.once('drain', r));
        }
      };
      const pumping = pump();
      for (let i = 0; i < 50; i++) {
        await settle(2);
        peak = Math.max(peak, c.bufferedBytes);
      }
      expect(written).toBeLessThan(total); // the producer is held back
      expect(peak).toBeLessThanOrEqual(4 * MiB + frame.length);
      expect(c.bufferedMessages * frame.length).toBeLessThanOrEqual(4 * MiB + 2 * frame.length);
      let got = 0;
      while (got < total) {
        const m = await c.receive({ timeout: 5000 });
        expect((m.data.blob as string).length).toBe(blob.length);
        got++;
        peak = Math.max(peak, c.bufferedBytes);
      }
      await pumping;
      expect(peak).toBeLessThanOrEqual(4 * MiB + frame.length);
      await c.disconnect();
    },
  );
});

describe('write back-pressure', () => {
  it(
    'send() reports a full outbound buffer, drain() paces the producer, maxPendingBytes bounds it with ' +
      'BUFFER_FULL',
    async () => {
      const fs = new FakeServer();
      const c = client(fs, { handshake: false, maxPendingBytes: MiB, autoReconnect: false });
      await c.connect();
      fs.last.stream.pause(); // the server stops reading
      const chunk = { blob: 'y'.repeat(64 * 1024) };
      let ok = true;
      let sent = 0;
      let error: unknown;
      try {
        for (let i = 0; i < 100; i++) {
          const r = await c.send(chunk);
          ok &&= r;
          sent++;
        }
      } catch (err) {
        error = err;
      }
      expect(ok).toBe(false); // send() said "drain first" before the bound was hit
      expect(error).toMatchObject({ code: ErrorCode.BUFFER_FULL });
      expect(sent).toBeLessThan(17);
      expect(c.bufferedAmount).toBeLessThanOrEqual(MiB);
      // the server reads again: drain() resolves and sending works again
      fs.last.stream.resume();
      await c.drain();
      expect(await c.send({ small: 1 })).toBe(true);
      await c.disconnect();
    },
  );

  it('the offline buffer is bounded in bytes', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    try {
      const fs = new FakeServer();
      const c = client(fs, { handshake: false, sendBufferBytes: 256 * 1024 });
      await c.connect();
      fs.refuseWith = new Error('down');
      fs.last.destroy();
      await settle(5);
      expect(c.state).toBe('reconnecting');
      const chunk = { blob: 'z'.repeat(60 * 1024) };
      for (let i = 0; i < 4; i++) expect(await c.send(chunk)).toBe(false);
      await expect(c.send(chunk)).rejects.toMatchObject({ code: ErrorCode.BUFFER_FULL });
      expect(c.bufferedAmount).toBeLessThanOrEqual(256 * 1024);
      // the buffered sends go out first on reconnect
      fs.refuseWith = undefined;
      for (let i = 0; i < 10 && !c.isConnected(); i++) {
        jest.advanceTimersByTime(6000);
        await settle(10);
      }
      expect(c.isConnected()).toBe(true);
      await settle(10);
      expect(fs.last.received).toHaveLength(4);
      await c.disconnect();
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('graceful refusal toward any server', () => {
  useFakeTimers();

  it(
    'on a too-large frame the client half-closes, discards what the server keeps writing, and destroys after ' +
      'closeTimeout',
    async () => {
      const fs = new FakeServer();
      const c = client(fs, { handshake: false, autoReconnect: false, closeTimeout: 1000 });
      c.on('error', () => undefined);
      await c.connect();
      const peer = fs.last;
      peer.endOnEnd = false; // like the Python module: never closes its side
      const header = Buffer.alloc(4);
      header.writeUInt32BE(64 * MiB);
      peer.stream.write(header);
      await settle(10);
      expect(peer.sawEnd).toBe(true); // FIN, not a reset
      expect(peer.closed).toBe(false);
      // the server is still writing: the client keeps reading (and discarding), so it never blocks
      for (let i = 0; i < 64; i++) peer.stream.write(Buffer.alloc(64 * 1024));
      await settle(10);
      expect(peer.stream.writableLength).toBe(0);
      expect(peer.clientEnd?.destroyed).toBe(false);
      jest.advanceTimersByTime(1000);
      await settle(10);
      expect(peer.clientEnd?.destroyed).toBe(true);
      expect(c.isConnected()).toBe(false);
      await c.disconnect();
    },
  );

  it(
    'disconnect() toward a server that never closes and keeps writing: FIN, input discarded ' +
      '(even from a paused, full buffer), destroyed after closeTimeout',
    async () => {
      const fs = new FakeServer();
      const c = client(fs, { handshake: false, bufferSize: 2, closeTimeout: 1000 });
      await c.connect();
      const peer = fs.last;
      peer.endOnEnd = false;
      for (let i = 0; i < 50; i++) peer.send('data', { i, pad: 'p'.repeat(4096) });
      await settle(10);
      expect(c.bufferedMessages).toBeLessThan(50); // reading paused
      let done = false;
      void c.disconnect().then(() => (done = true));
      await settle(10);
      expect(peer.sawEnd).toBe(true);
      expect(peer.stream.writableLength).toBe(0); // what the server wrote was read (and discarded)
      expect(done).toBe(false);
      jest.advanceTimersByTime(1000);
      await settle(10);
      expect(peer.clientEnd?.destroyed).toBe(true);
      expect(done).toBe(true);
    },
  );
});

describe('drain() and the offline buffer of a token session', () => {
  it('before a token welcome, drain() waits for the offline buffer, not for the idle connection', async () => {
    const fs = new FakeServer();
    const c = client(fs, { token: 't'.repeat(32), autoReconnect: false });
    await c.connect({ waitForWelcome: false });
    // The server never answers hello: the session is open, its sends wait in the offline buffer.
    await c.send({ n: 1 });
    expect(c.bufferedAmount).toBeGreaterThan(0);
    let drained = false;
    const draining = c.drain().then(() => (drained = true));
    await settle();
    expect(drained).toBe(false);
    expect(c.bufferedAmount).toBeGreaterThan(0);
    await c.disconnect();
    await draining;
    expect(drained).toBe(true);
  });

  it('with a token server, drain() resolves once the welcome let the offline buffer out', async () => {
    const rig = new ServerRig();
    try {
      const token = 't'.repeat(32);
      const { server, client: transport } = await rig.start({ token });
      const got: unknown[] = [];
      server.on('message', (m) => got.push(m.data));
      const c = new SocketClient({ eventName: 'rules', transport, logLevel: 'silent', autoReconnect: false, token });
      await c.connect({ waitForWelcome: false });
      await c.send({ n: 1 });
      await c.drain();
      expect(c.welcome?.clientId).toMatch(/^client_/);
      await c.disconnect();
      expect(got).toEqual([{ n: 1 }]);
    } finally {
      await rig.stopAll(async () => undefined);
    }
  });
});
