import { validateEventName } from '@socketkit/protocol';
import type { SocketClient, SocketServer } from '@socketkit/core';
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

export type { UnixServerOptions, TcpServerOptions, NatsServerOptions, UnixClientOptions, TcpClientOptions, NatsClientOptions };

/** The options, server and client types of each transport, by {@link SocketType}. */
export interface TransportTypes {
  unix: {
    serverOptions: UnixServerOptions;
    clientOptions: UnixClientOptions;
    server: UnixSocketServer;
    client: UnixSocketClient;
  };
  tcp: {
    serverOptions: TcpServerOptions;
    clientOptions: TcpClientOptions;
    server: TcpSocketServer;
    client: TcpSocketClient;
  };
  nats: {
    serverOptions: NatsServerOptions;
    clientOptions: NatsClientOptions;
    server: NatsSocketServer;
    client: NatsSocketClient;
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
// One generic signature: with a literal type only that transport's options
// type-check (e.g. `servers` on 'unix' is an error); with a `SocketType`
// variable any transport's options are accepted and checked at run time.
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
export async function createServer(type: string, eventName: string, options: ServerOptions | Record<string, unknown> = {}): Promise<AnyServer | SocketServer> {
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
export async function createClient(type: string, eventName: string, options: ClientOptions | Record<string, unknown> = {}): Promise<AnyClient | SocketClient> {
  validateSocketType(type);
  validateEventName(eventName);
  const impl = await transportImplementation(type);
  return impl.createClient({ ...(options as Record<string, unknown>), eventName }) as AnyClient;
}
