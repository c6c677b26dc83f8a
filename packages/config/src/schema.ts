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

/**
 * The complete, validated socketkit configuration. Every key, its
 * environment variable, settings-file name, default and unit is listed once,
 * in {@link CONFIG_KEYS}.
 */
export interface SocketConfig {
  /** Directory for Unix socket files, an absolute path (default `/tmp/sockets`). */
  socketDir: string;
  /**
   * Default timeout in milliseconds for connect, receive and requests
   * (default 5000): `Infinity` (none) or an integer 1..2^31−1. Its
   * environment variable `SOCKET_DEFAULT_TIMEOUT` is in seconds.
   */
  defaultTimeoutMs: number;
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
  /** Log level (default `warn`). */
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

type Scalar<T> = { [K in keyof T]: T[K] extends object ? never : K }[keyof T] & string;

/** Dotted path of every configuration key, e.g. `tcp.portRangeStart`. */
export type ConfigPath = Scalar<SocketConfig> | `unix.${keyof UnixConfig & string}` | `tcp.${keyof TcpConfig & string}`;

/** The type of the value at a {@link ConfigPath}. */
export type ConfigValue<P extends ConfigPath> = P extends `unix.${infer K extends keyof UnixConfig}`
  ? UnixConfig[K]
  : P extends `tcp.${infer K extends keyof TcpConfig}`
    ? TcpConfig[K]
    : P extends keyof SocketConfig
      ? SocketConfig[P]
      : never;
