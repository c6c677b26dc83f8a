import { ConnectionError, ErrorCode, SocketError } from '@socketkit/protocol';

/**
 * Maps a Node system error from connecting to a typed ConnectionError whose
 * message names the event and the address and says what to do.
 */
export function mapConnectError(err: unknown, eventName: string, address: string): SocketError {
  if (err instanceof SocketError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const opts = { cause: err, details: { eventName, address, errno: code } };
  switch (code) {
    case 'ENOENT':
      return new ConnectionError(
        ErrorCode.SOCKET_NOT_FOUND,
        `no server is running for event "${eventName}" at ${address} (no socket file): start the server first, or ` +
          `check socketDir`,
        opts,
      );
    case 'ECONNREFUSED':
      return new ConnectionError(
        ErrorCode.SERVER_NOT_RUNNING,
        `server for event "${eventName}" at ${address} refused the connection: it is not running (a stale socket ` +
          `file ` +
          `or a closed port); start it`,
        opts,
      );
    case 'EACCES':
    case 'EPERM':
      return new ConnectionError(
        ErrorCode.PERMISSION_DENIED,
        `permission denied connecting to event "${eventName}" at ${address}: run as the server's user or widen ` +
          `socketPermissions`,
        opts,
      );
    case 'EAGAIN':
      // A Unix socket whose backlog is full: the server is alive but not accepting.
      return new ConnectionError(
        ErrorCode.CONNECTION_LOST,
        `server for event "${eventName}" at ${address} is not accepting connections (its backlog is full: overloaded ` +
          `or stuck); retry later or restart it`,
        opts,
      );
    default:
      return new ConnectionError(
        ErrorCode.CONNECTION_LOST,
        `cannot connect to event "${eventName}" at ${address}: ${(err as Error).message}`,
        opts,
      );
  }
}
