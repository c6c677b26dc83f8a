import { describe, expect, it } from '@jest/globals';
import { ConnectionError, ErrorCode, type SocketError } from '@socketkit/protocol';
import { transportNames } from 'socketkit';
import { conformanceTransportNames, describeTransports, once, transportSelection, until } from '../src/harness.js';

describeTransports('server lifecycle and delivery', (t) => {
  it('start/stop are idempotent and isRunning follows them', async () => {
    const server = t.server();
    expect(server.isRunning()).toBe(false);
    await server.start();
    await server.start();
    expect(server.isRunning()).toBe(true);
    await Promise.all([server.stop(), server.stop()]);
    expect(server.isRunning()).toBe(false);
    await server.stop();
    // and it can start again after a stop
    await server.start();
    expect(server.isRunning()).toBe(true);
  });

  it('blockingMode: start() resolves only after stop()', async () => {
    const server = t.server({ blockingMode: true });
    let resolved = false;
    const started = server.start().then(() => {
      resolved = true;
    });
    await once(server, 'listening');
    const client = t.client(server);
    await client.connect();
    expect(resolved).toBe(false);
    await server.stop();
    await started;
    expect(resolved).toBe(true);
  });

  it('send() before start() is a clear error', () => {
    const server = t.server();
    expect(() => server.send({ a: 1 })).toThrow(
      expect.objectContaining({ code: ErrorCode.NOT_RUNNING }) as unknown as Error,
    );
  });

  it('broadcasts to every client, in order', async () => {
    const server = t.server();
    await server.start();
    const clients = [t.client(server), t.client(server), t.client(server)];
    await Promise.all(clients.map((c) => c.connect({ waitForWelcome: true })));
    await until(() => server.getConnectedClients().length === 3, 'three clients registered');
    for (let i = 0; i < 50; i++) expect(server.send({ i })).toBe(3);
    for (const c of clients) {
      for (let i = 0; i < 50; i++) expect((await c.receive()).data).toEqual({ i });
    }
  });

  it('unicasts by client id, and only that client receives it', async () => {
    const server = t.server();
    await server.start();
    const a = t.client(server);
    const b = t.client(server);
    await a.connect({ waitForWelcome: true });
    await b.connect({ waitForWelcome: true });
    const aId = a.welcome?.clientId as string;
    expect(server.getConnectedClients().map((c) => c.id)).toContain(aId);
    expect(server.send({ only: 'a' }, aId)).toBe(1);
    server.send({ all: true });
    expect((await a.receive()).data).toEqual({ only: 'a' });
    expect((await a.receive()).data).toEqual({ all: true });
    expect((await b.receive()).data).toEqual({ all: true });
  });

  it('unicast to an unknown client id throws UNKNOWN_CLIENT naming the id', async () => {
    const server = t.server();
    await server.start();
    let err: unknown;
    try {
      server.send({ x: 1 }, 'client_nope');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as SocketError).code).toBe(ErrorCode.UNKNOWN_CLIENT);
    expect((err as Error).message).toContain('client_nope');
  });

  it('getConnectedClients and connect/disconnect events track clients', async () => {
    const server = t.server();
    await server.start();
    const connected: string[] = [];
    const disconnected: string[] = [];
    server.on('clientConnected', (id) => connected.push(id));
    server.on('clientDisconnected', (id) => disconnected.push(id));
    const c = t.client(server);
    await c.connect({ waitForWelcome: true });
    const id = c.welcome?.clientId as string;
    expect(id).toMatch(/^client_\d+_\d+$/);
    expect(connected).toEqual([id]);
    expect(server.getConnectedClients().map((x) => x.id)).toEqual([id]);
    await c.disconnect();
    await until(() => disconnected.length === 1, 'clientDisconnected');
    expect(disconnected).toEqual([id]);
    expect(server.getConnectedClients()).toEqual([]);
  });

  it('a send followed at once by stop still delivers', async () => {
    const server = t.server();
    await server.start();
    const c = t.client(server, { autoReconnect: false });
    await c.connect({ waitForWelcome: true });
    for (let i = 0; i < 200; i++) server.send({ i, pad: 'x'.repeat(1000) });
    await server.stop();
    const got: number[] = [];
    for await (const m of c) got.push(m.data.i as number);
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});

// Counts the transports a describeTransports block really ran a test on
// (a constant list could not catch a filter or a factory that silently drops one).
const ran: string[] = [];
describeTransports('harness coverage', (t) => {
  it('runs a test on this transport', async () => {
    const server = t.server();
    await server.start();
    const c = t.client(server);
    await c.connect({ waitForWelcome: true });
    ran.push(t.name);
  });
});

describe('conformance harness', () => {
  it(
    'ran a round trip on every transport of the registry (or of the selection of the file that imports this ' +
      'suite)',
    () => {
      expect(ran).toEqual(conformanceTransportNames());
      if (transportSelection() === undefined) {
        expect(ran).toEqual(transportNames());
        expect(ran.slice(0, 3)).toEqual(['unix', 'tcp', 'nats']);
      } else expect(ran.length).toBeGreaterThan(0);
    },
  );
});
