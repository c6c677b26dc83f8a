// The engine runs over any Duplex: here an in-memory pair, no node:net at all.
import { describe, expect, it } from '@jest/globals';
import { SocketClient, SocketServer } from '../src/index.js';
import { memoryTransports } from './passthrough-transports.js';

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
