import { checkOptions, optionRule as r, type OptionRulesFor } from '@socketkit/config';
import {
  SocketClient,
  SocketServer,
  createLogger,
  type Payload,
  type SocketClientOptions,
  type SocketServerOptions,
} from '@socketkit/core';
import {
  clientEngineOptions,
  mergeDefined,
  resolveConfig,
  serverEngineOptions,
  type ClientConfigOptions,
  type ServerConfigOptions,
  TRANSPORT_CLIENT_RULES,
  TRANSPORT_SERVER_RULES,
} from '@socketkit/core/internal';
import { SOCKET_DIR_TRUST_RULES, type SocketDirTrust, socketDirTrust } from '@socketkit/core/net';
import type { MessageData } from '@socketkit/protocol';
import { TcpClientTransport, TcpServerTransport, type TcpTlsOptions } from './tcp-transport.js';

/** Options of TCP servers and clients about the socket directory (address files) and TLS. */
export interface TcpSecurityOptions extends SocketDirTrust {
  /** Directory of the address file `{eventName}.tcp` (default `/tmp/sockets`, env `SOCKET_DIR`). */
  socketDir?: string;
  /** TLS (`node:tls`); PEM text or file paths. Verification is on by default. */
  tls?: TcpTlsOptions;
}

/** Options of {@link TcpSocketServer}: engine options plus the TCP specifics (host, port, TLS, address file). */
export interface TcpSocketServerOptions<TIn = MessageData, TOut = MessageData>
  extends Omit<SocketServerOptions<TIn, TOut>, 'transport' | keyof ServerConfigOptions | 'maxConnections'>,
    ServerConfigOptions,
    TcpSecurityOptions {
  /** Interface to bind (default `127.0.0.1`, env `SOCKET_TCP_HOST`). */
  host?: string;
  /**
   * Explicit port (0 = OS-assigned). When absent: the port this event had
   * before (from `{socketDir}/{eventName}.tcp`) or else the first free port of
   * the range, published in that file for clients on this host.
   */
  port?: number;
  /** Bind a non-loopback address with neither token nor TLS (default false: `INSECURE_BIND`). */
  allowInsecure?: boolean;
  /** First port of the auto-assign range (default 9000). */
  portRangeStart?: number;
  /** Last port of the auto-assign range (default 9100). */
  portRangeEnd?: number;
  /** Most clients at once (default 10, env `SOCKET_TCP_MAX_CONNECTIONS`). */
  maxConnections?: number;
}

/** Options of {@link TcpSocketClient}. */
export interface TcpSocketClientOptions<T = MessageData>
  extends Omit<SocketClientOptions<T>, 'transport' | keyof ClientConfigOptions>,
    ClientConfigOptions,
    TcpSecurityOptions {
  /** Server host (default `127.0.0.1`). */
  host?: string;
  /**
   * Server port. Required across hosts; on the server's host it may be
   * left out: the client reads it from `{socketDir}/{eventName}.tcp` at each connect.
   */
  port?: number;
}

const PEM = r.either(r.string(), r.object('a Buffer'));

/** Every key of {@link TcpTlsOptions} with its check. */
export const TCP_TLS_OPTION_RULES: OptionRulesFor<TcpTlsOptions> = Object.freeze({
  cert: PEM,
  key: { ...PEM, secret: true },
  passphrase: r.secret(),
  ca: r.either(r.string(), r.object('a Buffer or an array of them')),
  requestCert: r.boolean(),
  rejectUnauthorized: r.boolean(),
  servername: r.string(),
  minVersion: r.oneOf('TLSv1.2', 'TLSv1.3'),
});

const SECURITY_RULES: OptionRulesFor<TcpSecurityOptions> = {
  ...SOCKET_DIR_TRUST_RULES,
  socketDir: r.string(),
  tls: r.nested(TCP_TLS_OPTION_RULES),
};

/** Every option {@link TcpSocketServer} accepts, with its check (unknown keys and wrong types are refused). */
export const TCP_SERVER_OPTION_RULES: OptionRulesFor<TcpSocketServerOptions> = Object.freeze({
  ...TRANSPORT_SERVER_RULES,
  ...SECURITY_RULES,
  host: r.string(),
  port: r.port(0),
  allowInsecure: r.boolean(),
  portRangeStart: r.port(1),
  portRangeEnd: r.port(1),
  maxConnections: r.int(1),
});

/** Every option {@link TcpSocketClient} accepts, with its check. */
export const TCP_CLIENT_OPTION_RULES: OptionRulesFor<TcpSocketClientOptions> = Object.freeze({
  ...TRANSPORT_CLIENT_RULES,
  ...SECURITY_RULES,
  host: r.string(),
  port: r.port(1),
});

/**
 * A socketkit server on TCP.
 *
 * @example
 * const server = new TcpSocketServer({ eventName: 'rpc', handler: (d) => ({ sum: d.a + d.b }) });
 * await server.start();
 * console.log(server.port);
 */
export class TcpSocketServer<
  TIn extends Payload<TIn> = MessageData,
  TOut extends Payload<TOut> = MessageData,
> extends SocketServer<TIn, TOut> {
  readonly #transport: TcpServerTransport;

  constructor(options: TcpSocketServerOptions<TIn, TOut>) {
    checkOptions(options, TCP_SERVER_OPTION_RULES, 'TcpSocketServer');
    const config = resolveConfig(options, {
      socketDir: options.socketDir,
      tcp: mergeDefined(
        {},
        {
          host: options.host,
          portRangeStart: options.portRangeStart,
          portRangeEnd: options.portRangeEnd,
          maxConnections: options.maxConnections,
        },
      ),
    });
    const logger = options.logger ?? createLogger(`socketkit:server:${options.eventName}`, config.logLevel);
    const transport = new TcpServerTransport({
      eventName: options.eventName,
      host: config.tcp.host,
      ...(options.port !== undefined ? { port: options.port } : {}),
      portRangeStart: config.tcp.portRangeStart,
      portRangeEnd: config.tcp.portRangeEnd,
      socketDir: config.socketDir,
      trust: socketDirTrust(options),
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
      authenticated: options.token !== undefined,
      allowInsecure: options.allowInsecure ?? false,
      logger,
    });
    // Over TCP anyone who can reach the port could ask: stats are exposed by default only behind a token.
    const exposeStats = options.exposeStats ?? options.token !== undefined;
    super({
      ...serverEngineOptions<TIn, TOut>(config, config.tcp.maxConnections, options),
      exposeStats,
      eventName: options.eventName,
      transport,
      logger,
    });
    this.#transport = transport;
  }

  /** The port in use (after `start()`), or the explicit one. */
  get port(): number | undefined {
    return this.#transport.port;
  }

  /**
   * The address file published for clients on this host (`{socketDir}/{eventName}.tcp`), when the port was not
   * explicit.
   */
  get addressFile(): string | undefined {
    return this.#transport.addressFile;
  }
}

/**
 * A socketkit client for a TCP server.
 *
 * @example
 * const client = new TcpSocketClient({ eventName: 'rpc' }); // same host: port from /tmp/sockets/rpc.tcp
 * await client.connect();
 * const reply = await client.request({ a: 1, b: 2 });
 */
export class TcpSocketClient<T extends Payload<T> = MessageData> extends SocketClient<T> {
  constructor(options: TcpSocketClientOptions<T>) {
    checkOptions(options, TCP_CLIENT_OPTION_RULES, 'TcpSocketClient');
    const config = resolveConfig(options, {
      socketDir: options.socketDir,
      tcp: mergeDefined({}, { host: options.host }),
    });
    const transport = new TcpClientTransport({
      host: config.tcp.host,
      ...(options.port !== undefined ? { port: options.port } : {}),
      eventName: options.eventName,
      socketDir: config.socketDir,
      trust: socketDirTrust(options),
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
    });
    super({ ...clientEngineOptions<T>(config, options), eventName: options.eventName, transport });
  }
}
