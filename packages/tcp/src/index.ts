/**
 * @socketkit/tcp — socketkit over TCP: host, explicit or auto-assigned port,
 * TCP_NODELAY. Everything else is the core engine.
 * @packageDocumentation
 */
export { TcpSocketServer, TcpSocketClient } from './tcp.js';
export type { TcpSocketServerOptions, TcpSocketClientOptions } from './tcp.js';
export { TcpServerTransport, TcpClientTransport } from './tcp-transport.js';
export type { TcpServerTransportOptions } from './tcp-transport.js';
export * from '@socketkit/protocol';
export type { ClientInfo, RequestHandler, SocketServerEvents, SocketClientEvents, BackoffOptions, SocketLogger } from '@socketkit/core';
