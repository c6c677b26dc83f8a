// Issue 23 item 7 through the transports and the facade: the type
// parameters of UnixSocketClient/TcpSocketClient/NatsSocketClient (and the
// servers) and of createServer/createClient, inferred from `schema`;
// checked by the compiler (the first test type-checks this file: ts-jest
// only transpiles), then one real round trip over a Unix socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { NatsSocketClient, NatsSocketServer } from '@socketkit/nats';
import type { TcpSocketClient } from '@socketkit/tcp';
import { UnixSocketClient, UnixSocketServer } from '@socketkit/unix';
import ts from 'typescript';
import * as v from 'valibot';
import { ErrorCode, createClient, createServer, type MessageData } from '../../src/index.js';

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
function assertType<_T extends true>(): void {}

const Progress = v.object({ percent: v.number() });
const Sum = v.object({ a: v.number(), b: v.number() });

export async function transportClasses(): Promise<void> {
  const unix = new UnixSocketClient({ eventName: 'p', schema: Progress });
  const m = await unix.receive();
  assertType<Equal<typeof m.data, { percent: number }>>();
  const untyped = new UnixSocketClient({ eventName: 'p' });
  const u = await untyped.receive();
  assertType<Equal<typeof u.data, MessageData>>();
  const server = new UnixSocketServer<{ a: number; b: number }, { sum: number }>({
    eventName: 'p',
    schema: Sum,
    handler: (d) => ({ sum: d.a + d.b }),
  });
  // @ts-expect-error -- the server sends { sum }
  server.send({ percent: 1 });
  type T1 = TcpSocketClient<{ percent: number }>;
  type N1 = NatsSocketClient<{ percent: number }>;
  type N2 = NatsSocketServer<{ a: number; b: number }, { sum: number }>;
  const t1 = (await t1Of()).data;
  assertType<Equal<typeof t1, { percent: number }>>();
  const n1 = await ({} as N1).receive();
  assertType<Equal<typeof n1.data, { percent: number }>>();
  assertType<Equal<Parameters<N2['send']>[0], { sum: number }>>();
  async function t1Of() {
    return ({} as T1).receive();
  }
}

export async function facade(): Promise<void> {
  const client = await createClient('unix', 'p', { schema: Progress });
  for await (const m of client) assertType<Equal<typeof m.data, { percent: number }>>();
  const tcp = await createClient('tcp', 'p', { port: 9000, schema: Progress });
  const t = await tcp.receive();
  assertType<Equal<typeof t.data, { percent: number }>>();
  const plain = await createClient('nats', 'p');
  const p = await plain.receive();
  assertType<Equal<typeof p.data, MessageData>>();
  const server = await createServer('unix', 'p', { schema: Sum, handler: (d) => ({ sum: d.a + d.b }) });
  server.on('message', (m) => assertType<Equal<typeof m.data, { a: number; b: number }>>());
  // @ts-expect-error -- socketDir is the option's name (and plain JavaScript gets INVALID_CONFIG)
  await createClient('unix', 'p', { socketdir: '/tmp' });
}

function typeCheck(file: string): string[] {
  const configPath = ts.findConfigFile(file, ts.sys.fileExists, 'tsconfig.json') as string;
  const { config } = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, configPath.replace(/tsconfig\.json$/, ''));
  const program = ts.createProgram([file], { ...parsed.options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}:${d.start ?? 0}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

const dir = mkdtempSync(join(tmpdir(), 'sk-typed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('typed transports and facade', () => {
  it('type-checks: every typed use compiles and every @ts-expect-error line is an error', () => {
    expect(typeCheck(fileURLToPath(import.meta.url))).toEqual([]);
  }, 60_000);

  it('a schema on createServer and createClient checks real traffic over a Unix socket', async () => {
    const quiet = { logLevel: 'silent' as const, envFile: false as const, env: {}, socketDir: dir };
    const server = await createServer('unix', 'typed', { ...quiet, schema: Sum, handler: (d) => ({ sum: d.a + d.b }) });
    await server.start();
    const client = await createClient('unix', 'typed', { ...quiet, autoReconnect: false, schema: Progress });
    try {
      const errors: Error[] = [];
      client.on('error', (e) => errors.push(e));
      await client.connect({ waitForWelcome: true });
      server.send({ percent: 'half' });
      server.send({ percent: 50 });
      expect((await client.receive()).data.percent).toBe(50);
      expect(client.invalidMessages).toBe(1);
      expect(errors[0]).toMatchObject({ code: ErrorCode.INVALID_MESSAGE });
      expect((await client.request({ a: 2, b: 3 })).data).toEqual({ sum: 5 });
      await expect(client.request({ a: 2 })).rejects.toMatchObject({
        code: ErrorCode.INVALID_MESSAGE,
        message: expect.stringContaining('b:'),
      });
    } finally {
      await client.disconnect();
      await server.stop();
    }
  });
});
