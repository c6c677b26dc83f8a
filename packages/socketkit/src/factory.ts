import { validateEventName } from '@socketkit/protocol';
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
import { loadTransport, validateSocketType, type SocketType } from './transports.js';

export type { UnixServerOptions, TcpServerOptions, NatsServerOptions, UnixClientOptions, TcpClientOptions, NatsClientOptions };

/** The options, server and client types of each transport, by {@link SocketType}. */
export interface TransportTypes {
  unix: { serverOptions: UnixServerOptions; clientOptions: UnixClientOptions; server: UnixSocketServer; client: UnixSocketClient };
  tcp: { serverOptions: TcpServerOptions; clientOptions: TcpClientOptions; server: TcpSocketServer; client: TcpSocketClient };
  nats: { serverOptions: NatsServerOptions; clientOptions: NatsClientOptions; server: NatsSocketServer; client: NatsSocketClient };
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
export async function createServer<T extends SocketType>(type: T, eventName: string, options?: TransportTypes[T]['serverOptions']): Promise<TransportTypes[T]['server']>;
export async function createServer(type: SocketType, eventName: string, options: ServerOptions = {}): Promise<AnyServer> {
  validateSocketType(type);
  validateEventName(eventName);
  const merged = { ...options, eventName };
  if (type === 'unix') {
    const { UnixSocketServer } = await loadTransport('unix');
    return new UnixSocketServer(merged as ConstructorParameters<typeof UnixSocketServer>[0]);
  }
  if (type === 'nats') {
    const { NatsSocketServer } = await loadTransport('nats');
    return new NatsSocketServer(merged as ConstructorParameters<typeof NatsSocketServer>[0]);
  }
  const { TcpSocketServer } = await loadTransport('tcp');
  return new TcpSocketServer(merged as ConstructorParameters<typeof TcpSocketServer>[0]);
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
export async function createClient<T extends SocketType>(type: T, eventName: string, options?: TransportTypes[T]['clientOptions']): Promise<TransportTypes[T]['client']>;
export async function createClient(type: SocketType, eventName: string, options: ClientOptions = {}): Promise<AnyClient> {
  validateSocketType(type);
  validateEventName(eventName);
  const merged = { ...options, eventName };
  if (type === 'unix') {
    const { UnixSocketClient } = await loadTransport('unix');
    return new UnixSocketClient(merged as ConstructorParameters<typeof UnixSocketClient>[0]);
  }
  if (type === 'nats') {
    const { NatsSocketClient } = await loadTransport('nats');
    return new NatsSocketClient(merged as ConstructorParameters<typeof NatsSocketClient>[0]);
  }
  const { TcpSocketClient } = await loadTransport('tcp');
  return new TcpSocketClient(merged as ConstructorParameters<typeof TcpSocketClient>[0]);
}
