import { validateEventName } from '@socketkit/protocol';
import type { Payload, SocketClient, SocketServer } from '@socketkit/core';
import type { MessageData } from '@socketkit/protocol';
import type {
  NatsClient as NatsSocketClient,
  NatsClientOptions,
  NatsServer as NatsSocketServer,
  NatsServerOptions,
  TcpClient as TcpSocketClient,
  TcpClientOptions,
  TcpServer as TcpSocketServer,
  TcpServerOptions,
  UnixClient as UnixSocketClient,
  UnixClientOptions,
  UnixServer as UnixSocketServer,
  UnixServerOptions,
} from './optional-peers.js';
import { transportImplementation, validateSocketType, type SocketType } from './transports.js';

export type {
  UnixServerOptions,
  TcpServerOptions,
  NatsServerOptions,
  UnixClientOptions,
  TcpClientOptions,
  NatsClientOptions,
};

/**
 * The options, server and client types of each transport, by {@link SocketType}.
 * @typeParam TIn Data clients send (the server's `schema`, handler argument).
 * @typeParam TOut Data the server sends.
 * @typeParam T Data a client receives (its `schema`).
 */
export interface TransportTypes<
  TIn extends Payload<TIn> = MessageData,
  TOut extends Payload<TOut> = MessageData,
  T extends Payload<T> = MessageData,
> {
  unix: {
    serverOptions: UnixServerOptions<TIn, TOut>;
    clientOptions: UnixClientOptions<T>;
    server: UnixSocketServer<TIn, TOut>;
    client: UnixSocketClient<T>;
  };
  tcp: {
    serverOptions: TcpServerOptions<TIn, TOut>;
    clientOptions: TcpClientOptions<T>;
    server: TcpSocketServer<TIn, TOut>;
    client: TcpSocketClient<T>;
  };
  nats: {
    serverOptions: NatsServerOptions<TIn, TOut>;
    clientOptions: NatsClientOptions<T>;
    server: NatsSocketServer<TIn, TOut>;
    client: NatsSocketClient<T>;
  };
}

/** Server options for any transport. */
export type ServerOptions = UnixServerOptions | TcpServerOptions | NatsServerOptions;
/** Client options for any transport. */
export type ClientOptions = UnixClientOptions | TcpClientOptions | NatsClientOptions;
/** A server of any transport. */
export type AnyServer = UnixSocketServer | TcpSocketServer | NatsSocketServer;
/** A client of any transport. */
export type AnyClient = UnixSocketClient | TcpSocketClient | NatsSocketClient;

/**
 * Creates a server for `eventName` on the given transport. Options are merged
 * over `loadConfig()` (defaults < settings file < `.env` < environment <
 * options; files only when named by `settingsFile` / `envFile`) by the
 * transport's constructor. Only the
 * package of that transport is loaded; call `start()` on the result.
 *
 * @example
 * const server = await createServer('unix', 'progress', { socketDir: '/tmp/sockets' });
 * await server.start();
 * server.send({ percent: 42 });
 *
 * @throws ValidationError `INVALID_CONFIG` for an unknown type, a transport
 *   package that is not installed (the message names the `npm install` to
 *   run) or a bad option; `INVALID_EVENT_NAME` for a bad event name.
 */
// One signature per built-in transport, so `TIn` is inferred from a
// `schema` option (TypeScript infers nothing through TransportTypes[T]);
// with a literal type only that transport's options type-check (e.g.
// `servers` on 'unix' is an error). With a `SocketType` variable the
// generic signature accepts any transport's options, checked at run time.
export async function createServer<TIn extends Payload<TIn> = MessageData, TOut extends Payload<TOut> = MessageData>(
  type: 'unix',
  eventName: string,
  options?: UnixServerOptions<TIn, TOut>,
): Promise<UnixSocketServer<TIn, TOut>>;
/** A TCP server (see above). */
export async function createServer<TIn extends Payload<TIn> = MessageData, TOut extends Payload<TOut> = MessageData>(
  type: 'tcp',
  eventName: string,
  options?: TcpServerOptions<TIn, TOut>,
): Promise<TcpSocketServer<TIn, TOut>>;
/** A NATS server (see above). */
export async function createServer<TIn extends Payload<TIn> = MessageData, TOut extends Payload<TOut> = MessageData>(
  type: 'nats',
  eventName: string,
  options?: NatsServerOptions<TIn, TOut>,
): Promise<NatsSocketServer<TIn, TOut>>;
/** A server for a {@link SocketType} known only at run time. */
export async function createServer<T extends SocketType>(
  type: T,
  eventName: string,
  options?: TransportTypes[T]['serverOptions'],
): Promise<TransportTypes[T]['server']>;
/** A transport added with `registerTransport()` (never a built-in name, so built-in options stay checked). */
export async function createServer<N extends string>(
  type: N extends SocketType ? never : N,
  eventName: string,
  options?: Record<string, unknown>,
): Promise<SocketServer>;
export async function createServer(
  type: string,
  eventName: string,
  options: ServerOptions | Record<string, unknown> = {},
): Promise<AnyServer | SocketServer> {
  validateSocketType(type);
  validateEventName(eventName);
  const impl = await transportImplementation(type);
  return impl.createServer({ ...(options as Record<string, unknown>), eventName }) as AnyServer;
}

/**
 * Creates a client for `eventName` on the given transport (not yet
 * connected: call `connect()`). Options are merged over `loadConfig()`.
 *
 * @example
 * const client = await createClient('tcp', 'rpc', { port: 9000 });
 * await client.connect();
 * const reply = await client.request({ a: 1, b: 2 });
 *
 * @throws ValidationError as {@link createServer}.
 */
export async function createClient<T extends Payload<T> = MessageData>(
  type: 'unix',
  eventName: string,
  options?: UnixClientOptions<T>,
): Promise<UnixSocketClient<T>>;
/** A TCP client (see above). */
export async function createClient<T extends Payload<T> = MessageData>(
  type: 'tcp',
  eventName: string,
  options?: TcpClientOptions<T>,
): Promise<TcpSocketClient<T>>;
/** A NATS client (see above). */
export async function createClient<T extends Payload<T> = MessageData>(
  type: 'nats',
  eventName: string,
  options?: NatsClientOptions<T>,
): Promise<NatsSocketClient<T>>;
/** A client for a {@link SocketType} known only at run time. */
export async function createClient<T extends SocketType>(
  type: T,
  eventName: string,
  options?: TransportTypes[T]['clientOptions'],
): Promise<TransportTypes[T]['client']>;
/** A transport added with `registerTransport()`. */
export async function createClient<N extends string>(
  type: N extends SocketType ? never : N,
  eventName: string,
  options?: Record<string, unknown>,
): Promise<SocketClient>;
export async function createClient(
  type: string,
  eventName: string,
  options: ClientOptions | Record<string, unknown> = {},
): Promise<AnyClient | SocketClient> {
  validateSocketType(type);
  validateEventName(eventName);
  const impl = await transportImplementation(type);
  return impl.createClient({ ...(options as Record<string, unknown>), eventName }) as AnyClient;
}
