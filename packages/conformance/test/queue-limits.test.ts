import { expect, it } from '@jest/globals';
import { ErrorCode, MaxConnectionsError, MessageError, ConnectionError } from '@socketkit/protocol';
import { describeTransports, once, until } from '../src/harness.js';

describeTransports('no-client queue', (t) => {
  it('queues FIFO while nobody is connected, delivers to the next client, then clears', async () => {
    const server = t.server({ messageQueueSize: 5 });
    await server.start();
    const overflows: number[] = [];
    server.on('queueOverflow', (n) => overflows.push(n));
    for (let i = 0; i < 8; i++) expect(server.send({ i })).toBe(0);
    expect(server.queuedMessages).toBe(5);
    expect(server.queueDropped).toBe(3);
    expect(overflows).toEqual([1, 2, 3]);
    const first = t.client(server);
    await first.connect();
    for (const i of [3, 4, 5, 6, 7]) expect((await first.receive()).data).toEqual({ i });
    expect(server.queuedMessages).toBe(0);
    const second = t.client(server);
    await second.connect({ waitForWelcome: true });
    server.send({ live: true });
    // the second client gets only live traffic, not the queue again
    expect((await second.receive()).data).toEqual({ live: true });
    expect((await first.receive()).data).toEqual({ live: true });
  });
});

describeTransports('connection limits', (t) => {
  it('maxConnections: the extra client gets MaxConnectionsError, the others carry on', async () => {
    const server = t.server({ maxConnections: 2 });
    await server.start();
    const a = t.client(server);
    const b = t.client(server);
    await a.connect({ waitForWelcome: true });
    await b.connect({ waitForWelcome: true });
    const rejected = once<[string]>(server, 'connectionRejected');
    const extra = t.client(server);
    const errors: Error[] = [];
    extra.on('error', (e) => errors.push(e));
    const refused = extra.connect({ waitForWelcome: true });
    await expect(refused).rejects.toBeInstanceOf(MaxConnectionsError);
    await expect(refused).rejects.toMatchObject({ code: ErrorCode.MAX_CONNECTIONS });
    expect((await rejected)[0]).toBe(ErrorCode.MAX_CONNECTIONS);
    // refused clients do not hammer the server: no reconnect, receive() reports the refusal
    await until(() => !extra.isConnected(), 'refused client closed');
    await expect(extra.receive({ timeout: 1000 })).rejects.toBeInstanceOf(MaxConnectionsError);
    expect(errors.some((e) => e instanceof MaxConnectionsError)).toBe(true);
    expect(server.getConnectedClients()).toHaveLength(2);
    expect(server.send({ still: 'fine' })).toBe(2);
    expect((await a.receive()).data).toEqual({ still: 'fine' });
    expect((await b.receive()).data).toEqual({ still: 'fine' });
  });

  it('allowClientSend=false: send() rejects with SEND_NOT_ALLOWED and the hook never fires', async () => {
    const server = t.server({ allowClientSend: false });
    await server.start();
    const seen: unknown[] = [];
    server.on('message', (m) => seen.push(m));
    const c = t.client(server);
    await c.connect({ waitForWelcome: true });
    expect(c.welcome?.allowClientSend).toBe(false);
    await expect(c.send({ nope: 1 })).rejects.toBeInstanceOf(MessageError);
    await expect(c.send({ nope: 1 })).rejects.toMatchObject({ code: ErrorCode.SEND_NOT_ALLOWED });
    // a client that skipped the handshake is answered by the server with SEND_NOT_ALLOWED instead
    // (over NATS every peer must say hello, so there the bypass says hello and skips only the local check)
    if (t.name === 'nats') {
      expect(seen).toEqual([]);
      return;
    }
    const raw = t.client(server, { handshake: false });
    const errored = once<[Error]>(raw, 'error');
    await raw.connect();
    await raw.send({ sneaky: 1 });
    const [err] = await errored;
    expect(err).toMatchObject({ code: ErrorCode.SEND_NOT_ALLOWED });
    // server still serves both
    expect(server.send({ ok: 1 })).toBe(2);
    expect((await c.receive()).data).toEqual({ ok: 1 });
    expect(seen).toEqual([]);
  });

  it('allowClientSend=true: the message hook gets the message and the client id', async () => {
    const server = t.server();
    await server.start();
    const c = t.client(server);
    await c.connect({ waitForWelcome: true });
    const got = once<[{ data: unknown }, string]>(server, 'message');
    await c.send({ hi: 'server' });
    const [m, id] = await got;
    expect(m.data).toEqual({ hi: 'server' });
    expect(id).toBe(c.welcome?.clientId);
  });

  it('send() while never connected is NOT_CONNECTED', async () => {
    const server = t.server();
    await server.start();
    const c = t.client(server);
    await expect(c.send({ a: 1 })).rejects.toBeInstanceOf(ConnectionError);
    await expect(c.send({ a: 1 })).rejects.toMatchObject({ code: ErrorCode.NOT_CONNECTED });
  });
});
