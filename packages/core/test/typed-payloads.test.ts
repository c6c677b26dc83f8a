// Issue 23 item 7: a `schema` option (any Standard Schema: valibot here, a
// hand-written one below) checks the data of incoming DATA messages, types
// it, and hands the application its output (transforms included). A message
// it refuses is skipped and reported like any invalid message. Over the
// in-memory transport: no sockets needed.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as v from 'valibot';
import { ErrorCode, MessageError, ValidationError, type SocketMessage } from '@socketkit/protocol';
import { SocketClient, SocketServer, type ClientTransport, type StandardSchemaV1 } from '../src/index.js';
import { memoryTransports } from './passthrough-transports.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Progress in percent on the wire, a fraction for the application. */
const Progress = v.object({
  percent: v.pipe(
    v.number(),
    v.minValue(0),
    v.maxValue(100),
    v.transform((n) => n / 100),
  ),
});

async function setUp<C extends Pick<SocketClient, 'connect' | 'disconnect'>>(
  serverOptions: Partial<ConstructorParameters<typeof SocketServer>[0]>,
  makeClient: (transport: ClientTransport) => C,
): Promise<{ server: SocketServer; client: C }> {
  const t = memoryTransports();
  const server = new SocketServer({ eventName: 'typed', transport: t.server, logLevel: 'silent', ...serverOptions });
  await server.start();
  cleanups.push(() => server.stop());
  const client = makeClient(t.client);
  cleanups.push(() => client.disconnect());
  await client.connect({ waitForWelcome: true });
  return { server, client };
}

describe('client schema', () => {
  it('delivers the schema output, skips and reports a message that fails (INVALID_MESSAGE with the issue path)', async () => {
    const { server, client } = await setUp(
      {},
      (transport) =>
        new SocketClient({
          eventName: 'typed',
          transport,
          logLevel: 'silent',
          autoReconnect: false,
          schema: Progress,
        }),
    );
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    server.send({ percent: 42 });
    server.send({ percent: 'x' });
    server.send({ percent: 250 });
    server.send({ percent: 7 });
    const first = await client.receive();
    // Typed: `percent` is a number, and it is the transform's output.
    const fraction: number = first.data.percent;
    expect(fraction).toBe(0.42);
    expect((await client.receive()).data).toEqual({ percent: 0.07 });
    expect(client.invalidMessages).toBe(2);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(MessageError);
    expect((errors[0] as MessageError).code).toBe(ErrorCode.INVALID_MESSAGE);
    expect(errors[0]?.message).toContain('percent:');
    expect(errors[0]?.message).toContain('does not match the schema');
    expect(errors[1]?.message).toContain('percent:');
  });

  it('listeners and for await get the output too; a buffered copy read later is the output again', async () => {
    const { server, client } = await setUp(
      {},
      (transport) =>
        new SocketClient({ eventName: 'typed', transport, logLevel: 'silent', autoReconnect: false, schema: Progress }),
    );
    client.on('error', () => undefined);
    const seen: number[] = [];
    client.on('message', (m) => seen.push(m.data.percent));
    for (const p of [10, -1, 20, 30]) server.send({ percent: p });
    const got: number[] = [];
    for await (const m of client) {
      got.push(m.data.percent);
      if (got.length === 3) break;
    }
    expect(seen).toEqual([0.1, 0.2, 0.3]);
    expect(got).toEqual([0.1, 0.2, 0.3]);
    expect(client.invalidMessages).toBe(1);
  });

  it('any Standard Schema works (a hand-written one); an asynchronous one is refused per message, with a reason', async () => {
    const even: StandardSchemaV1<unknown, { n: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) =>
          typeof (value as { n?: unknown }).n === 'number' && (value as { n: number }).n % 2 === 0
            ? { value: value as { n: number } }
            : { issues: [{ message: 'expected an even n', path: [{ key: 'n' }] }] },
      },
    };
    const { server, client } = await setUp(
      {},
      (transport) =>
        new SocketClient({ eventName: 'typed', transport, logLevel: 'silent', autoReconnect: false, schema: even }),
    );
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    server.send({ n: 1 });
    server.send({ n: 2 });
    expect((await client.receive()).data.n).toBe(2);
    expect(errors[0]?.message).toContain('n: expected an even n');

    const later = {
      '~standard': {
        version: 1 as const,
        vendor: 'test',
        validate: async (value: unknown) => ({ value: value as { n: number } }),
      },
    };
    const t2 = await setUp(
      {},
      (transport) =>
        new SocketClient({ eventName: 'typed', transport, logLevel: 'silent', autoReconnect: false, schema: later }),
    );
    const errors2: Error[] = [];
    t2.client.on('error', (e) => errors2.push(e));
    t2.server.send({ n: 1 });
    t2.server.send({ n: 1 });
    await expect(t2.client.receive({ timeout: 200 })).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(errors2[0]?.message).toContain('asynchronous');
    expect(t2.client.invalidMessages).toBe(2);
  });

  it('a schema that is not one is refused at construction (INVALID_CONFIG)', () => {
    const t = memoryTransports();
    expect(
      () => new SocketClient({ eventName: 'typed', transport: t.client, schema: { parse: () => 1 } as never }),
    ).toThrow(ValidationError);
    expect(
      () => new SocketClient({ eventName: 'typed', transport: t.client, schema: { parse: () => 1 } as never }),
    ).toThrow(/schema must be a Standard Schema/);
  });
});

describe('server schema', () => {
  const Sum = v.object({ a: v.number(), b: v.number() });

  it('the handler and message listeners get checked data; a refused request is answered INVALID_MESSAGE at once', async () => {
    const handled: Array<{ a: number; b: number }> = [];
    const t = memoryTransports();
    const server = new SocketServer({
      eventName: 'typed',
      transport: t.server,
      logLevel: 'silent',
      schema: Sum,
      handler: (d) => {
        handled.push(d);
        return { sum: d.a + d.b };
      },
    });
    await server.start();
    cleanups.push(() => server.stop());
    const errors: Array<[Error, string | undefined]> = [];
    server.on('error', (e, id) => errors.push([e, id]));
    const messages: Array<{ a: number; b: number }> = [];
    server.on('message', (m) => messages.push(m.data));
    const client = new SocketClient({
      eventName: 'typed',
      transport: t.client,
      logLevel: 'silent',
      autoReconnect: false,
    });
    cleanups.push(() => client.disconnect());
    await client.connect({ waitForWelcome: true });

    expect((await client.request({ a: 1, b: 2 })).data).toEqual({ sum: 3 });
    // Refused at once (no 5 s timeout), with the path of the issue.
    const refused = await client.request({ a: '1', b: 2 }, { timeout: 60_000 }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: ErrorCode.INVALID_MESSAGE });
    expect((refused as Error).message).toContain('a:');
    await client.send({ b: 2 });
    await client.send({ a: 5, b: 5 });
    await new Promise<void>((resolve) => server.on('message', (m) => m.data.a === 5 && resolve()));
    expect(handled).toEqual([{ a: 1, b: 2 }]);
    expect(messages).toEqual([
      { a: 1, b: 2 },
      { a: 5, b: 5 },
    ]);
    expect(errors).toHaveLength(2);
    expect(
      errors.every(
        ([e, id]) => (e as MessageError).code === ErrorCode.INVALID_MESSAGE && id === client.welcome?.clientId,
      ),
    ).toBe(true);
    expect(server.stats().totals.invalidMessages).toBe(2);
  });
});

describe('request(data, { schema })', () => {
  it('checks and types the reply; a reply that fails rejects with INVALID_MESSAGE', async () => {
    const { client } = await setUp(
      { handler: (d) => (d.ok === true ? { sum: 3 } : { sum: 'three' }) },
      (transport) => new SocketClient({ eventName: 'typed', transport, logLevel: 'silent', autoReconnect: false }),
    );
    const Reply = v.object({ sum: v.number() });
    const reply: SocketMessage<{ sum: number }> = await client.request({ ok: true }, { schema: Reply });
    expect(reply.data.sum).toBe(3);
    await expect(client.request({ ok: false }, { schema: Reply })).rejects.toMatchObject({
      code: ErrorCode.INVALID_MESSAGE,
      message: expect.stringContaining('sum:'),
    });
  });
});
