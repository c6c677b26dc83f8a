// Type tests of issue 23 item 7 (typed payloads), checked by the compiler:
// the test below type-checks this file with the package's tsconfig (ts-jest
// only transpiles: isolatedModules), and `pnpm lint` (tsc over src and
// test) does too. An `@ts-expect-error` line that compiles is itself an
// error, so each one proves that the mistake below it is caught. The
// functions are never called: only their types matter.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import ts from 'typescript';
import type { MessageData, SocketMessage } from '@socketkit/protocol';
import * as v from 'valibot';
import {
  SocketClient,
  SocketServer,
  type ClientTransport,
  type RequestHandler,
  type ServerTransport,
} from '../../src/index.js';

/** True when A and B are the same type. */
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
/** Compiles only for `true`. */
function assertType<_T extends true>(): void {}

declare const clientTransport: ClientTransport;
declare const serverTransport: ServerTransport;

interface Progress {
  percent: number;
}

export async function defaultsKeepExistingCodeCompiling(): Promise<void> {
  const client = new SocketClient({ eventName: 'e', transport: clientTransport });
  const m = await client.receive();
  assertType<Equal<typeof m.data, MessageData>>();
  assertType<Equal<typeof m.data.percent, unknown>>();
  const reply = await client.request({ x: 1 });
  assertType<Equal<typeof reply.data, MessageData>>();
  // Handlers may still return anything (a non-object is wrapped as { value }).
  const server = new SocketServer({ eventName: 'e', transport: serverTransport, handler: () => 42 });
  server.send({ anything: true });
  // The idiom of existing tests: options through ConstructorParameters of the (now generic) class.
  type Opts = ConstructorParameters<typeof SocketClient>[0];
  const viaParams = (o: Opts): SocketClient => new SocketClient(o);
  void viaParams;
  // A plain RequestHandler is still (data: MessageData, ctx) => unknown.
  const h: RequestHandler = (d) => d.whatever;
  void h;
}

export async function aTypeArgumentTypesMessages(): Promise<void> {
  const client = new SocketClient<Progress>({ eventName: 'e', transport: clientTransport });
  const m = await client.receive();
  assertType<Equal<typeof m.data.percent, number>>();
  for await (const x of client) assertType<Equal<typeof x.data, Progress>>();
  client.on('message', (x) => assertType<Equal<typeof x.data, Progress>>());
  // @ts-expect-error -- no such field on Progress
  void m.data.other;
  // receive<R>() overrides per call (an unchecked cast, like the type argument itself).
  const r = await client.receive<{ other: string }>();
  assertType<Equal<typeof r.data.other, string>>();
}

export async function aSchemaInfersAndChecks(): Promise<void> {
  const Schema = v.object({
    percent: v.pipe(
      v.number(),
      v.transform((n) => String(n)),
    ),
  });
  const client = new SocketClient({ eventName: 'e', transport: clientTransport, schema: Schema });
  // The schema's OUTPUT type (after the transform) is what the application gets.
  const m = await client.receive();
  assertType<Equal<typeof m.data, { percent: string }>>();
  // @ts-expect-error -- the type argument must agree with the schema's output
  new SocketClient<Progress>({ eventName: 'e', transport: clientTransport, schema: Schema });
}

export async function requestTypesBothSides(): Promise<void> {
  const client = new SocketClient({ eventName: 'e', transport: clientTransport });
  const reply = await client.request<{ a: number; b: number }, { sum: number }>({ a: 1, b: 2 });
  assertType<Equal<typeof reply, SocketMessage<{ sum: number }>>>();
  // @ts-expect-error -- the request data must match TReq
  await client.request<{ a: number; b: number }, { sum: number }>({ a: 1 });
  // @ts-expect-error -- request data is an object (a map on the wire)
  await client.request(42);
  const checked = await client.request({ a: 1 }, { schema: v.object({ sum: v.number() }) });
  assertType<Equal<typeof checked.data, { sum: number }>>();
}

export function serverTypes(): void {
  const Sum = v.object({ a: v.number(), b: v.number() });
  const server = new SocketServer<v.InferOutput<typeof Sum>, { sum: number }>({
    eventName: 'e',
    transport: serverTransport,
    schema: Sum,
    handler: (d, ctx) => {
      assertType<Equal<typeof d, { a: number; b: number }>>();
      assertType<Equal<typeof ctx.message.data, { a: number; b: number }>>();
      return { sum: d.a + d.b };
    },
  });
  server.on('message', (m) => assertType<Equal<typeof m.data, { a: number; b: number }>>());
  server.send({ sum: 1 });
  // @ts-expect-error -- the server sends TOut
  server.send({ total: 1 });
  server.onRequest(async (d) => ({ sum: d.a }));
  // @ts-expect-error -- the handler must return TOut (or undefined)
  server.onRequest(() => ({ total: 1 }));
  // TIn inferred from the schema alone.
  const inferred = new SocketServer({ eventName: 'e', transport: serverTransport, schema: Sum });
  inferred.on('message', (m) => assertType<Equal<typeof m.data, { a: number; b: number }>>());
}

/** Type-checks `file` with the tsconfig of the package it is in; returns the diagnostics as text. */
export function typeCheck(file: string): string[] {
  const configPath = ts.findConfigFile(file, ts.sys.fileExists, 'tsconfig.json') as string;
  const { config } = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, configPath.replace(/tsconfig\.json$/, ''));
  const program = ts.createProgram([file], { ...parsed.options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}:${d.start ?? 0}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('typed payloads (types)', () => {
  it('type-checks: every typed use compiles and every @ts-expect-error line is an error', () => {
    expect(typeCheck(fileURLToPath(import.meta.url))).toEqual([]);
  }, 60_000);
});
