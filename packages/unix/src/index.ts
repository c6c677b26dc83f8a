/**
 * @socketkit/unix — socketkit over Unix domain sockets: socket file
 * lifecycle, permissions and stale-file recovery. Everything else is the core
 * engine.
 * @packageDocumentation
 */
export { UnixSocketServer, UnixSocketClient, UNIX_SERVER_OPTION_RULES, UNIX_CLIENT_OPTION_RULES } from './unix.js';
export type { UnixSocketServerOptions, UnixSocketClientOptions } from './unix.js';
export { UnixServerTransport, UnixClientTransport, socketPathFor, MAX_SOCKET_PATH_BYTES } from './unix-transport.js';
export type { UnixServerTransportOptions } from './unix-transport.js';
/**
 * The checks of a socket directory's whole path and the directory opened for use after them (also used by the CLI's
 * `ls`).
 */
export { openSocketDir, checkDirPath, fileTrustProblem, sameFile } from '@socketkit/core';
export { fstatClean, lstatClean } from '@socketkit/core/net';
export type { PinnedDir, CheckedDir, SocketDirTrust } from '@socketkit/core';
export * from '@socketkit/protocol';
export type {
  ClientInfo,
  RequestHandler,
  SocketServerEvents,
  SocketClientEvents,
  BackoffOptions,
  SocketLogger,
} from '@socketkit/core';
