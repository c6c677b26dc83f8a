// The engine runs over any Duplex: here an in-memory pair, no node:net at all.
import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { SocketClient, SocketServer, type ClientTransport, type ServerTransport, type TransportStream } from '../src/index.js';

function pair(): [Duplex, Duplex] {
  const ab = new PassThrough();
  const ba = new PassThrough();
  const a = Duplex.from({ readable: ba, writable: ab });
  const b = Duplex.from({ readable: ab, writable: ba });
  return [a, b];
}

function memoryTransports(): { server: ServerTransport; client: ClientTransport } {
  let accept: ((s: TransportStream) => void) | undefined;
  return {
    server: {
      kind: 'memory',
      address: () => 'memory',
      listen: async (onConnection) => {
        accept = onConnection;
      },
      close: async () => {
        accept = undefined;
      },
    },
    client: {
      kind: 'memory',
      address: () => 'memory',
      connect: async () => {
        if (accept === undefined) throw new Error('not listening');
        const [c, s] = pair();
        accept(s);
        return c;
      },
    },
  };
}

describe('core over an in-memory transport', () => {
  it('handshake, broadcast, client send and request/reply work without sockets', async () => {
    const t = memoryTransports();
    const server = new SocketServer({
      eventName: 'mem',
      transport: t.server,
      logLevel: 'silent',
      handler: (d) => ({ echo: d.x }),
    });
    await server.start();
    const client = new SocketClient({
      eventName: 'mem',
      transport: t.client,
      logLevel: 'silent',
      autoReconnect: false,
    });
    await client.connect({ waitForWelcome: true });
    expect(server.getConnectedClients().map((c) => c.id)).toEqual([client.welcome?.clientId]);
    server.send({ n: 1 });
    expect((await client.receive()).data).toEqual({ n: 1 });
    expect((await client.request({ x: 'y' })).data).toEqual({ echo: 'y' });
    const got = new Promise((resolve) => server.once('message', (m) => resolve(m.data)));
    await client.send({ up: true });
    expect(await got).toEqual({ up: true });
    await client.disconnect();
    await server.stop();
  });
});
