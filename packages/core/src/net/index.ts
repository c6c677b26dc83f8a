/**
 * `@socketkit/core/net`: the node:net / node:fs helpers that the socket
 * transports (`@socketkit/unix`, `@socketkit/tcp`) share: socket-directory
 * trust checks, listen/close/connect with typed errors. An application never
 * needs them; a new socket transport does.
 * @packageDocumentation
 */
export {
  SOCKET_DIR_TRUST_RULES,
  checkDirPath,
  dirTrustProblem,
  fileTrustProblem,
  fstatClean,
  insecureError,
  lstatClean,
  openServerSocketDir,
  openSocketDir,
  prepareSocketDir,
  sameFile,
  socketDirTrust,
} from './socket-dir.js';
export type { CheckedDir, PinnedDir, SocketDirTrust } from './socket-dir.js';
export { awaitConnect, closeServer, listenServer } from './listen.js';
export { mapConnectError } from './connect-error.js';
export { READ_SLAB_MIN, READ_SLAB_SIZE, slabReadOption } from './read-slabs.js';
export type { SlabOnread } from './read-slabs.js';
