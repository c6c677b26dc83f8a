/** Unix-socket specific settings. */
export interface UnixConfig {
  /** Most clients connected at once (default 10). */
  maxConnections: number;
  /** Socket file mode as an octal string (default `"0600"`). */
  socketPermissions: string;
  /** Remove the socket file on stop (default true). */
  autoRemoveSocket: boolean;
}

/** TCP specific settings. */
export interface TcpConfig {
  /** Interface to bind / host to connect (default `127.0.0.1`). */
  host: string;
  /** First port tried when no explicit port is given (default 9000). */
  portRangeStart: number;
  /** Last port tried (default 9100). */
  portRangeEnd: number;
  /** Most clients connected at once (default 10). */
  maxConnections: number;
}

/** Log levels understood by socketkit's logger. */
export type LogLevel = 'silly' | 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** The complete, validated socketkit configuration. */
export interface SocketConfig {
  /** Directory for Unix socket files (default `/tmp/sockets`). */
  socketDir: string;
  /** Default timeout in seconds for connect, receive and requests (default 5). */
  defaultTimeout: number;
  /** Client receive buffer, in messages (default 4096). */
  bufferSize: number;
  /** IANA time zone for `timestamp_iso` (default `UTC`). */
  timezone: string;
  /** Messages kept while no client is connected (default 100). */
  messageQueueSize: number;
  /** `start()` resolves only after `stop()` (default false). */
  blockingMode: boolean;
  /** Clients may send messages to the server (default true). */
  allowClientSend: boolean;
  /** Largest frame payload in bytes (default 1 MiB). */
  maxMessageSize: number;
  /** Log level (default `info`). */
  logLevel: LogLevel;
  /** Unix socket settings. */
  unix: UnixConfig;
  /** TCP settings. */
  tcp: TcpConfig;
}

/** Partial configuration, as accepted by {@link loadConfig}. */
export type ConfigOverrides = Partial<Omit<SocketConfig, 'unix' | 'tcp'>> & {
  unix?: Partial<UnixConfig>;
  tcp?: Partial<TcpConfig>;
};

/** Every default of §7 of the design. */
export const DEFAULT_CONFIG: Readonly<SocketConfig> = Object.freeze({
  socketDir: '/tmp/sockets',
  defaultTimeout: 5,
  bufferSize: 4096,
  timezone: 'UTC',
  messageQueueSize: 100,
  blockingMode: false,
  allowClientSend: true,
  maxMessageSize: 1048576,
  logLevel: 'warn',
  unix: Object.freeze({ maxConnections: 10, socketPermissions: '0600', autoRemoveSocket: true }),
  tcp: Object.freeze({ host: '127.0.0.1', portRangeStart: 9000, portRangeEnd: 9100, maxConnections: 10 }),
}) as SocketConfig;
