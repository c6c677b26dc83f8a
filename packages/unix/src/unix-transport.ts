import { constants } from 'node:fs';
import { access, chmod, link, lstat, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { awaitConnect, closeServer, listenServer, mapConnectError, type ClientTransport, type ListenSettings, type ServerTransport, type TransportStream } from '@socketkit/core';
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
export interface UnixServerTransportOptions {
  eventName: string;
  socketDir: string;
  /** Socket file mode (e.g. 0o600). */
  mode: number;
  /** Remove the socket file on close. */
  autoRemoveSocket: boolean;
  /** Accept a socket directory owned by another user or writable by group/others (default false). */
  allowInsecureDir?: boolean;
}

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

/** Probes a socket file: true if a live server accepts on it. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', (err) => {
      s.destroy();
      if (errno(err) === 'ECONNREFUSED' || errno(err) === 'ENOENT') resolve(false);
      else reject(err);
    });
  });
}

/**
 * Unix domain socket server transport: owns the socket file's lifecycle —
 * directory creation (0700) and checks, stale-file recovery, never stealing a
 * live server's socket, never deleting a non-socket or following a symlink,
 * file permissions, removal on close.
 */
export class UnixServerTransport implements ServerTransport {
  readonly kind = 'unix';
  /** Full socket path. */
  readonly path: string;
  readonly #o: UnixServerTransportOptions;
  #server: Server | undefined;
  #ino: number | undefined;

  constructor(options: UnixServerTransportOptions) {
    this.#o = options;
    this.path = socketPathFor(options.socketDir, options.eventName);
  }

  address(): string {
    return this.path;
  }

  async listen(onConnection: (stream: TransportStream) => void, settings: ListenSettings = {}): Promise<void> {
    const { socketDir, eventName } = this.#o;
    await this.#prepareDir(socketDir);
    await this.#clearPath(eventName);
    const server = createServer({ allowHalfOpen: true }, (socket: Socket) => onConnection(socket));
    try {
      await listenServer(server, { path: this.path, ...(settings.backlog !== undefined ? { backlog: settings.backlog } : {}) });
    } catch (err) {
      if (errno(err) === 'EADDRINUSE') {
        throw new ConnectionError(ErrorCode.ADDRESS_IN_USE, `another server took ${this.path} for event "${eventName}" while this one was starting: stop it first`, { cause: err });
      }
      throw mapConnectError(err, eventName, this.path);
    }
    this.#server = server;
    await chmod(this.path, this.#o.mode);
    this.#ino = (await lstat(this.path)).ino;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    if (this.#o.autoRemoveSocket) {
      const closing = closeServer(server);
      await this.#removeOwnSocket();
      await closing;
      return;
    }
    // libuv unlinks a pipe's path when the server closes; keep the file by
    // holding a second hard link across the close and putting it back.
    const keep = `${this.path}.${process.pid}.keep`;
    await link(this.path, keep);
    await closeServer(server);
    await rename(keep, this.path);
  }

  async #removeOwnSocket(): Promise<void> {
    try {
      const st = await lstat(this.path);
      // Remove only the file we created: a newer server may own the path now.
      if (st.isSocket() && st.ino === this.#ino) await unlink(this.path);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
  }

  async #prepareDir(dir: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new ValidationError(ErrorCode.INVALID_CONFIG, `cannot create socket directory ${dir}: ${(err as Error).message}; choose a writable socketDir`, { cause: err, details: { path: dir } });
    }
    const st = await stat(dir);
    if (!st.isDirectory()) {
      throw new ValidationError(ErrorCode.INVALID_CONFIG, `socketDir ${dir} is not a directory: choose a directory for socket files`, { details: { path: dir } });
    }
    try {
      await access(dir, constants.W_OK | constants.X_OK);
    } catch (err) {
      throw new ConnectionError(ErrorCode.PERMISSION_DENIED, `socket directory ${dir} is not writable by this user: choose another socketDir or fix its permissions`, { cause: err, details: { path: dir } });
    }
    if (this.#o.allowInsecureDir !== true && typeof process.getuid === 'function') {
      const uid = process.getuid();
      if (st.uid !== uid || (st.mode & 0o022) !== 0) {
        const why = st.uid !== uid ? `owned by uid ${st.uid}, not ${uid}` : `mode ${(st.mode & 0o777).toString(8)} lets group/others write`;
        throw new ConnectionError(
          ErrorCode.INSECURE_SOCKET_DIR,
          `socket directory ${dir} is ${why}: another user could replace the socket; use a private directory (mode 0700) or set allowInsecureDir: true`,
          { details: { path: dir, uid: st.uid, mode: st.mode & 0o777 } },
        );
      }
    }
  }

  async #clearPath(eventName: string): Promise<void> {
    let st;
    try {
      st = await lstat(this.path);
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    if (st.isSymbolicLink()) {
      throw new ConnectionError(ErrorCode.ADDRESS_IN_USE, `${this.path} is a symbolic link, not a socket: refusing to follow or delete it; remove it yourself if it is safe`, { details: { path: this.path } });
    }
    if (!st.isSocket()) {
      throw new ConnectionError(ErrorCode.ADDRESS_IN_USE, `${this.path} exists and is not a socket: refusing to delete it; move it away or choose another socketDir`, { details: { path: this.path } });
    }
    if (await isLive(this.path)) {
      throw new ConnectionError(ErrorCode.ADDRESS_IN_USE, `a server for event "${eventName}" is already running at ${this.path}: stop it first or use another socketDir`, { details: { path: this.path } });
    }
    await unlink(this.path).catch((err: unknown) => {
      if (errno(err) !== 'ENOENT') throw err;
    });
  }
}

/** Unix domain socket client transport. */
export class UnixClientTransport implements ClientTransport {
  readonly kind = 'unix';
  /** Full socket path. */
  readonly path: string;
  readonly #eventName: string;

  constructor(socketDir: string, eventName: string) {
    this.path = socketPathFor(socketDir, eventName);
    this.#eventName = eventName;
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
