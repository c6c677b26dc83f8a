import { MAX_TIMEOUT_MS, loadConfig, type ConfigOverrides, type LoadConfigOptions, type SocketConfig } from '@socketkit/config';
import type { SocketClientOptions } from './client.js';
import type { SocketServerOptions } from './server.js';

/** Configuration keys every transport's constructor accepts (§7), plus where to read them. */
export interface CommonConfigOptions {
  /** IANA time zone for `timestamp_iso`. */
  timezone?: string;
  /** Largest frame payload in bytes. */
  maxMessageSize?: number;
  /** Log level of the default logger. */
  logLevel?: SocketConfig['logLevel'];
  /** Default timeout in ms (connect, receive, request): `Infinity` or an integer 1..2^31−1 (env `SOCKET_DEFAULT_TIMEOUT` is seconds). */
  defaultTimeoutMs?: number;
  /** `.env` file to read (default: the one `SOCKET_ENV_FILE` names, else none; `false` to skip). */
  envFile?: string | false;
  /** TOML settings file shared with the Python module (default: the one `SOCKET_SETTINGS_FILE` names, else none). */
  settingsFile?: string | false;
  /** Environment to read instead of `process.env`. */
  env?: Record<string, string | undefined>;
}

/** Server-side configuration keys. */
export interface ServerConfigOptions extends CommonConfigOptions {
  messageQueueSize?: number;
  blockingMode?: boolean;
  allowClientSend?: boolean;
}

/** Client-side configuration keys. */
export interface ClientConfigOptions extends CommonConfigOptions {
  /** Receive buffer in messages. */
  bufferSize?: number;
}

const COMMON_KEYS = ['timezone', 'maxMessageSize', 'logLevel', 'defaultTimeoutMs', 'messageQueueSize', 'blockingMode', 'allowClientSend', 'bufferSize'] as const;

/**
 * Loads the configuration with the common keys of `options` as explicit
 * overrides (precedence: defaults < .env < environment < options) and the
 * transport's own keys in `transport` (`{ unix: {...} }` or `{ tcp: {...} }`).
 */
export function resolveConfig(options: ServerConfigOptions & ClientConfigOptions, transport: Pick<ConfigOverrides, 'unix' | 'tcp' | 'socketDir'> = {}): SocketConfig {
  const overrides: Record<string, unknown> = { ...transport };
  for (const key of COMMON_KEYS) if (options[key] !== undefined) overrides[key] = options[key];
  const load: LoadConfigOptions = {};
  if (options.envFile !== undefined) load.envFile = options.envFile;
  if (options.settingsFile !== undefined) load.settingsFile = options.settingsFile;
  if (options.env !== undefined) load.env = options.env;
  return loadConfig(overrides as ConfigOverrides, load);
}

/**
 * The configuration's `Infinity` (no timeout) as an engine delay: Node fires a
 * delay above 2^31−1 ms after 1 ms, and 2^31−1 ms (24.8 days) is never reached
 * in practice.
 */
const engineMs = (ms: number): number => Math.min(ms, MAX_TIMEOUT_MS);

/** Server engine options that come from the configuration. */
export function serverConfigDefaults(config: SocketConfig, maxConnections: number): Partial<SocketServerOptions> {
  return {
    maxConnections,
    messageQueueSize: config.messageQueueSize,
    allowClientSend: config.allowClientSend,
    maxMessageSize: config.maxMessageSize,
    blockingMode: config.blockingMode,
    timezone: config.timezone,
    logLevel: config.logLevel,
    authTimeout: engineMs(config.defaultTimeoutMs),
  };
}

/** Client engine options that come from the configuration. */
export function clientConfigDefaults(config: SocketConfig): Partial<SocketClientOptions> {
  return {
    defaultTimeout: engineMs(config.defaultTimeoutMs),
    bufferSize: config.bufferSize,
    maxMessageSize: config.maxMessageSize,
    timezone: config.timezone,
    logLevel: config.logLevel,
  };
}

/** Copies the defined values of `over` onto `base` (undefined never overrides). */
export function mergeDefined<T extends object>(base: Partial<T>, over: Partial<T>): Partial<T> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}

/**
 * Engine options for a transport package's client: the configuration's
 * values, then `extra` defaults, then the caller's options. `defaultTimeoutMs`
 * is a configuration key (validated by `loadConfig`), so it is taken from
 * `config` only.
 */
export function clientEngineOptions<O extends { defaultTimeoutMs?: number }>(config: SocketConfig, options: O, extra: Partial<SocketClientOptions> = {}): Partial<SocketClientOptions> {
  const { defaultTimeoutMs: _validated, ...rest } = options;
  return mergeDefined<SocketClientOptions>({ ...clientConfigDefaults(config), ...extra }, rest as Partial<SocketClientOptions>);
}

/** Engine options for a transport package's server (see {@link clientEngineOptions}). */
export function serverEngineOptions<O extends { defaultTimeoutMs?: number }>(config: SocketConfig, maxConnections: number, options: O, extra: Partial<SocketServerOptions> = {}): Partial<SocketServerOptions> {
  const { defaultTimeoutMs: _validated, ...rest } = options;
  return { ...mergeDefined<SocketServerOptions>({ ...serverConfigDefaults(config, maxConnections), ...extra }, rest as Partial<SocketServerOptions>), maxConnections };
}
