/**
 * @socketkit/tcp — socketkit over TCP: host, explicit or auto-assigned port,
 * TCP_NODELAY. Everything else is the core engine.
 * @packageDocumentation
 */
export {
  TcpSocketServer,
  TcpSocketClient,
  TCP_SERVER_OPTION_RULES,
  TCP_CLIENT_OPTION_RULES,
  TCP_TLS_OPTION_RULES,
} from './tcp.js';
export type { TcpSocketServerOptions, TcpSocketClientOptions, TcpSecurityOptions } from './tcp.js';
export { TcpServerTransport, TcpClientTransport, isLoopbackHost, tlsContext } from './tcp-transport.js';
export type { TcpServerTransportOptions, TcpClientTransportOptions, TcpTlsOptions } from './tcp-transport.js';
export { addressFilePath, readAddressFile, writeAddressFile } from './address-file.js';
export type { TcpAddressRecord } from './address-file.js';
export * from '@socketkit/protocol';
export type {
  ClientInfo,
  RequestHandler,
  SocketServerEvents,
  SocketClientEvents,
  BackoffOptions,
  SocketLogger,
} from '@socketkit/core';
