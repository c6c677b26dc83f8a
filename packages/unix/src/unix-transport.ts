import {
  chmodSync,
  closeSync,
  constants,
  linkSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmdirSync,
  type Stats,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { basename, join } from 'node:path';
import type { ClientTransport, ListenSettings, ServerTransport, TransportStream } from '@socketkit/core';
import { abortableDelay } from '@socketkit/core/internal';
import {
  awaitConnect,
  closeServer,
  fileTrustProblem,
  fstatClean,
  insecureError,
  lstatClean,
  openServerSocketDir,
  openSocketDir,
  sameFile,
  type PinnedDir,
  listenServer,
  mapConnectError,
  prepareSocketDir,
  slabReadOption,
  type SocketDirTrust,
} from '@socketkit/core/net';
import { ConnectionError, ErrorCode, SocketError, ValidationError, validateEventName } from '@socketkit/protocol';

/**
 * node:crypto, loaded on first use: its ~20 internal modules would add milliseconds to every process's start-up
 * (issue 28), and only a server's start needs them.
 */
const crypto = () => process.getBuiltinModule('node:crypto');

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
      `socket path ${path} is ${bytes} bytes, above the OS limit of ${MAX_SOCKET_PATH_BYTES}: use a shorter ` +
        `socketDir or event name`,
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

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Probes a socket file: true if a live server accepts on it. A server whose
 * backlog is full (stuck, not accepting) answers EAGAIN: it is alive, and
 * that is reported as `ADDRESS_IN_USE`, never as a raw EAGAIN.
 */
function isLive(entry: string, path: string, eventName: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path: entry });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    // on, not once: a runtime that emits a second error (Bun) must find a listener.
    s.on('error', (err) => {
      s.destroy();
      const code = errno(err);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve(false);
      else if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
        reject(
          new ConnectionError(
            ErrorCode.ADDRESS_IN_USE,
            `a server for event "${eventName}" is running at ${path} but not accepting connections (its backlog is ` +
              `full: stuck or overloaded): stop it first`,
            { cause: err, details: { path } },
          ),
        );
      } else reject(mapConnectError(err, eventName, path));
    });
  });
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Name of the file in the socket directory that holds the secret of the start lock's name. */
export const START_KEY_FILE = '.socketkit-start-key';

/**
 * The secret of the start lock's name: 32 random bytes in a 0600 file of the
 * checked socket directory, created once (atomically, by link()) and read
 * through the pinned directory without following a symlink. Undefined when
 * the file cannot be trusted (another owner, readable or writable by others)
 * or read (a server of another trusted user created it): then the start runs
 * without the lock, as on other platforms.
 */
function startKey(dir: PinnedDir): Buffer | undefined {
  const path = dir.entry(START_KEY_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if (errno(err) !== 'ENOENT') return undefined;
      const tmp = dir.entry(`${START_KEY_FILE}.${crypto().randomBytes(6).toString('hex')}`);
      try {
        writeFileSync(tmp, crypto().randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
        linkSync(tmp, path);
      } catch (e) {
        if (errno(e) !== 'EEXIST') return undefined;
      } finally {
        try {
          unlinkSync(tmp);
        } catch {
          // already gone
        }
      }
      continue;
    }
    try {
      const st = fstatClean(fd);
      if (!st.isFile() || fileTrustProblem(st, {}, true) !== undefined || (st.mode & 0o077) !== 0) return undefined;
      const key = readFileSync(fd);
      return key.length >= 32 ? key : undefined;
    } finally {
      closeSync(fd);
    }
  }
  return undefined;
}

/**
 * Runs `fn` while holding a per-path start lock, so that two servers
 * starting at once on a stale socket cannot both decide "stale", unlink and
 * take the path (one of them orphaned). On Linux the lock is a socket in the
 * abstract namespace, released by the kernel when the holder exits (a crash
 * never leaves a stale lock). Its name is derived from a secret only users
 * who can read the checked socket directory's 0600 key file know, so another
 * user cannot squat it and block the start. Elsewhere (or without a usable
 * key) there is no lock and the inode re-check before unlinking keeps the
 * race window small.
 */
async function withStartLock<T>(dir: PinnedDir, eventName: string, path: string, fn: () => Promise<T>): Promise<T> {
  if (process.platform !== 'linux') return fn();
  const key = startKey(dir);
  if (key === undefined) return fn();
  const digest = crypto()
    .createHash('sha256')
    .update(key)
    .update(`\0${dir.st.dev}:${dir.st.ino}/${eventName}`)
    .digest('hex');
  const name = `\0socketkit-start-${digest.slice(0, 40)}`;
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
          `another server for event "${eventName}" has been starting at ${path} for ${START_LOCK_WAIT_MS} ms: stop ` +
            `it first`,
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
 * Maps an error of opening a checked socket directory: typed errors pass,
 * a missing directory is `notFound()`, `EACCES` is `PERMISSION_DENIED`, any
 * other system error `INSECURE_SOCKET_DIR` (the path changed under us).
 */
function dirError(err: unknown, dir: string, notFound: () => SocketError): SocketError {
  if (err instanceof SocketError) return err;
  const code = errno(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') return notFound();
  if (code === 'EACCES' || code === 'EPERM') {
    return new ConnectionError(
      ErrorCode.PERMISSION_DENIED,
      `cannot open the socket directory ${dir} (${code}): run as its owner or fix its permissions`,
      {
        cause: err,
        details: { path: dir },
      },
    );
  }
  return new ConnectionError(
    ErrorCode.INSECURE_SOCKET_DIR,
    `the socket directory ${dir} cannot be checked (${code ?? (err as Error).message}): ` +
      'use a private socketDir (mode 0700) whose path only you and root control',
    { cause: err, details: { path: dir } },
  );
}

/**
 * Unix domain socket server transport: owns the socket file's lifecycle —
 * directory creation (0700) and checks of its whole path, stale-file
 * recovery, never stealing a live server's socket, never deleting a
 * non-socket or following a symlink, file permissions, removal on close.
 *
 * The socket is bound inside a fresh private directory (mkdtemp, 0700) of
 * the checked socket directory and given its mode there, through that open
 * directory: nobody else can reach or replace it, so no permission change
 * can be redirected through a symlink and clients never see a socket with
 * the wrong mode. Only then is it given its real name with link() (through
 * the open socket directory), which fails if the name exists: a server never
 * replaces a file it did not probe. It also keeps libuv (which unlinks the
 * bound name on close) away from the real path, so stop() removes only the
 * file this server bound (same device and inode), never a newer server's.
 */
export class UnixServerTransport implements ServerTransport {
  readonly kind = 'unix';
  /** Full socket path. */
  readonly path: string;
  readonly #o: UnixServerTransportOptions;
  readonly #name: string;
  #server: Server | undefined;
  #bound: { dev: number; ino: number } | undefined;

  constructor(options: UnixServerTransportOptions) {
    this.#o = options;
    this.path = socketPathFor(options.socketDir, options.eventName);
    this.#name = basename(this.path);
  }

  address(): string {
    return this.path;
  }

  async listen(onConnection: (stream: TransportStream) => void, settings: ListenSettings = {}): Promise<void> {
    const { socketDir, eventName } = this.#o;
    await prepareSocketDir(socketDir, this.#o);
    const changed = (): SocketError =>
      new ConnectionError(
        ErrorCode.INSECURE_SOCKET_DIR,
        `the socket directory ${socketDir} changed while the server for event "${eventName}" was starting: ` +
          'another process is removing or replacing it; use a private socketDir (mode 0700)',
        { details: { path: socketDir } },
      );
    const dir = openServerSocketDir(socketDir, this.#o);
    let privName: string | undefined;
    let priv: PinnedDir | undefined;
    let server: Server | undefined;
    let privSocket: string | undefined;
    try {
      privName = basename(mkdtempSync(dir.entry('.sk-')));
      const bindPath = join(dir.realPath, privName, 's');
      if (Buffer.byteLength(bindPath) > MAX_SOCKET_PATH_BYTES) {
        throw new ValidationError(
          ErrorCode.INVALID_CONFIG,
          `socketDir ${socketDir} is too long for socketkit's temporary socket name ` +
            `(${Buffer.byteLength(bindPath)} bytes, limit ${MAX_SOCKET_PATH_BYTES}): use a shorter socketDir`,
          { details: { path: bindPath } },
        );
      }
      priv = openSocketDir(join(dir.realPath, privName), this.#o);
      if (priv.st.uid !== process.getuid?.() || (priv.st.mode & 0o077) !== 0) throw changed();
      const s = createServer({ allowHalfOpen: true }, (socket: Socket) => onConnection(socket));
      try {
        await listenServer(
          s,
          { path: bindPath, ...(settings.backlog !== undefined ? { backlog: settings.backlog } : {}) },
          (err) => settings.onError?.(err),
        );
      } catch (err) {
        throw mapConnectError(err, eventName, bindPath);
      }
      server = s;
      // Inside a 0700 directory of our own, reached through its open descriptor: nobody can redirect this.
      privSocket = priv.entry('s');
      chmodSync(privSocket, this.#o.mode);
      const st = lstatClean(privSocket);
      if (!st.isSocket()) throw changed();
      const from = privSocket;
      await withStartLock(dir, eventName, this.path, () => this.#claim(dir, from, eventName));
      this.#bound = { dev: st.dev, ino: st.ino };
    } catch (err) {
      if (server !== undefined) await closeServer(server);
      throw err instanceof SocketError ? err : dirError(err, socketDir, changed);
    } finally {
      if (privSocket !== undefined) rmQuiet(() => unlinkSync(privSocket as string));
      if (privName !== undefined) rmQuiet(() => rmdirSync(dir.entry(privName as string)));
      priv?.close();
      dir.close();
    }
    this.#server = server;
  }

  /** Gives the bound socket its real name; clears a stale socket there first. */
  async #claim(dir: PinnedDir, from: string, eventName: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(from, dir.entry(this.#name));
        return;
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw mapConnectError(err, eventName, this.path);
      }
      await this.#clearStale(dir, eventName);
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
    if (this.#o.autoRemoveSocket) this.#removeOwnSocket();
    await closing;
  }

  /**
   * Removes the socket this server bound, through the checked socket directory; nothing when the directory is gone or
   * no longer trusted.
   */
  #removeOwnSocket(): void {
    let dir: PinnedDir;
    try {
      dir = openSocketDir(this.#o.socketDir, this.#o);
    } catch {
      return;
    }
    try {
      const entry = dir.entry(this.#name);
      const st = lstatClean(entry);
      // Remove only the file we bound: a newer server may own the path now.
      if (st.isSocket() && st.ino === this.#bound?.ino && st.dev === this.#bound.dev) unlinkSync(entry);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    } finally {
      dir.close();
    }
  }

  async #clearStale(dir: PinnedDir, eventName: string): Promise<void> {
    const entry = dir.entry(this.#name);
    let st;
    try {
      st = lstatClean(entry);
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    if (st.isSymbolicLink()) {
      throw new ConnectionError(
        ErrorCode.ADDRESS_IN_USE,
        `${this.path} is a symbolic link, not a socket: refusing to follow or delete it; remove it yourself if it is ` +
          `safe`,
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
    if (await isLive(entry, this.path, eventName)) {
      throw new ConnectionError(
        ErrorCode.ADDRESS_IN_USE,
        `a server for event "${eventName}" is already running at ${this.path}: stop it first or use another socketDir`,
        { details: { path: this.path } },
      );
    }
    // Unlink only the file that was probed.
    let again: Stats | undefined;
    try {
      again = lstatClean(entry);
    } catch {
      again = undefined;
    }
    if (again === undefined || !sameFile(again, st)) return;
    rmQuiet(() => unlinkSync(entry));
  }
}

/** Runs a removal; a file already gone is fine. */
function rmQuiet(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
}

/**
 * Unix domain socket client transport. Before every connect it checks the
 * whole path of the socket directory and the socket file the way the server
 * does (trusted owners, no group/other write, no symlink another user
 * controls), then connects through the directory it opened and checked. A
 * socket missing from the directory is never connected to (another user
 * could link theirs in between), and after connecting, before the stream is
 * handed on (so before any byte is written), the name must still be the
 * very socket file that was checked. A socket planted by another user never
 * receives this client's data or token.
 */
export class UnixClientTransport implements ClientTransport {
  readonly kind = 'unix';
  /** Full socket path. */
  readonly path: string;
  readonly #eventName: string;
  readonly #trust: SocketDirTrust;
  readonly #dir: string;

  constructor(socketDir: string, eventName: string, trust: SocketDirTrust = {}) {
    this.path = socketPathFor(socketDir, eventName);
    this.#dir = socketDir;
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
   * @throws ConnectionError `INSECURE_SOCKET_DIR` (the directory, its path
   *   or the socket file cannot be trusted, or the file changed while
   *   connecting), `SOCKET_NOT_FOUND`, `SERVER_NOT_RUNNING`, ...
   */
  async connect(signal: AbortSignal): Promise<TransportStream> {
    if (process.platform === 'win32' || this.#trust.allowInsecureDir === true || process.getuid === undefined)
      return this.#connect(this.path, signal);
    const notFound = (): SocketError =>
      mapConnectError(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }), this.#eventName, this.path);
    let dir: PinnedDir;
    try {
      dir = openSocketDir(this.#dir, this.#trust);
    } catch (err) {
      throw dirError(err, this.#dir, notFound);
    }
    try {
      const entry = dir.entry(basename(this.path));
      let st: Stats;
      try {
        st = lstatClean(entry);
      } catch (err) {
        // Missing: never connect (another user could link a socket in between).
        throw mapConnectError(err, this.#eventName, this.path);
      }
      const why = fileTrustProblem(st, this.#trust);
      if (why !== undefined) throw insecureError('socket file', this.path, why, st);
      const socket = await this.#connect(entry, signal);
      let now: Stats | undefined;
      try {
        now = lstatClean(entry);
      } catch {
        now = undefined;
      }
      if (now === undefined || !sameFile(now, st)) {
        // Not the socket that was checked: nothing was written; say whether it looks like a restart or a swap.
        socket.destroy();
        if (now === undefined || (now.isSocket() && fileTrustProblem(now, this.#trust) === undefined)) {
          throw new ConnectionError(
            ErrorCode.CONNECTION_LOST,
            `the server for event "${this.#eventName}" at ${this.path} stopped or restarted while this client was ` +
              `connecting: retry`,
            { details: { eventName: this.#eventName, address: this.path } },
          );
        }
        throw insecureError(
          'socket file',
          this.path,
          'replaced while connecting (another process is changing the socket directory)',
          now,
        );
      }
      return socket;
    } finally {
      dir.close();
    }
  }

  async #connect(path: string, signal: AbortSignal): Promise<Socket> {
    for (let delay = EAGAIN_FIRST_DELAY_MS; ; delay = Math.min(delay * 2, EAGAIN_MAX_DELAY_MS)) {
      try {
        return await awaitConnect(createConnection({ path, allowHalfOpen: false, ...slabReadOption() }), signal);
      } catch (err) {
        if (errno(err) !== 'EAGAIN' || signal.aborted) throw mapConnectError(err, this.#eventName, this.path);
      }
      await abortableDelay(delay, signal);
    }
  }
}
