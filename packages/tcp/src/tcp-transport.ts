import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { awaitConnect, closeServer, listenServer, mapConnectError, type ClientTransport, type ListenSettings, type ServerTransport, type SocketLogger, type TransportStream } from '@socketkit/core';
import { ConnectionError, ErrorCode, ValidationError } from '@socketkit/protocol';

/** Options of {@link TcpServerTransport}. */
export interface TcpServerTransportOptions {
  eventName: string;
  host: string;
  /** Explicit port; when absent, the first free port of the range is used. */
  port?: number;
  portRangeStart: number;
  portRangeEnd: number;
  logger?: SocketLogger;
}

const ALL_INTERFACES = new Set(['0.0.0.0', '::', '']);

function formatAddress(host: string, port: number | undefined): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

/**
 * TCP server transport: binds `host` (default 127.0.0.1) on an explicit port
 * or the first free port of `portRangeStart..portRangeEnd`.
 */
export class TcpServerTransport implements ServerTransport {
  readonly kind = 'tcp';
  readonly #o: TcpServerTransportOptions;
  #server: Server | undefined;
  #port: number | undefined;

  constructor(options: TcpServerTransportOptions) {
    if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port <= 65535)) {
      throw new ValidationError(ErrorCode.INVALID_CONFIG, `port ${options.port} is invalid: use an integer 0-65535 (0 lets the OS choose)`);
    }
    this.#o = options;
  }

  /** The bound port (after `listen`), or the explicit one. */
  get port(): number | undefined {
    return this.#port ?? this.#o.port;
  }

  address(): string {
    return formatAddress(this.#o.host, this.port);
  }

  async listen(onConnection: (stream: TransportStream) => void, settings: ListenSettings = {}): Promise<void> {
    const { host, port, portRangeStart, portRangeEnd, eventName } = this.#o;
    if (ALL_INTERFACES.has(host)) {
      this.#o.logger?.warn(`server "${eventName}" binds all interfaces (${host || '*'}): any host that can reach this machine may connect; set a token or bind 127.0.0.1`);
    }
    const range = port !== undefined ? [port] : Array.from({ length: portRangeEnd - portRangeStart + 1 }, (_, i) => portRangeStart + i);
    // A restarted server takes its previous port again when it can, so its clients reconnect to it.
    const previous = this.#port;
    const candidates = previous !== undefined && previous !== port ? [previous, ...range] : range;
    for (const p of candidates) {
      const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket: Socket) => onConnection(socket));
      try {
        await listenServer(server, { host, port: p, exclusive: true, ...(settings.backlog !== undefined ? { backlog: settings.backlog } : {}) });
        this.#server = server;
        const addr = server.address();
        this.#port = typeof addr === 'object' && addr !== null ? addr.port : p;
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' && (port === undefined || p === previous)) continue;
        if (code === 'EADDRINUSE') {
          throw new ConnectionError(ErrorCode.ADDRESS_IN_USE, `port ${p} on ${host} is already in use (event "${eventName}"): stop the other server or choose another port`, { cause: err, details: { host, port: p } });
        }
        if (code === 'EACCES') {
          throw new ConnectionError(ErrorCode.PERMISSION_DENIED, `not allowed to bind ${formatAddress(host, p)} for event "${eventName}": use a port above 1023`, { cause: err });
        }
        throw mapConnectError(err, eventName, formatAddress(host, p));
      }
    }
    throw new ConnectionError(
      ErrorCode.PORT_RANGE_EXHAUSTED,
      `no free port in ${portRangeStart}-${portRangeEnd} on ${host} for event "${eventName}": stop unused servers, widen SOCKET_TCP_PORT_RANGE_START/END, or pass an explicit port`,
      { details: { host, portRangeStart, portRangeEnd } },
    );
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await closeServer(server);
  }
}

/** TCP client transport (TCP_NODELAY on). */
export class TcpClientTransport implements ClientTransport {
  readonly kind = 'tcp';
  readonly #host: string;
  readonly #port: number;
  readonly #eventName: string;

  constructor(host: string, port: number, eventName: string) {
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new ValidationError(ErrorCode.INVALID_CONFIG, `port ${port} is invalid: use the server's port (server.port), an integer 1-65535`);
    }
    this.#host = host;
    this.#port = port;
    this.#eventName = eventName;
  }

  address(): string {
    return formatAddress(this.#host, this.#port);
  }

  async connect(signal: AbortSignal): Promise<TransportStream> {
    try {
      const socket = await awaitConnect(createConnection({ host: this.#host, port: this.#port, allowHalfOpen: false, noDelay: true }), signal);
      return socket;
    } catch (err) {
      throw mapConnectError(err, this.#eventName, this.address());
    }
  }
}
