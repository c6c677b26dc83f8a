// biome-ignore-all format: each @ts-ignore must stay right above its one-line import
// Handwritten declarations, copied to dist/ as they are by the build (tsc
// would drop the @ts-ignore comments). The transports are optional peer
// dependencies, so their types may be absent where the facade is installed:
// a missing package then types as `any`, which `Installed` turns into `never`.
// Using a transport that is not installed is a type error at the call site,
// never an `any` that leaks into the program.
// @ts-ignore -- optional peer: @socketkit/unix may not be installed
import type { UnixSocketClient, UnixSocketClientOptions } from '@socketkit/unix';
// @ts-ignore -- optional peer: @socketkit/unix may not be installed
import type { UnixSocketServer, UnixSocketServerOptions } from '@socketkit/unix';
// @ts-ignore -- optional peer: @socketkit/tcp may not be installed
import type { TcpSocketClient, TcpSocketClientOptions } from '@socketkit/tcp';
// @ts-ignore -- optional peer: @socketkit/tcp may not be installed
import type { TcpSocketServer, TcpSocketServerOptions } from '@socketkit/tcp';
// @ts-ignore -- optional peer: @socketkit/nats may not be installed
import type { NatsSocketClient, NatsSocketClientOptions } from '@socketkit/nats';
// @ts-ignore -- optional peer: @socketkit/nats may not be installed
import type { NatsSocketServer, NatsSocketServerOptions } from '@socketkit/nats';
import type { MessageData } from '@socketkit/protocol';
// @ts-ignore -- optional peer
import type * as UnixModule from '@socketkit/unix';
// @ts-ignore -- optional peer
import type * as TcpModule from '@socketkit/tcp';
// @ts-ignore -- optional peer
import type * as NatsModule from '@socketkit/nats';

/**
 * `T`, or `never` when `T` is `any` (the package that declares it is not
 * installed). Only `any` (and `unknown`) passes `unknown extends T`; only
 * `any` then also passes `[T] extends [string]`. (The shorter `0 extends 1 & T`
 * does not work on the error type of an unresolved import.)
 */
export type Installed<T> = unknown extends T ? ([T] extends [string] ? never : T) : T;
/** Constructor options minus `eventName` (the facade takes it as an argument); `never` when not installed. */
export type WithoutEventName<T> = [Installed<T>] extends [never] ? never : Omit<T, 'eventName'>;

/** The payload constraint of the transports' type parameters (`Payload` of `@socketkit/core`). */
type P<T> = Record<keyof T, unknown>;

/** `UnixSocketServer` from `@socketkit/unix` (`never` when it is not installed). */
export type UnixServer<TIn extends P<TIn> = MessageData, TOut extends P<TOut> =
  MessageData> = Installed<UnixSocketServer<TIn, TOut>>;
/** `UnixSocketClient` from `@socketkit/unix` (`never` when it is not installed). */
export type UnixClient<T extends P<T> = MessageData> = Installed<UnixSocketClient<T>>;
/** `TcpSocketServer` from `@socketkit/tcp` (`never` when it is not installed). */
export type TcpServer<TIn extends P<TIn> = MessageData, TOut extends P<TOut> =
  MessageData> = Installed<TcpSocketServer<TIn, TOut>>;
/** `TcpSocketClient` from `@socketkit/tcp` (`never` when it is not installed). */
export type TcpClient<T extends P<T> = MessageData> = Installed<TcpSocketClient<T>>;
/** `NatsSocketServer` from `@socketkit/nats` (`never` when it is not installed). */
export type NatsServer<TIn extends P<TIn> = MessageData, TOut extends P<TOut> =
  MessageData> = Installed<NatsSocketServer<TIn, TOut>>;
/** `NatsSocketClient` from `@socketkit/nats` (`never` when it is not installed). */
export type NatsClient<T extends P<T> = MessageData> = Installed<NatsSocketClient<T>>;
/** Options of `createServer('unix', ...)`: everything `UnixSocketServer` takes except the event name. */
export type UnixServerOptions<TIn = MessageData, TOut = MessageData> =
  WithoutEventName<UnixSocketServerOptions<TIn, TOut>>;
/** Options of `createServer('tcp', ...)`: everything `TcpSocketServer` takes except the event name. */
export type TcpServerOptions<TIn = MessageData, TOut = MessageData> =
  WithoutEventName<TcpSocketServerOptions<TIn, TOut>>;
/** Options of `createServer('nats', ...)`: everything `NatsSocketServer` takes except the event name. */
export type NatsServerOptions<TIn = MessageData, TOut = MessageData> =
  WithoutEventName<NatsSocketServerOptions<TIn, TOut>>;
/** Options of `createClient('unix', ...)`. */
export type UnixClientOptions<T = MessageData> = WithoutEventName<UnixSocketClientOptions<T>>;
/** Options of `createClient('tcp', ...)`. */
export type TcpClientOptions<T = MessageData> = WithoutEventName<TcpSocketClientOptions<T>>;
/** Options of `createClient('nats', ...)`. */
export type NatsClientOptions<T = MessageData> = WithoutEventName<NatsSocketClientOptions<T>>;

/** What each transport package exports (`never` for one that is not installed). */
// (`typeof` of an unresolved import escapes `Installed`, so each entry is
// keyed on the transport's server type instead.)
export interface TransportModules {
  unix: [UnixServer] extends [never] ? never : typeof UnixModule;
  tcp: [TcpServer] extends [never] ? never : typeof TcpModule;
  nats: [NatsServer] extends [never] ? never : typeof NatsModule;
}
