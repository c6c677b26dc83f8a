import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { ClientTransport, ListenSettings, ServerTransport, SocketLogger, TransportStream } from '@socketkit/core';
import {
  awaitConnect,
  closeServer,
  listenServer,
  mapConnectError,
  slabReadOption,
  type SocketDirTrust,
} from '@socketkit/core/net';
import { ConnectionError, ErrorCode, type SocketError, ValidationError } from '@socketkit/protocol';
import { addressFilePath, readAddressFile, writeAddressFile } from './address-file.js';
import { loopbackServerUid } from './loopback-owner.js';

/**
 * node:tls, loaded on first use: it and the node:crypto it pulls in are ~30 internal modules, milliseconds of
 * every process's start-up (issue 28), and only a TLS server or client needs them.
 */
const tls = () => process.getBuiltinModule('node:tls');

/**
 * TLS settings (`node:tls`). Each of `cert`, `key` and `ca` is PEM text or a
 * path to a PEM file. Verification is on by default: a client checks the
 * server's certificate against `ca` (or the system CAs) and its host name.
 */
export interface TcpTlsOptions {
  /** Certificate chain (PEM text or file path). Required on the server; on a client, for mutual TLS. */
  cert?: string | Buffer;
  /** Private key (PEM text or file path). Required with `cert`. */
  key?: string | Buffer;
  /** Passphrase of `key`. */
  passphrase?: string;
  /** Trusted CA certificate(s) (PEM text or file paths); default: the system CAs. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Server: ask every client for a certificate signed by `ca` and refuse those without (mutual TLS, default false). */
  requestCert?: boolean;
  /**
   * Verify the peer's certificate (default true). Turning it off removes the protection against a man-in-the-middle.
   */
  rejectUnauthorized?: boolean;
  /** Client: the name the server's certificate must carry (default: `host`). */
  servername?: string;
  /** Lowest TLS version accepted (default `TLSv1.2`). */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** Options of {@link TcpServerTransport}. */
export interface TcpServerTransportOptions {
  eventName: string;
  host: string;
  /** Explicit port; when absent, the previous port of this event (address file) or the first free port of the range. */
  port?: number;
  portRangeStart: number;
  portRangeEnd: number;
  /** Directory of the address file `{event}.tcp` (used without an explicit port). */
  socketDir?: string;
  /** Trust settings for the socket directory (as for Unix sockets). */
  trust?: SocketDirTrust;
  /** Serve TLS. */
  tls?: TcpTlsOptions;
  /** The engine authenticates peers with a token (protected mode accepts a non-loopback bind). */
  authenticated?: boolean;
  /** Bind a non-loopback address with neither token nor TLS (default false: INSECURE_BIND). */
  allowInsecure?: boolean;
  logger?: SocketLogger;
}

/**
 * Longest a TLS handshake may take before the server drops the peer (ms), when the engine does not say (it passes its
 * `authTimeout`).
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

function formatAddress(host: string, port: number | undefined): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

/** True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

function pem(value: string | Buffer, key: string): string | Buffer {
  if (Buffer.isBuffer(value) || value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value);
  } catch (err) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `tls.${key}: cannot read ${value} (${(err as Error).message}): pass PEM text or a readable file path`,
      {
        cause: err,
        details: { key, path: value },
      },
    );
  }
}

/** Turns {@link TcpTlsOptions} (PEM text or paths) into `node:tls` secure-context options. */
export function tlsContext(o: TcpTlsOptions): SecureContextOptions {
  const out: SecureContextOptions = { minVersion: o.minVersion ?? 'TLSv1.2' };
  if (o.cert !== undefined) out.cert = pem(o.cert, 'cert');
  if (o.key !== undefined) out.key = pem(o.key, 'key');
  if (o.passphrase !== undefined) out.passphrase = o.passphrase;
  if (o.ca !== undefined) out.ca = (Array.isArray(o.ca) ? o.ca : [o.ca]).map((c) => pem(c, 'ca'));
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      'tls.cert and tls.key go together: pass both (PEM text or file paths)',
    );
  }
  return out;
}

/**
 * TCP server transport: binds `host` (default 127.0.0.1) on an explicit port
 * or, without one, on the port this event had before (published in
 * `{socketDir}/{event}.tcp`) or else the first free port of
 * `portRangeStart..portRangeEnd`, and publishes it there. A restarted server
 * takes its previous port or fails with `ADDRESS_IN_USE`: it never moves to
 * a port its clients do not know. Optionally TLS.
 */
export class TcpServerTransport implements ServerTransport {
  readonly kind = 'tcp';
  readonly #o: TcpServerTransportOptions;
  readonly #tls: SecureContextOptions | undefined;
  #server: Server | undefined;
  #port: number | undefined;

  constructor(options: TcpServerTransportOptions) {
    if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port <= 65535)) {
      throw new ValidationError(
        ErrorCode.INVALID_CONFIG,
        `port ${options.port} is invalid: use an integer 0-65535 (0 lets the OS choose)`,
      );
    }
    this.#o = options;
    if (options.tls !== undefined) {
      this.#tls = tlsContext(options.tls);
      if (this.#tls.cert === undefined)
        throw new ValidationError(
          ErrorCode.INVALID_CONFIG,
          `a TLS server for event "${options.eventName}" needs tls.cert and tls.key (PEM text or file paths)`,
        );
    }
  }

  /** The bound port (after `listen`), or the explicit one. */
  get port(): number | undefined {
    return this.#port ?? this.#o.port;
  }

  /** The address file this server publishes (no explicit port), if any. */
  get addressFile(): string | undefined {
    return this.#o.port === undefined && this.#o.socketDir !== undefined
      ? addressFilePath(this.#o.socketDir, this.#o.eventName)
      : undefined;
  }

  address(): string {
    return formatAddress(this.#o.host, this.port);
  }

  #protectedMode(): void {
    const { host, eventName } = this.#o;
    if (isLoopbackHost(host) || this.#tls !== undefined || this.#o.authenticated === true) return;
    if (this.#o.allowInsecure !== true) {
      throw new ConnectionError(
        ErrorCode.INSECURE_BIND,
        `server "${eventName}" would bind ${host || '*'} (reachable from other hosts) with ` +
          'neither a token nor TLS: anyone who reaches it could read and send its messages; set ' +
          'token (16+ bytes) and/or tls, bind 127.0.0.1, or set allowInsecure: true',
        { details: { host } },
      );
    }
    this.#o.logger?.warn(
      `server "${eventName}" binds ${host || '*'} without token or TLS (allowInsecure): any host that can reach this ` +
        `machine may connect`,
    );
  }

  async listen(onConnection: (stream: TransportStream) => void, settings: ListenSettings = {}): Promise<void> {
    this.#protectedMode();
    const { host, port, portRangeStart, portRangeEnd, eventName, socketDir } = this.#o;
    const file = this.addressFile;
    let previous = this.#port;
    if (previous === undefined && file !== undefined)
      previous = (await readAddressFile(socketDir as string, eventName, this.#o.trust))?.port;
    const candidates =
      previous !== undefined
        ? [previous]
        : port !== undefined
          ? [port]
          : Array.from({ length: portRangeEnd - portRangeStart + 1 }, (_, i) => portRangeStart + i);
    for (const p of candidates) {
      const server = this.#createServer(onConnection, settings);
      try {
        await listenServer(
          server,
          {
            host,
            port: p,
            exclusive: true,
            ...(settings.backlog !== undefined ? { backlog: settings.backlog } : {}),
          },
          (err) => settings.onError?.(err),
        );
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' && p !== previous && port === undefined) continue;
        if (code === 'EADDRINUSE') {
          const why =
            p === previous
              ? `, the port this server had before${file !== undefined ? ` (${file})` : ''}: a server for ` +
                `"${eventName}" may still be running (stop it), or another program took the port ` +
                `(${file !== undefined ? `delete ${file} to pick a new port` : 'restart on another port'})`
              : ` (event "${eventName}"): stop the other server or choose another port`;
          throw new ConnectionError(ErrorCode.ADDRESS_IN_USE, `port ${p} on ${host} is already in use${why}`, {
            cause: err,
            details: { host, port: p },
          });
        }
        if (code === 'EACCES') {
          throw new ConnectionError(
            ErrorCode.PERMISSION_DENIED,
            `not allowed to bind ${formatAddress(host, p)} for event "${eventName}": use a port above 1023`,
            { cause: err },
          );
        }
        throw mapConnectError(err, eventName, formatAddress(host, p));
      }
      const addr = server.address();
      const bound = typeof addr === 'object' && addr !== null ? addr.port : p;
      if (file !== undefined) {
        try {
          await writeAddressFile(
            socketDir as string,
            {
              event: eventName,
              host,
              port: bound,
              pid: process.pid,
              tls: this.#tls !== undefined,
              started_ms: Date.now(),
            },
            this.#o.trust,
          );
        } catch (err) {
          await closeServer(server);
          throw err;
        }
      }
      this.#server = server;
      this.#port = bound;
      return;
    }
    throw new ConnectionError(
      ErrorCode.PORT_RANGE_EXHAUSTED,
      `no free port in ${portRangeStart}-${portRangeEnd} on ${host} for event "${eventName}": ` +
        'stop unused servers, widen SOCKET_TCP_PORT_RANGE_START/END, or pass an explicit port',
      { details: { host, portRangeStart, portRangeEnd } },
    );
  }

  #createServer(onConnection: (stream: TransportStream) => void, settings: ListenSettings): Server {
    if (this.#tls === undefined)
      return createServer({ allowHalfOpen: true, noDelay: true }, (socket: Socket) => onConnection(socket));
    const requestCert = this.#o.tls?.requestCert ?? false;
    // Sockets between accept and secureConnection, by both ends' address and
    // port (unique among live sockets; the remote end alone is not: a server
    // bound to 0.0.0.0 has several local addresses, and one source port may
    // reach each of them): the engine counts them under its pre-admission
    // bound (maxUnauthenticated) and may evict them, so a flood of
    // connections that never send a ClientHello cannot take every descriptor.
    const handshaking = new Map<string, () => void>();
    const keyOf = (s: Socket): string =>
      `${s.remoteAddress ?? ''}|${s.remotePort ?? ''}|${s.localAddress ?? ''}|${s.localPort ?? ''}`;
    const handshakeTimeout =
      settings.handshakeTimeoutMs !== undefined && Number.isFinite(settings.handshakeTimeoutMs)
        ? settings.handshakeTimeoutMs
        : TLS_HANDSHAKE_TIMEOUT_MS;
    // Not half-open: a peer that hangs up mid-handshake would otherwise keep
    // its socket (and stop()) open, as no secureConnection ever hands it over.
    const server = tls().createServer(
      {
        ...this.#tls,
        allowHalfOpen: false,
        noDelay: true,
        handshakeTimeout,
        requestCert,
        rejectUnauthorized: requestCert ? (this.#o.tls?.rejectUnauthorized ?? true) : false,
      },
      (socket: TLSSocket) => {
        const key = keyOf(socket);
        const done = handshaking.get(key);
        handshaking.delete(key);
        done?.();
        onConnection(socket);
      },
    );
    const admit = settings.admitHandshake;
    if (admit !== undefined) {
      // Runs after node:tls's own 'connection' listener (which wraps the socket): destroying the raw socket ends both.
      server.on('connection', (raw: Socket) => {
        const key = keyOf(raw);
        const address = raw.remoteAddress !== undefined ? formatAddress(raw.remoteAddress, raw.remotePort) : undefined;
        const done = admit({ address, destroy: () => raw.destroy() });
        if (done === undefined) return;
        handshaking.set(key, done);
        raw.once('close', () => {
          if (handshaking.get(key) === done) handshaking.delete(key);
          done();
        });
      });
    }
    // A failed handshake (no or a bad client certificate, plain TCP) ends that socket only.
    server.on('tlsClientError', (err, socket) => {
      socket.destroy();
      this.#o.logger?.debug(`TLS handshake with a client of "${this.#o.eventName}" failed: ${err.message}`);
    });
    return server;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    // The address file stays: a restart finds its port there.
    if (server !== undefined) await closeServer(server);
  }
}

/** Options of {@link TcpClientTransport}. */
export interface TcpClientTransportOptions {
  host: string;
  /** Server port; when absent the address file `{socketDir}/{event}.tcp` is read at each connect (same host only). */
  port?: number;
  eventName: string;
  socketDir?: string;
  trust?: SocketDirTrust;
  tls?: TcpTlsOptions;
}

/** TCP client transport (TCP_NODELAY on, optionally TLS). */
export class TcpClientTransport implements ClientTransport {
  readonly kind = 'tcp';
  readonly #o: TcpClientTransportOptions;
  readonly #tls: SecureContextOptions | undefined;
  #lastPort: number | undefined;

  /** `(host, port, eventName)` is the short form for an explicit port without TLS. */
  constructor(options: TcpClientTransportOptions);
  constructor(host: string, port: number, eventName: string);
  constructor(optionsOrHost: TcpClientTransportOptions | string, portArg?: number, eventArg?: string) {
    const options: TcpClientTransportOptions =
      typeof optionsOrHost === 'string'
        ? { host: optionsOrHost, port: portArg as number, eventName: eventArg as string }
        : optionsOrHost;
    const { port, host, eventName } = options;
    if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new ValidationError(
        ErrorCode.INVALID_CONFIG,
        `port ${port} is invalid: use the server's port (server.port), an integer 1-65535`,
      );
    }
    if (port === undefined && (!isLoopbackHost(host) || options.socketDir === undefined)) {
      throw new ValidationError(
        ErrorCode.INVALID_CONFIG,
        `no port for event "${eventName}" on ${host}: pass port (the server's port, server.port); ` +
          "only a client on the server's own host (host 127.0.0.1) can find it without one, in " +
          `{socketDir}/${eventName}.tcp`,
        { details: { host, eventName } },
      );
    }
    this.#o = options;
    this.#tls = options.tls !== undefined ? tlsContext(options.tls) : undefined;
  }

  address(): string {
    const port = this.#o.port ?? this.#lastPort;
    if (port !== undefined) return formatAddress(this.#o.host, port);
    return (
      `${formatAddress(this.#o.host, undefined)}:<port from ` +
      `${addressFilePath(this.#o.socketDir as string, this.#o.eventName)}>`
    );
  }

  async #resolvePort(): Promise<number> {
    if (this.#o.port !== undefined) return this.#o.port;
    const { socketDir, eventName } = this.#o;
    const rec = await readAddressFile(socketDir as string, eventName, this.#o.trust);
    if (rec === undefined) {
      throw new ConnectionError(
        ErrorCode.SOCKET_NOT_FOUND,
        `no TCP server for event "${eventName}" published its address ` +
          `in ${addressFilePath(socketDir as string, eventName)}: start the server (without an ` +
          'explicit port) on this host with the same socketDir, or pass port',
        { details: { eventName, socketDir } },
      );
    }
    this.#lastPort = rec.port;
    return rec.port;
  }

  /** Destroys `socket` and throws `INSECURE_SOCKET_DIR` when another user listens on the port of the address file. */
  #checkListener(socket: Socket, port: number): void {
    const uid = loopbackServerUid(socket);
    if (uid === undefined || trustedUid(uid, this.#o.trust)) return;
    socket.destroy();
    const path = addressFilePath(this.#o.socketDir as string, this.#o.eventName);
    throw new ConnectionError(
      ErrorCode.INSECURE_SOCKET_DIR,
      `port ${port} from the address file ${path} is held by uid ${uid} (not you, uid ${process.getuid?.()}, nor ` +
        `root): ` +
        'the server stopped and another user took its port, or the file is stale; start the server again, or list ' +
        'its owner in trustedUids',
      { details: { path, port, uid } },
    );
  }

  /**
   * Connects. With the port read from the address file (same host, loopback)
   * and no TLS, the owner of the server's end of the connection is checked
   * in /proc/net/tcp before the stream is handed on (so before any byte is
   * written): a port another user took (the server stopped, or a stale
   * file) gets `INSECURE_SOCKET_DIR`, never the client's data.
   */
  async connect(signal: AbortSignal): Promise<TransportStream> {
    const port = await this.#resolvePort();
    const host = this.#o.host;
    try {
      if (this.#tls === undefined) {
        const socket = await awaitConnect(
          createConnection({ host, port, allowHalfOpen: false, noDelay: true, ...slabReadOption() }),
          signal,
        );
        if (this.#o.port === undefined) this.#checkListener(socket, port);
        return socket;
      }
      const servername = this.#o.tls?.servername ?? (isIP(host) === 0 ? host : undefined);
      const socket = tls().connect({
        ...this.#tls,
        host,
        port,
        rejectUnauthorized: this.#o.tls?.rejectUnauthorized ?? true,
        ...(servername !== undefined ? { servername } : {}),
      });
      return await awaitConnect(socket, signal, 'secureConnect');
    } catch (err) {
      throw mapTlsError(err, this.#o.eventName, formatAddress(host, port));
    }
  }
}

/** Whether `uid` may own the listener a client found through the address file (you, root, trustedUids). */
function trustedUid(uid: number, trust: SocketDirTrust | undefined): boolean {
  const self = process.getuid?.();
  return (
    self === undefined ||
    trust?.allowInsecureDir === true ||
    uid === self ||
    uid === 0 ||
    (trust?.trustedUids ?? []).includes(uid)
  );
}

/** TLS verification failures become `UNAUTHORIZED` saying what to pass; the rest as for plain TCP. */
function mapTlsError(err: unknown, eventName: string, address: string): SocketError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_|ERR_SSL_/.test(code)) {
    return new ConnectionError(
      ErrorCode.UNAUTHORIZED,
      `TLS with the server for event "${eventName}" at ${address} failed ` +
        `(${code}: ${(err as Error).message}): pass the CA that signed its certificate in tls.ca, ` +
        'check that the certificate names this host (or set tls.servername), and for mutual TLS ' +
        'pass tls.cert and tls.key',
      { cause: err, details: { eventName, address, tlsCode: code } },
    );
  }
  return mapConnectError(err, eventName, address);
}
