import { createHash, randomBytes } from 'node:crypto';
import { chmod, link, lstat, stat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import {
  awaitConnect,
  checkSocketPath,
  closeServer,
  listenServer,
  mapConnectError,
  prepareSocketDir,
  type ClientTransport,
  type ListenSettings,
  type ServerTransport,
  type SocketDirTrust,
  type TransportStream,
} from '@socketkit/core';
import { ConnectionError, ErrorCode, ValidationError, validateEventName } from '@socketkit/protocol';

/** Longest socket path Linux accepts (sun_path is 108 bytes including the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * The socket path for an event: `{socketDir}/{eventName}.sock`.
 * @throws ValidationError `INVALID_EVENT_NAME`, or `INVALID_CONFIG` when the
 *   path is longer than the OS allows.
 */
export function socketPathFor(socketDir: string, eventName: string): string {
  validateEventName(eventName);
  const path = join(socketDir, `${eventName}.sock`);
  if (process.platform === 'win32') return `\\\\?\\pipe\\${path}`;
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `socket path ${path} is ${bytes} bytes, above the OS limit of ${MAX_SOCKET_PATH_BYTES}: use a shorter socketDir or event name`,
      { details: { path, bytes } },
    );
  }
  return path;
}

/** Options of {@link UnixServerTransport}. */
export interface UnixServerTransportOptions extends SocketDirTrust {
  eventName: string;
  socketDir: string;
  /** Socket file mode (e.g. 0o600). */
  mode: number;
  /** Remove the socket file on close. */
  autoRemoveSocket: boolean;
}

/** Longest time a server waits for another server's start on the same path to finish (ms). */
export const START_LOCK_WAIT_MS = 2000;

/** First and largest pause between connect attempts while the server's listen backlog is full (ms). */
const EAGAIN_FIRST_DELAY_MS = 5;
const EAGAIN_MAX_DELAY_MS = 100;

/** Resolves after `ms`, or rejects with `signal.reason` when it aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Probes a socket file: true if a live server accepts on it. A server whose
 * backlog is full (stuck, not accepting) answers EAGAIN: it is alive, and
 * that is reported as `ADDRESS_IN_USE`, never as a raw EAGAIN.
 */
function isLive(path: string, eventName: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', (err) => {
      s.destroy();
      const code = errno(err);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve(false);
      else if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
        reject(
          new ConnectionError(
            ErrorCode.ADDRESS_IN_USE,
            `a server for event "${eventName}" is running at ${path} but not accepting connections (its backlog is full: stuck or overloaded): stop it first`,
            { cause: err, details: { path } },
          ),
        );
      } else reject(mapConnectError(err, eventName, path));
    });
  });
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` while holding a per-path start lock, so that two servers
 * starting at once on a stale socket cannot both decide "stale", unlink and
 * take the path (one of them orphaned). On Linux the lock is a socket in the
 * abstract namespace: the kernel releases it when the holder exits, so a
 * crash never leaves a stale lock. Elsewhere there is no lock and the
 * inode re-check before unlinking keeps the race window small.
 */
async function withStartLock<T>(dir: string, eventName: string, path: string, fn: () => Promise<T>): Promise<T> {
  if (process.platform !== 'linux') return fn();
  const d = await stat(dir);
  const name = `\0socketkit-start-${createHash('sha256').update(`${d.dev}:${d.ino}/${eventName}`).digest('hex').slice(0, 40)}`;
  const lock = createServer();
  const deadline = Date.now() + START_LOCK_WAIT_MS;
  for (;;) {
    try {
      await listenServer(lock, { path: name });
      break;
    } catch (err) {
      if (errno(err) !== 'EADDRINUSE') throw err;
      if (Date.now() >= deadline) {
        throw new ConnectionError(
          ErrorCode.ADDRESS_IN_USE,
          `another server for event "${eventName}" has been starting at ${path} for ${START_LOCK_WAIT_MS} ms: stop it first`,
          { details: { path } },
        );
      }
      await pause(10);
    }
  }
  try {
    return await fn();
  } finally {
    await closeServer(lock);
  }
}

/**
 * Unix domain socket server transport: owns the socket file's lifecycle —
 * directory creation (0700) and checks, stale-file recovery, never stealing a
 * live server's socket, never deleting a non-socket or following a symlink,
 * file permissions, removal on close.
 *
 * The socket is bound under a temporary name, chmod-ed, and only then given
 * its real name with link(), which fails if the name exists: a server never
 * replaces a file it did not probe, and clients never see a socket with the
 * wrong mode. It also keeps libuv (which unlinks the bound name on close)
 * away from the real path, so stop() removes only the file this server
 * bound (same device and inode), never a newer server's.
 */
export class UnixServerTransport implements ServerTransport {
  readonly kind = 'unix';
  /** Full socket path. */
  readonly path: string;
  readonly #o: UnixServerTransportOptions;
  #server: Server | undefined;
  #bound: { dev: number; ino: number } | undefined;

  constructor(options: UnixServerTransportOptions) {
    this.#o = options;
    this.path = socketPathFor(options.socketDir, options.eventName);
  }

  address(): string {
    return this.path;
  }

  async listen(onConnection: (stream: TransportStream) => void, settings: ListenSettings = {}): Promise<void> {
    const { socketDir, eventName } = this.#o;
    await prepareSocketDir(socketDir, this.#o);
    const tmp = join(socketDir, `.${randomBytes(4).toString('hex')}.sk`);
    if (process.platform !== 'win32' && Buffer.byteLength(tmp) > MAX_SOCKET_PATH_BYTES) {
      throw new ValidationError(
        ErrorCode.INVALID_CONFIG,
        `socketDir ${socketDir} is too long for socketkit's temporary socket name ` +
          `(${Buffer.byteLength(tmp)} bytes, limit ${MAX_SOCKET_PATH_BYTES}): use a shorter socketDir`,
        { details: { path: tmp } },
      );
    }
    const server = createServer({ allowHalfOpen: true }, (socket: Socket) => onConnection(socket));
    try {
      await listenServer(
        server,
        {
          path: tmp,
          ...(settings.backlog !== undefined ? { backlog: settings.backlog } : {}),
        },
        (err) => settings.onError?.(err),
      );
    } catch (err) {
      throw mapConnectError(err, eventName, tmp);
    }
    try {
      await chmod(tmp, this.#o.mode);
      const st = await lstat(tmp);
      await withStartLock(socketDir, eventName, this.path, () => this.#claim(tmp, eventName));
      this.#bound = { dev: st.dev, ino: st.ino };
    } catch (err) {
      await closeServer(server);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await unlink(tmp).catch(() => undefined);
    this.#server = server;
  }

  /** Gives the bound socket its real name; clears a stale socket there first. */
  async #claim(tmp: string, eventName: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(tmp, this.path);
        return;
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw mapConnectError(err, eventName, this.path);
      }
      await this.#clearStale(eventName);
    }
    throw new ConnectionError(
      ErrorCode.ADDRESS_IN_USE,
      `another server took ${this.path} for event "${eventName}" while this one was starting: stop it first`,
      { details: { path: this.path } },
    );
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    const closing = closeServer(server);
    if (this.#o.autoRemoveSocket) await this.#removeOwnSocket();
    await closing;
  }

  async #removeOwnSocket(): Promise<void> {
    try {
      const st = await lstat(this.path);
      // Remove only the file we bound: a newer server may own the path now.
      if (st.isSocket() && st.ino === this.#bound?.ino && st.dev === this.#bound.dev) await unlink(this.path);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
  }

  async #clearStale(eventName: string): Promise<void> {
    let st;
    try {
      st = await lstat(this.path);
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    if (st.isSymbolicLink()) {
      throw new ConnectionError(
        ErrorCode.ADDRESS_IN_USE,
        `${this.path} is a symbolic link, not a socket: refusing to follow or delete it; remove it yourself if it is safe`,
        { details: { path: this.path } },
      );
    }
    if (!st.isSocket()) {
      throw new ConnectionError(
        ErrorCode.ADDRESS_IN_USE,
        `${this.path} exists and is not a socket: refusing to delete it; move it away or choose another socketDir`,
        { details: { path: this.path } },
      );
    }
    if (await isLive(this.path, eventName)) {
      throw new ConnectionError(
        ErrorCode.ADDRESS_IN_USE,
        `a server for event "${eventName}" is already running at ${this.path}: stop it first or use another socketDir`,
        { details: { path: this.path } },
      );
    }
    // Unlink only the file that was probed.
    const again = await lstat(this.path).catch(() => undefined);
    if (again === undefined || again.ino !== st.ino || again.dev !== st.dev) return;
    await unlink(this.path).catch((err: unknown) => {
      if (errno(err) !== 'ENOENT') throw err;
    });
  }
}

/**
 * Unix domain socket client transport. Before every connect it checks the
 * socket directory and file the way the server does (trusted owner, no
 * group/other write, no symlink), so a socket planted by another user in a
 * shared directory never receives this client's data or token.
 */
export class UnixClientTransport implements ClientTransport {
  readonly kind = 'unix';
  /** Full socket path. */
  readonly path: string;
  readonly #eventName: string;
  readonly #trust: SocketDirTrust;

  constructor(socketDir: string, eventName: string, trust: SocketDirTrust = {}) {
    this.path = socketPathFor(socketDir, eventName);
    this.#eventName = eventName;
    this.#trust = trust;
  }

  address(): string {
    return this.path;
  }

  /**
   * Connects, honouring `signal`. A full listen backlog (`EAGAIN`: a burst of
   * clients connecting faster than the server accepts) is transient: retried
   * with a short backoff (5 ms ×2 up to 100 ms) until it goes through or
   * `signal` aborts (the client's connect timeout).
   */
  async connect(signal: AbortSignal): Promise<TransportStream> {
    if (process.platform !== 'win32') await checkSocketPath(dirname(this.path), this.path, this.#trust);
    for (let delay = EAGAIN_FIRST_DELAY_MS; ; delay = Math.min(delay * 2, EAGAIN_MAX_DELAY_MS)) {
      try {
        return await awaitConnect(createConnection({ path: this.path, allowHalfOpen: false }), signal);
      } catch (err) {
        if (errno(err) !== 'EAGAIN' || signal.aborted) throw mapConnectError(err, this.#eventName, this.path);
      }
      await sleep(delay, signal);
    }
  }
}
