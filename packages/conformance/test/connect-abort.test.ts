// Transport contract (issue 12 item 1): an abort during connect (the client's
// connect timeout, or disconnect()) rejects at once and leaves nothing open.
import { expect, it } from '@jest/globals';
import { SocketClient } from '@socketkit/core';
import { NatsClientTransport } from '@socketkit/nats';
import { ErrorCode, TimeoutError } from '@socketkit/protocol';
import { describeTransports, onCleanup, uniqueEvent, until } from '../src/harness.js';

describeTransports('abort during connect', (t) => {
  it('abort during connect rejects and leaves nothing open', async () => {
    const server = t.server();
    let connected = 0;
    let disconnected = 0;
    server.on('clientConnected', () => connected++);
    server.on('clientDisconnected', () => disconnected++);
    await server.start();
    for (let i = 0; i < 20; i++) {
      const c = t.client(server, { autoReconnect: false });
      const connecting = c.connect();
      await c.disconnect(); // aborts the attempt still in flight
      await expect(connecting).rejects.toMatchObject({ code: ErrorCode.CLOSED });
      expect(c.isConnected()).toBe(false);
    }
    // whatever the server saw of those attempts, it is closed again
    await until(
      () =>
        connected === disconnected &&
        server.getConnectedClients().length === 0 &&
        server.connectionCounts.awaiting === 0,
      'server back to no clients (and no peer still awaiting hello)',
    );
    // and the server still serves
    const ok = t.client(server);
    await ok.connect({ waitForWelcome: true });
    expect(server.getConnectedClients()).toHaveLength(1);
  });
});

describeTransports(
  'abort during connect (NATS)',
  (t) => {
    it(
      'honours the client connect timeout, not a fixed one of its own: a late answer is never adopted and the stream ' +
        'is ended',
      async () => {
        const { connect: natsConnect } = await import('@nats-io/transport-node');
        const servers = t.addr(undefined as never).servers as string;
        const eventName = uniqueEvent('late');
        const nc = await natsConnect({ servers });
        onCleanup(() => nc.close());
        const held: Array<{ respond(d: Uint8Array): boolean }> = [];
        const fins: string[] = [];
        nc.subscribe(`socketkit.${eventName}.connect`, {
          callback: (_e, msg) => {
            held.push(msg);
          },
        });
        nc.subscribe(`socketkit.${eventName}.s.*`, {
          callback: (_e, msg) => {
            if (msg.data.length === 0) fins.push(msg.subject);
          },
        });
        await nc.flush();
        const transport = new NatsClientTransport({ eventName, servers });
        onCleanup(() => transport.close());
        const abort = new AbortController();
        const reason = new TimeoutError('the caller gave up (its connect timeout)');
        const connecting = transport.connect(abort.signal);
        connecting.catch(() => undefined);
        await until(() => held.length === 1, 'connect request reached the (stalled) server');
        abort.abort(reason);
        await until(() => fins.length === 1, 'the aborted attempt ended its stream');
        held[0]?.respond(new TextEncoder().encode('ok')); // the answer comes after the abort
        await nc.flush();
        await expect(connecting).rejects.toBe(reason);
        // and through the engine: the client's own timeout, however short, is the one that counts
        held.length = 0;
        const c = new SocketClient({ eventName, transport, logLevel: 'silent', autoReconnect: false });
        onCleanup(() => c.disconnect());
        const err = await c.connect({ timeout: 300 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TimeoutError);
        expect((err as Error).message).toContain('300 ms');
        expect(c.isConnected()).toBe(false);
      },
    );
  },
  (t) => t.name === 'nats',
);
