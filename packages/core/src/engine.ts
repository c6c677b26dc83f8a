import {
  loadConfig,
  optionRule as r,
  type ConfigOverrides,
  type LoadConfigOptions,
  type OptionRule,
  type OptionRules,
  type OptionRulesFor,
  type SocketConfig,
} from '@socketkit/config';
import type { MessageData } from '@socketkit/protocol';
import { CLIENT_ENGINE_RULES, type SocketClientOptions } from './client/options.js';
import { SERVER_ENGINE_RULES, type SocketServerOptions } from './server/options.js';
import { MAX_TIMEOUT_MS, mergeDefined } from './settings.js';

/**
 * Configuration keys every transport's constructor accepts (the README's Configuration table), plus where to read them.
 */
export interface CommonConfigOptions {
  /** IANA time zone for `timestamp_iso`. */
  timezone?: string;
  /** Largest frame payload in bytes. */
  maxMessageSize?: number;
  /** Log level of the default logger. */
  logLevel?: SocketConfig['logLevel'];
  /**
   * Default timeout in ms (connect, receive, request): `Infinity` or an integer 1..2^31−1 (env `SOCKET_DEFAULT_TIMEOUT`
   * is seconds).
   */
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

const COMMON_KEYS = [
  'timezone',
  'maxMessageSize',
  'logLevel',
  'defaultTimeoutMs',
  'messageQueueSize',
  'blockingMode',
  'allowClientSend',
  'bufferSize',
] as const;

const TIMEOUT = r.timeoutMs();

/** Rules of the configuration keys a constructor accepts (server and client ones). */
export const CONFIG_OPTION_RULES: OptionRulesFor<ServerConfigOptions & ClientConfigOptions> = Object.freeze({
  timezone: r.string(),
  maxMessageSize: r.int(1),
  logLevel: r.string(),
  defaultTimeoutMs: TIMEOUT,
  envFile: r.fileOrFalse(),
  settingsFile: r.fileOrFalse(),
  env: r.stringMap(),
  messageQueueSize: r.int(0),
  blockingMode: r.boolean(),
  allowClientSend: r.boolean(),
  bufferSize: r.int(1),
});

/** `rules` without `keys` (a transport's table starts from the engine's, minus what it fills itself). */
export function omitRules<R extends OptionRules, K extends keyof R>(rules: R, ...keys: K[]): Omit<R, K> {
  const out: Record<string, OptionRule> = { ...rules };
  for (const k of keys) delete out[k as string];
  return out as Omit<R, K>;
}

/**
 * The engine and configuration rules every transport's server table starts from: all but `transport` (the package
 * fills it) and `bufferSize` (a client key).
 */
export const TRANSPORT_SERVER_RULES = Object.freeze({
  ...omitRules(SERVER_ENGINE_RULES, 'transport'),
  ...omitRules(CONFIG_OPTION_RULES, 'bufferSize'),
});

/**
 * The engine and configuration rules every transport's client table starts from: all but `transport` and the
 * server-only configuration keys (`messageQueueSize`, `blockingMode`, `allowClientSend`).
 */
export const TRANSPORT_CLIENT_RULES = Object.freeze({
  ...omitRules(CLIENT_ENGINE_RULES, 'transport'),
  ...omitRules(CONFIG_OPTION_RULES, 'messageQueueSize', 'blockingMode', 'allowClientSend'),
});

/** The keys of `options` that `rules` lists (what a transport hands on to the engine). */
function pickKnown(options: object, rules: OptionRules): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (Object.hasOwn(rules, k)) out[k] = v;
  return out;
}

/**
 * Loads the configuration with the common keys of `options` as explicit
 * overrides (precedence: defaults < .env < environment < options) and the
 * transport's own keys in `transport` (`{ unix: {...} }` or `{ tcp: {...} }`).
 */
export function resolveConfig(
  options: ServerConfigOptions & ClientConfigOptions,
  transport: Pick<ConfigOverrides, 'unix' | 'tcp' | 'socketDir'> = {},
): SocketConfig {
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

/**
 * Engine options for a transport package's client: the configuration's
 * values, then `extra` defaults, then the caller's options. `defaultTimeoutMs`
 * is a configuration key (validated by `loadConfig`), so it is taken from
 * `config` only.
 */
export function clientEngineOptions<T = MessageData>(
  config: SocketConfig,
  options: { defaultTimeoutMs?: number },
  extra: Partial<SocketClientOptions> = {},
): Partial<SocketClientOptions<T>> {
  const { defaultTimeoutMs: _validated, ...rest } = pickKnown(options, CLIENT_ENGINE_RULES);
  return mergeDefined<SocketClientOptions>(
    { ...clientConfigDefaults(config), ...extra },
    rest as Partial<SocketClientOptions>,
  ) as Partial<SocketClientOptions<T>>;
}

/** Engine options for a transport package's server (see {@link clientEngineOptions}). */
export function serverEngineOptions<TIn = MessageData, TOut = MessageData>(
  config: SocketConfig,
  maxConnections: number,
  options: { defaultTimeoutMs?: number },
  extra: Partial<SocketServerOptions> = {},
): Partial<SocketServerOptions<TIn, TOut>> {
  const { defaultTimeoutMs: _validated, ...rest } = pickKnown(options, SERVER_ENGINE_RULES);
  return {
    ...(mergeDefined<SocketServerOptions>(
      { ...serverConfigDefaults(config, maxConnections), ...extra },
      rest as Partial<SocketServerOptions>,
    ) as Partial<SocketServerOptions<TIn, TOut>>),
    maxConnections,
  };
}
