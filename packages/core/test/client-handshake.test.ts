// Heartbeats and reserved control ops only toward servers that did the handshake (issue 12 items 4, 5).
import { describe, expect, it, jest } from '@jest/globals';
import { SocketClient } from '../src/client/client.js';
import { MessageType, PROTOCOL_VERSION, createMessage } from '@socketkit/protocol';
import { encodeFrame } from '@socketkit/codec';
import type { ClientTransport } from '../src/transport.js';
import { fakeClient as client, FakeServer, settle } from './fake-server.js';
import { ServerRig } from './duplex-pair.js';
import { useFakeTimers } from './fake-timers.js';

describe('client heartbeats', () => {
  useFakeTimers();

  it('with handshake: false, no pings are sent and silence never drops the connection', async () => {
    const fs = new FakeServer();
    const c = client(fs, { handshake: false, heartbeatInterval: 100 });
    await c.connect();
    for (let i = 0; i < 50; i++) {
      jest.advanceTimersByTime(100);
      await settle(2);
    }
    expect(fs.peers.length).toBe(1);
    expect(fs.last.received).toEqual([]);
    expect(c.isConnected()).toBe(true);
    await c.disconnect();
  });

  it('before welcome (a server that ignores hello), no pings are sent and silence never drops the connection', async () => {
    const fs = new FakeServer();
    const c = client(fs, { heartbeatInterval: 100 });
    await c.connect({ waitForWelcome: false });
    for (let i = 0; i < 50; i++) {
      jest.advanceTimersByTime(100);
      await settle(2);
    }
    expect(fs.peers.length).toBe(1);
    expect(fs.last.ops).toEqual(['hello']);
    expect(c.isConnected()).toBe(true);
    await c.disconnect();
  });

  it('after welcome, pings are sent and a server that never answers is dropped', async () => {
    const fs = new FakeServer();
    fs.onAccept = (p) => setImmediate(() => p.welcome());
    const c = client(fs, { heartbeatInterval: 100, heartbeatTimeout: 300, autoReconnect: false });
    const reasons: string[] = [];
    c.on('disconnected', (r) => reasons.push(r));
    await c.connect({ waitForWelcome: true });
    for (let i = 0; i < 6; i++) {
      jest.advanceTimersByTime(100);
      await settle(2);
    }
    expect(fs.last.ops.filter((o) => o === 'ping').length).toBeGreaterThanOrEqual(2);
    expect(c.isConnected()).toBe(false);
    expect(reasons[0]).toContain('heartbeat');
    await c.disconnect();
  });
});

describe('reserved control ops', () => {
  useFakeTimers();

  it('an application {op:"welcome"} from a server that never did the handshake is delivered and changes nothing', async () => {
    const fs = new FakeServer();
    fs.onAccept = (p) =>
      setImmediate(() => {
        p.send('data', { first: true });
        p.send('control', { op: 'welcome', allow_client_send: false });
        p.send('control', { op: 'ping' });
      });
    const c = client(fs);
    await c.connect();
    expect((await c.receive()).data).toEqual({ first: true });
    expect((await c.receive()).data).toEqual({ op: 'welcome', allow_client_send: false });
    expect((await c.receive()).data).toEqual({ op: 'ping' });
    expect(c.welcome).toBeUndefined();
    await c.send({ still: 'allowed' });
    await settle(5);
    expect(fs.last.received.map((m) => m.data)).toEqual([
      expect.objectContaining({ op: 'hello' }),
      { still: 'allowed' },
    ]);
    await c.disconnect();
  });

  it('with handshake: false, even a first-frame welcome is an application message', async () => {
    const fs = new FakeServer();
    fs.onAccept = (p) => setImmediate(() => p.welcome({ allow_client_send: false }));
    const c = client(fs, { handshake: false });
    await c.connect();
    expect((await c.receive()).data).toMatchObject({ op: 'welcome', allow_client_send: false });
    expect(c.welcome).toBeUndefined();
    await c.send({ still: 'allowed' });
    await c.disconnect();
  });

  it('after welcome, reserved ops are consumed: ping is answered with pong and never delivered', async () => {
    const fs = new FakeServer();
    fs.onAccept = (p) =>
      setImmediate(() => {
        p.welcome();
        p.send('control', { op: 'ping' });
        p.send('data', { after: true });
      });
    const c = client(fs);
    await c.connect({ waitForWelcome: true });
    expect((await c.receive()).data).toEqual({ after: true });
    await settle(5);
    expect(fs.last.ops).toEqual(['hello', 'pong']);
    await c.disconnect();
  });

  it('a welcome that is not the first frame is an application message (socketkit servers write it first)', async () => {
    const fs = new FakeServer();
    fs.onAccept = (p) =>
      setImmediate(() => {
        p.send('data', { first: true });
        p.welcome({ allow_client_send: false });
      });
    const c = client(fs);
    await c.connect();
    expect((await c.receive()).data).toEqual({ first: true });
    expect((await c.receive()).data).toMatchObject({ op: 'welcome', allow_client_send: false });
    expect(c.welcome).toBeUndefined();
    await c.send({ still: 'allowed' });
    await c.disconnect();
  });
});

describe("the server's announced max_message_size", () => {
  it(
    'a send above it fails at send() with FRAME_TOO_LARGE and nothing is written (issue 11 item 11: NATS ' +
      'max_payload)',
    async () => {
      const fs = new FakeServer();
      fs.onAccept = (p) => setImmediate(() => p.welcome({ max_message_size: 1000 }));
      const c = client(fs, { autoReconnect: false });
      await c.connect({ waitForWelcome: true });
      await expect(c.send({ big: 'x'.repeat(2000) })).rejects.toMatchObject({ code: 'FRAME_TOO_LARGE' });
      await c.send({ small: 1 });
      await settle(5);
      expect(fs.last.received.filter((m) => m.messageType === 'data').map((m) => m.data)).toEqual([{ small: 1 }]);
      await c.disconnect();
    },
  );
});

describe('the protocol number a client announces', () => {
  it('hello carries PROTOCOL_VERSION, with and without a token', async () => {
    for (const token of [undefined, 't'.repeat(32)]) {
      const fs = new FakeServer();
      const c = client(fs, { autoReconnect: false, ...(token === undefined ? {} : { token }) });
      await c.connect({ waitForWelcome: false });
      await settle();
      const hello = fs.last.received.find((m) => m.data.op === 'hello');
      expect(hello?.data.protocol).toBe(PROTOCOL_VERSION);
      await c.disconnect();
    }
  });

  it('a token server and a plain server welcome a client announcing PROTOCOL_VERSION', async () => {
    const rig = new ServerRig();
    try {
      for (const token of [undefined, 't'.repeat(32)]) {
        const { client: transport } = await rig.start(token === undefined ? {} : { token });
        const c = new SocketClient({
          eventName: 'rules',
          transport,
          logLevel: 'silent',
          autoReconnect: false,
          ...(token === undefined ? {} : { token }),
        });
        await c.connect({ waitForWelcome: true });
        expect(c.welcome?.clientId).toMatch(/^client_/);
        await c.disconnect();
      }
    } finally {
      await rig.stopAll(async () => undefined);
    }
  });
});

/**
 * `inner`, but each stream it opens delivers `bytes` to the client as the client
 * writes its auth_proof (its second write): right behind the challenge, before the welcome can come.
 */
function pushOnAuthProof(inner: ClientTransport, bytes: Uint8Array): ClientTransport {
  return {
    ...inner,
    connect: async (signal) => {
      const stream = await inner.connect(signal);
      const write = stream.write.bind(stream) as (chunk: Uint8Array) => boolean;
      let writes = 0;
      (stream as unknown as { write: (chunk: Uint8Array) => boolean }).write = (chunk) => {
        if (++writes === 2) stream.push(bytes);
        return write(chunk);
      };
      return stream;
    },
  };
}

describe('a token session before its welcome (issue 22 item 1)', () => {
  it(
    'a frame outside the handshake, between auth_proof and welcome, is dropped: the client is welcomed, not refused ' +
      'as facing an impostor',
    async () => {
      const rig = new ServerRig();
      const token = 't'.repeat(32);
      try {
        const { server, client: inner } = await rig.start({ token });
        // The transport delivers a stray DATA frame right behind the challenge (as a NATS broadcast can).
        const stray = encodeFrame(createMessage('rules', MessageType.DATA, { stray: true }));
        const transport = pushOnAuthProof(inner, stray);
        const c = new SocketClient({ eventName: 'rules', transport, logLevel: 'silent', autoReconnect: false, token });
        const got: unknown[] = [];
        c.on('message', (m) => got.push(m.data));
        await c.connect({ waitForWelcome: true });
        expect(c.welcome?.clientId).toMatch(/^client_/);
        server.send({ after: 'welcome' });
        await new Promise((r) => setTimeout(r, 20));
        expect(got).toEqual([{ after: 'welcome' }]);
        await c.disconnect();
      } finally {
        await rig.stopAll(async () => undefined);
      }
    },
  );

  it(
    'a peer that sends only such frames is dropped past 1,024 of them with CONNECTION_LOST (redialled), never ' +
      'refused as an impostor',
    async () => {
      const rig = new ServerRig();
      const token = 't'.repeat(32);
      try {
        const { client: inner } = await rig.start({ token });
        const stray = encodeFrame(createMessage('rules', MessageType.DATA, { stray: true }));
        const transport = pushOnAuthProof(inner, Buffer.concat(Array.from({ length: 1025 }, () => stray)));
        const c = new SocketClient({ eventName: 'rules', transport, logLevel: 'silent', autoReconnect: false, token });
        c.on('error', () => undefined);
        const err = (await c.connect({ waitForWelcome: true }).catch((e: unknown) => e)) as { code?: string };
        expect(err.code).toBe('CONNECTION_LOST');
        await c.disconnect();
      } finally {
        await rig.stopAll(async () => undefined);
      }
    },
  );
});
