import { validateEventName } from '@socketkit/protocol';
import type { UnixSocketClient, UnixSocketClientOptions, UnixSocketServer, UnixSocketServerOptions } from '@socketkit/unix';
import type { TcpSocketClient, TcpSocketClientOptions, TcpSocketServer, TcpSocketServerOptions } from '@socketkit/tcp';
import type { NatsSocketClient, NatsSocketClientOptions, NatsSocketServer, NatsSocketServerOptions } from '@socketkit/nats';
import { transportImplementation, validateSocketType, type SocketType } from './transports.js';

/** Options of `createServer('unix', ...)`: everything `UnixSocketServer` takes except the event name. */
export type UnixServerOptions = Omit<UnixSocketServerOptions, 'eventName'>;
/** Options of `createServer('tcp', ...)`: everything `TcpSocketServer` takes except the event name. */
export type TcpServerOptions = Omit<TcpSocketServerOptions, 'eventName'>;
/** Options of `createClient('unix', ...)`. */
export type UnixClientOptions = Omit<UnixSocketClientOptions, 'eventName'>;
/** Options of `createClient('tcp', ...)`. */
export type TcpClientOptions = Omit<TcpSocketClientOptions, 'eventName'>;

/** Options of `createServer('nats', ...)`: everything `NatsSocketServer` takes except the event name. */
export type NatsServerOptions = Omit<NatsSocketServerOptions, 'eventName'>;
/** Options of `createClient('nats', ...)`. */
export type NatsClientOptions = Omit<NatsSocketClientOptions, 'eventName'>;

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
export async function createServer(type: 'unix', eventName: string, options?: UnixServerOptions): Promise<UnixSocketServer>;
export async function createServer(type: 'tcp', eventName: string, options?: TcpServerOptions): Promise<TcpSocketServer>;
export async function createServer(type: 'nats', eventName: string, options?: NatsServerOptions): Promise<NatsSocketServer>;
export async function createServer(type: SocketType, eventName: string, options?: ServerOptions): Promise<AnyServer>;
export async function createServer(type: SocketType, eventName: string, options: ServerOptions = {}): Promise<AnyServer> {
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
export async function createClient(type: 'unix', eventName: string, options?: UnixClientOptions): Promise<UnixSocketClient>;
export async function createClient(type: 'tcp', eventName: string, options?: TcpClientOptions): Promise<TcpSocketClient>;
export async function createClient(type: 'nats', eventName: string, options?: NatsClientOptions): Promise<NatsSocketClient>;
export async function createClient(type: SocketType, eventName: string, options?: ClientOptions): Promise<AnyClient>;
export async function createClient(type: SocketType, eventName: string, options: ClientOptions = {}): Promise<AnyClient> {
  validateSocketType(type);
  validateEventName(eventName);
  const impl = await transportImplementation(type);
  return impl.createClient({ ...(options as Record<string, unknown>), eventName }) as AnyClient;
}
