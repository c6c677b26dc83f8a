import type { Server, Socket, ListenOptions } from 'node:net';

/** Swallows an 'error' that a runtime emits after the one already handled. */
const ignoreLateError = (): void => undefined;

/**
 * Waits for a socket created by a transport (e.g. `net.createConnection`) to
 * connect, honouring `signal`. Rejects with the raw system error (map it with
 * `mapConnectError`) or with `signal.reason` on abort; destroys the socket on
 * failure so no handle leaks. A TLS socket waits for `secureConnect` instead.
 * A socket given up on keeps a no-op `'error'` listener: some runtimes (Bun)
 * emit a second error, or a connect error already in flight after an abort,
 * and an `'error'` with no listener would crash the process.
 */
export function awaitConnect<S extends Socket>(
  socket: S,
  signal: AbortSignal,
  event: 'connect' | 'secureConnect' = 'connect',
): Promise<S> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off(event, onConnect);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    const giveUp = (): void => {
      cleanup();
      socket.on('error', ignoreLateError);
      socket.destroy();
    };
    const onError = (err: Error): void => {
      giveUp();
      reject(err);
    };
    const onAbort = (): void => {
      giveUp();
      reject(signal.reason);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    socket.once(event, onConnect);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * `server.listen(options)` as a promise that rejects with the listen error
 * (EADDRINUSE, EACCES, ...). Once listening, every later `'error'` of the
 * server (a failed accept) goes to `afterListen`, and is never left unhandled
 * (which would crash the process); after a failed listen a late error is
 * swallowed.
 */
export function listenServer(
  server: Server,
  options: ListenOptions,
  afterListen: (err: Error) => void = () => undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      server.on('error', ignoreLateError);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      server.on('error', afterListen);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(options);
  });
}

/** `server.close()` as a promise; resolves at once when it is not listening. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}
