import {
  SocketClient,
  SocketServer,
  clientEngineOptions,
  createLogger,
  mergeDefined,
  resolveConfig,
  serverEngineOptions,
  type ClientConfigOptions,
  type ServerConfigOptions,
  type SocketClientOptions,
  type SocketServerOptions,
} from '@socketkit/core';
import { TcpClientTransport, TcpServerTransport } from './tcp-transport.js';

/** Options of {@link TcpSocketServer}: engine options plus the TCP specifics of §5/§7. */
export interface TcpSocketServerOptions extends Omit<SocketServerOptions, 'transport' | keyof ServerConfigOptions | 'maxConnections'>, ServerConfigOptions {
  /** Interface to bind (default `127.0.0.1`, env `SOCKET_TCP_HOST`). */
  host?: string;
  /** Explicit port (0 = OS-assigned); when absent the first free port of the range. */
  port?: number;
  /** First port of the auto-assign range (default 9000). */
  portRangeStart?: number;
  /** Last port of the auto-assign range (default 9100). */
  portRangeEnd?: number;
  /** Most clients at once (default 10, env `SOCKET_TCP_MAX_CONNECTIONS`). */
  maxConnections?: number;
}

/** Options of {@link TcpSocketClient}. */
export interface TcpSocketClientOptions extends Omit<SocketClientOptions, 'transport' | keyof ClientConfigOptions>, ClientConfigOptions {
  /** Server host (default `127.0.0.1`). */
  host?: string;
  /** Server port (default: `portRangeStart`, 9000). */
  port?: number;
}

/**
 * A socketkit server on TCP.
 *
 * @example
 * const server = new TcpSocketServer({ eventName: 'rpc', handler: (d) => ({ sum: d.a + d.b }) });
 * await server.start();
 * console.log(server.port);
 */
export class TcpSocketServer extends SocketServer {
  readonly #transport: TcpServerTransport;

  constructor(options: TcpSocketServerOptions) {
    const config = resolveConfig(options, {
      tcp: mergeDefined({}, { host: options.host, portRangeStart: options.portRangeStart, portRangeEnd: options.portRangeEnd, maxConnections: options.maxConnections }),
    });
    const logger = options.logger ?? createLogger(`socketkit:server:${options.eventName}`, config.logLevel);
    const transport = new TcpServerTransport({
      eventName: options.eventName,
      host: config.tcp.host,
      ...(options.port !== undefined ? { port: options.port } : {}),
      portRangeStart: config.tcp.portRangeStart,
      portRangeEnd: config.tcp.portRangeEnd,
      logger,
    });
    // Over TCP anyone who can reach the port could ask: stats are exposed by default only behind a token.
    const exposeStats = options.exposeStats ?? options.token !== undefined;
    super({ ...serverEngineOptions(config, config.tcp.maxConnections, options), exposeStats, eventName: options.eventName, transport, logger });
    this.#transport = transport;
  }

  /** The port in use (after `start()`), or the explicit one. */
  get port(): number | undefined {
    return this.#transport.port;
  }
}

/**
 * A socketkit client for a TCP server.
 *
 * @example
 * const client = new TcpSocketClient({ eventName: 'rpc', port: 9000 });
 * await client.connect();
 * const reply = await client.request({ a: 1, b: 2 });
 */
export class TcpSocketClient extends SocketClient {
  constructor(options: TcpSocketClientOptions) {
    const config = resolveConfig(options, { tcp: mergeDefined({}, { host: options.host }) });
    const transport = new TcpClientTransport(config.tcp.host, options.port ?? config.tcp.portRangeStart, options.eventName);
    super({ ...clientEngineOptions(config, options), eventName: options.eventName, transport });
  }
}
