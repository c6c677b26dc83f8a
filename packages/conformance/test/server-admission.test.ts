// Issue 11 rules that every socket transport must keep, over real sockets
// (unix and tcp; NATS requires hello from every peer, see nats-admission).
import { expect, it } from '@jest/globals';
import { FrameDecoder, encodeFrame } from '@socketkit/codec';
import { MessageType, createMessage, type SocketMessage } from '@socketkit/protocol';
import { describeTransports, until } from '../src/harness.js';

const sockets = (t: { name: string }): boolean => t.name === 'unix' || t.name === 'tcp';

function collect(sock: NodeJS.ReadableStream): SocketMessage[] {
  const out: SocketMessage[] = [];
  const d = new FrameDecoder();
  sock.on('data', (c: Buffer) => d.feed(c, (m) => out.push(m)));
  return out;
}

describeTransports(
  'admission (issue 11)',
  (t) => {
    it('a peer that connects and closes before registering (a health check) leaves the queue for the next client', async () => {
      const server = t.server();
      await server.start();
      const connected: string[] = [];
      server.on('clientConnected', (id) => connected.push(id));
      server.send({ queued: 1 });
      const probe = await t.raw(server);
      probe.destroy();
      await new Promise((r) => probe.once('close', r));
      expect(server.queuedMessages).toBe(1);
      // a peer that never says hello (the Python module) registers after the grace and takes the queue
      const python = await t.raw(server);
      const got = collect(python);
      await until(() => got.length === 1, 'queue delivered to the real client');
      expect(got[0]?.data).toEqual({ queued: 1 });
      expect(connected).toHaveLength(1);
      expect(server.queuedMessages).toBe(0);
    });

    it('CONTROL op "ping" or a bare op "hello" from a peer without handshake reach the app and are not answered', async () => {
      const server = t.server({ heartbeatInterval: 50 });
      await server.start();
      const seen: unknown[] = [];
      server.on('message', (m) => seen.push(m.data));
      const raw = await t.raw(server);
      const got = collect(raw);
      raw.write(encodeFrame(createMessage(server.eventName, MessageType.CONTROL, { op: 'hello' })));
      raw.write(encodeFrame(createMessage(server.eventName, MessageType.CONTROL, { op: 'ping' })));
      raw.write(encodeFrame(createMessage(server.eventName, MessageType.DATA, { last: 1 })));
      await until(() => seen.length === 3, 'delivered to the app');
      expect(seen).toEqual([{ op: 'hello' }, { op: 'ping' }, { last: 1 }]);
      expect(got.filter((m) => m.messageType === 'control')).toEqual([]);
    });

    it('stop() finishes with a peer that never closes its side, without waiting for closeTimeout', async () => {
      // closeTimeout far beyond the test timeout: only the post-flush grace can end the close.
      const server = t.server({ closeTimeout: 600_000 });
      await server.start();
      const raw = await t.raw(server);
      raw.on('end', () => undefined); // reads everything, never ends its own side (allowHalfOpen)
      (raw as unknown as { allowHalfOpen: boolean }).allowHalfOpen = true;
      const got = collect(raw);
      raw.write(encodeFrame(createMessage(server.eventName, MessageType.DATA, { hi: 1 })));
      await until(() => server.getConnectedClients().length === 1, 'registered');
      server.send({ bye: 1 });
      await server.stop();
      expect(got.map((m) => m.data)).toEqual([{ bye: 1 }]);
    });
  },
  sockets,
);

// Only the unix transport probes a live server at start (connect, then close).
describeTransports(
  'liveness probes (issue 11)',
  (t) => {
    it("another server's liveness probe is never a client: the queue stays and clientConnected never fires", async () => {
      const server = t.server({ registerGraceMs: 50 });
      await server.start();
      const connected: string[] = [];
      server.on('clientConnected', (id) => connected.push(id));
      server.send({ queued: 1 });
      const second = t.server({ eventName: server.eventName, socketDir: t.addr(server).socketDir } as never);
      await expect(second.start()).rejects.toMatchObject({ code: 'ADDRESS_IN_USE' });
      // Proving an absence: wait well past the 50 ms registration grace, then check nothing registered.
      await new Promise((r) => setTimeout(r, 500));
      expect(connected).toEqual([]);
      expect(server.queuedMessages).toBe(1);
    });
  },
  (t) => t.name === 'unix',
);
