import { createServer } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { ConnectionError, ErrorCode, ValidationError } from '@socketkit/protocol';
import { NatsSocketClient, NatsSocketServer, subjectsFor } from '../src/index.js';

describe('subjects', () => {
  it('derive from the event name under a prefix', () => {
    const s = subjectsFor('orders');
    expect(s.connect).toBe('socketkit.orders.connect');
    expect(s.all).toBe('socketkit.orders.all');
    expect(s.toServer('abc')).toBe('socketkit.orders.s.abc');
    expect(s.toClient('abc')).toBe('socketkit.orders.c.abc');
    expect(subjectsFor('orders', 'app').all).toBe('app.orders.all');
  });

  it('refuse event names that would break subjects (dots, wildcards, spaces)', () => {
    for (const bad of ['a.b', 'a*', '>', 'a b', '']) expect(() => subjectsFor(bad)).toThrow(ValidationError);
  });
});

describe('unreachable NATS', () => {
  it('server start and client connect fail with SERVER_NOT_RUNNING naming the servers', async () => {
    // a port with nothing listening: bind, read, release
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const a = s.address() as { port: number };
        s.close(() => resolve(a.port));
      });
    });
    const servers = `nats://127.0.0.1:${port}`;
    const server = new NatsSocketServer({
      eventName: 'orders',
      servers,
      logLevel: 'silent',
      envFile: false,
      natsOptions: { maxReconnectAttempts: 0 },
    });
    const err = (await server.start().catch((e: unknown) => e)) as ConnectionError;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.code).toBe(ErrorCode.SERVER_NOT_RUNNING);
    expect(err.message).toContain(servers);
    const client = new NatsSocketClient({
      eventName: 'orders',
      servers,
      logLevel: 'silent',
      envFile: false,
      autoReconnect: false,
    });
    const cerr = (await client.connect().catch((e: unknown) => e)) as ConnectionError;
    expect(cerr.code).toBe(ErrorCode.SERVER_NOT_RUNNING);
    await client.disconnect();
  });
});
