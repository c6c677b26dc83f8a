import { checkOptions, optionRule as r, parsePermissions, type OptionRulesFor } from '@socketkit/config';
import {
  SocketClient,
  SocketServer,
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
import { SOCKET_DIR_TRUST_RULES, socketDirTrust } from '@socketkit/core/net';
import type { MessageData } from '@socketkit/protocol';
import { UnixClientTransport, UnixServerTransport } from './unix-transport.js';

/** Options of {@link UnixSocketServer}: engine options plus the Unix specifics (socket directory, mode, trust). */
export interface UnixSocketServerOptions<TIn = MessageData, TOut = MessageData>
  extends Omit<SocketServerOptions<TIn, TOut>, 'transport' | keyof ServerConfigOptions | 'maxConnections'>,
    ServerConfigOptions {
  /** Directory of the socket file (default `/tmp/sockets`, env `SOCKET_DIR`). */
  socketDir?: string;
  /** Most clients at once (default 10, env `SOCKET_UNIX_MAX_CONNECTIONS`). */
  maxConnections?: number;
  /** Socket file mode as octal string (default `"0600"`). */
  socketPermissions?: string;
  /** Remove the socket file on stop (default true). */
  autoRemoveSocket?: boolean;
  /** Accept a socket directory owned by another user or writable by group/others (default false). */
  allowInsecureDir?: boolean;
  /** Users besides yourself and root trusted to own the socket directory. */
  trustedUids?: readonly number[];
  /** Groups trusted to write the socket directory (a group-writable directory is refused otherwise). */
  trustedGids?: readonly number[];
}

/** Options of {@link UnixSocketClient}. */
export interface UnixSocketClientOptions<T = MessageData>
  extends Omit<SocketClientOptions<T>, 'transport' | keyof ClientConfigOptions>,
    ClientConfigOptions {
  /** Directory of the socket file (default `/tmp/sockets`). */
  socketDir?: string;
  /**
   * Skip the checks of the socket directory and file before connecting
   * (default false): without them, whoever can write the directory can pose
   * as the server.
   */
  allowInsecureDir?: boolean;
  /**
   * Users besides yourself and root trusted to own the socket directory and file (e.g. a server run by another user).
   */
  trustedUids?: readonly number[];
  /** Groups trusted to write the socket directory. */
  trustedGids?: readonly number[];
}

/** Every option {@link UnixSocketServer} accepts, with its check (unknown keys and wrong types are refused). */
export const UNIX_SERVER_OPTION_RULES: OptionRulesFor<UnixSocketServerOptions> = Object.freeze({
  ...TRANSPORT_SERVER_RULES,
  ...SOCKET_DIR_TRUST_RULES,
  socketDir: r.string(),
  maxConnections: r.int(1),
  socketPermissions: r.string(),
  autoRemoveSocket: r.boolean(),
});

/** Every option {@link UnixSocketClient} accepts, with its check. */
export const UNIX_CLIENT_OPTION_RULES: OptionRulesFor<UnixSocketClientOptions> = Object.freeze({
  ...TRANSPORT_CLIENT_RULES,
  ...SOCKET_DIR_TRUST_RULES,
  socketDir: r.string(),
});

/**
 * A socketkit server on a Unix domain socket at `{socketDir}/{eventName}.sock`.
 *
 * @example
 * const server = new UnixSocketServer({ eventName: 'progress' });
 * await server.start();
 * server.send({ percent: 42 });
 */
export class UnixSocketServer<
  TIn extends Payload<TIn> = MessageData,
  TOut extends Payload<TOut> = MessageData,
> extends SocketServer<TIn, TOut> {
  /** Full socket path. */
  readonly socketPath: string;

  constructor(options: UnixSocketServerOptions<TIn, TOut>) {
    checkOptions(options, UNIX_SERVER_OPTION_RULES, 'UnixSocketServer');
    const config = resolveConfig(options, {
      socketDir: options.socketDir,
      unix: mergeDefined(
        {},
        {
          maxConnections: options.maxConnections,
          socketPermissions: options.socketPermissions,
          autoRemoveSocket: options.autoRemoveSocket,
        },
      ),
    });
    const transport = new UnixServerTransport({
      eventName: options.eventName,
      socketDir: config.socketDir,
      mode: parsePermissions(config.unix.socketPermissions),
      autoRemoveSocket: config.unix.autoRemoveSocket,
      ...socketDirTrust(options),
    });
    const mode = parsePermissions(config.unix.socketPermissions);
    // Stats go to monitors by default only when nobody but the owner can reach the socket.
    const exposeStats = options.exposeStats ?? (mode & 0o077) === 0;
    super({
      ...serverEngineOptions<TIn, TOut>(config, config.unix.maxConnections, options),
      exposeStats,
      eventName: options.eventName,
      transport,
    });
    this.socketPath = transport.path;
  }
}

/**
 * A socketkit client for a Unix domain socket server.
 *
 * @example
 * const client = new UnixSocketClient({ eventName: 'progress' });
 * await client.connect();
 * for await (const m of client) console.log(m.data);
 */
export class UnixSocketClient<T extends Payload<T> = MessageData> extends SocketClient<T> {
  /** Full socket path. */
  readonly socketPath: string;

  constructor(options: UnixSocketClientOptions<T>) {
    checkOptions(options, UNIX_CLIENT_OPTION_RULES, 'UnixSocketClient');
    const config = resolveConfig(options, { socketDir: options.socketDir });
    const transport = new UnixClientTransport(config.socketDir, options.eventName, socketDirTrust(options));
    super({ ...clientEngineOptions<T>(config, options), eventName: options.eventName, transport });
    this.socketPath = transport.path;
  }
}
