/**
 * socketkit — one entry point for process-to-process messaging over Unix
 * domain sockets or TCP. `createServer` / `createClient` load only the
 * transport package you ask for (`@socketkit/unix`, `@socketkit/tcp`: install
 * the one you need); everything else is re-exported from the protocol, core
 * and config packages.
 * @packageDocumentation
 */
export { createServer, createClient } from './factory.js';
export type {
  UnixServerOptions,
  TcpServerOptions,
  NatsServerOptions,
  UnixClientOptions,
  TcpClientOptions,
  NatsClientOptions,
  ServerOptions,
  ClientOptions,
  AnyServer,
  AnyClient,
  TransportTypes,
} from './factory.js';
export {
  SocketType,
  TRANSPORT_PACKAGES,
  isSocketType,
  validateSocketType,
  loadTransport,
  registerTransport,
  transportNames,
  transportImplementation,
  transportCli,
} from './transports.js';
export {
  TRANSPORT_CLI_COMMANDS,
  SOCKET_DIR_FLAG,
  UNIX_CLI,
  TCP_CLI,
  NATS_CLI,
  nonEmptyFlag,
  integerFlag,
} from './transport-cli.js';
export type {
  CliOptions,
  TransportCli,
  TransportCliFlag,
  TransportCliCommand,
  TransportCliValues,
} from './transport-cli.js';
/** @internal Tests only: stripped from the published types. */
export { setTransportSpecifierForTesting } from './transports.js';
export type { TransportModules, TransportDefinition, TransportImplementation } from './transports.js';

export {
  ErrorCode,
  SocketError,
  ConnectionError,
  MaxConnectionsError,
  MessageError,
  ValidationError,
  TimeoutError,
  RemoteError,
  errorFromCode,
  createError,
  ERROR_CLASSES,
  validateEventName,
  isValidEventName,
  EVENT_NAME_PATTERN,
  MAX_EVENT_NAME_LENGTH,
  getTimestampMs,
  getTimestampIso,
  MessageType,
  createMessage,
  toWireMessage,
  isSocketMessage,
  parseMessage,
  CONTROL_OPS,
  PROTOCOL_VERSION,
  isReservedControl,
} from '@socketkit/protocol';
export type {
  ErrorDetails,
  SocketErrorOptions,
  RemoteErrorOptions,
  SocketMessage,
  WireMessage,
  MessageData,
  CreateMessageOptions,
  ControlOp,
} from '@socketkit/protocol';

export { SocketServer, SocketClient, fetchStats, renderPrometheus } from '@socketkit/core';
export type { ServerStats, ClientStats, ServerRates, FetchStatsOptions } from '@socketkit/core';
export type {
  SocketServerOptions,
  SocketServerEvents,
  SocketClientOptions,
  SocketClientEvents,
  ClientInfo,
  RequestHandler,
  RequestContext,
  SlowConsumerPolicy,
  ConnectOptions,
  WelcomeInfo,
  OfflineSendPolicy,
  BackoffOptions,
  ClientRole,
  SocketLogger,
} from '@socketkit/core';

export {
  loadConfig,
  readTrustedFile,
  DEFAULT_CONFIG,
  CONFIG_KEYS,
  LOG_LEVELS,
  MAX_TIMEOUT_SECONDS,
} from '@socketkit/config';
export type { SocketConfig, ConfigOverrides, ConfigKey, LoadConfigOptions, LogLevel } from '@socketkit/config';
