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
import type { BackoffOptions } from './backoff.js';
import { isStandardSchema } from './schema.js';
import { ErrorCode, ValidationError, type MessageData } from '@socketkit/protocol';
import type { SocketClientOptions } from './client.js';
import type { ServerSettings, SocketServerOptions } from './server.js';
import type { SocketDirTrust } from './socket-dir.js';
import {
  CONFIG_DEFAULTS,
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_BACKLOG,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_FRAME_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL,
  DEFAULT_HEARTBEAT_MISSES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_MAX_REFUSING,
  DEFAULT_MAX_MONITORS,
  DEFAULT_MAX_UNAUTHENTICATED,
  DEFAULT_MAX_INVALID_PER_SECOND,
  DEFAULT_REFUSE_LINGER_MS,
  DEFAULT_REGISTER_GRACE_MS,
  MAX_TIMEOUT_MS,
} from './defaults.js';

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
const SCHEMA_RULE: OptionRule = {
  expected: 'a Standard Schema (a valibot, zod or arktype schema: an object with a ~standard.validate function)',
  test: isStandardSchema,
};

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

/** Rules of {@link SocketDirTrust}: the trust options every transport with a socket directory takes (unix, tcp). */
export const SOCKET_DIR_TRUST_RULES: OptionRulesFor<SocketDirTrust> = Object.freeze({
  allowInsecureDir: r.boolean(),
  trustedUids: r.intList(),
  trustedGids: r.intList(),
});

/** Rules of {@link BackoffOptions} (the client's `reconnect`). */
export const BACKOFF_RULES: OptionRulesFor<BackoffOptions> = Object.freeze({
  initialDelay: r.int(0, MAX_TIMEOUT_MS),
  multiplier: r.number(1, 1000),
  maxDelay: r.int(0, MAX_TIMEOUT_MS),
  jitter: r.number(0, 1),
  maxRetries: r.int(1, undefined, true),
});

/**
 * Every key of {@link SocketClientOptions} with its rule: the one list the
 * engine and every transport's client check options against (unknown keys
 * and wrong types, in plain JavaScript too).
 */
export const CLIENT_ENGINE_RULES: OptionRulesFor<SocketClientOptions> = Object.freeze({
  eventName: r.string(),
  transport: r.object('a ClientTransport'),
  connectTimeout: TIMEOUT,
  defaultTimeoutMs: TIMEOUT,
  defaultTimeout: TIMEOUT,
  autoReconnect: r.boolean(),
  reconnect: r.nested(BACKOFF_RULES),
  minUptimeMs: TIMEOUT,
  bufferMessages: r.boolean(),
  bufferSize: r.int(1),
  maxBufferedBytes: r.int(1),
  offlineSend: r.oneOf('buffer', 'reject'),
  sendBufferSize: r.int(1),
  sendBufferBytes: r.int(1),
  maxPendingBytes: r.int(1),
  maxMessageSize: r.int(1),
  handshake: r.boolean(),
  token: r.secret(),
  heartbeatInterval: r.int(0, MAX_TIMEOUT_MS),
  heartbeatTimeout: TIMEOUT,
  closeTimeout: TIMEOUT,
  maxPendingRequests: r.int(1),
  timezone: r.string(),
  logger: r.object('a logger (an object with debug, info, warn and error)'),
  logLevel: r.string(),
  schema: SCHEMA_RULE,
  role: r.oneOf('client', 'sender'),
});

/** Every key of {@link SocketServerOptions} with its rule (see {@link CLIENT_ENGINE_RULES}). */
export const SERVER_ENGINE_RULES: OptionRulesFor<SocketServerOptions> = Object.freeze({
  eventName: r.string(),
  transport: r.object('a ServerTransport'),
  maxConnections: r.int(0),
  messageQueueSize: r.int(0),
  allowClientSend: r.boolean(),
  maxMessageSize: r.int(1),
  blockingMode: r.boolean(),
  timezone: r.string(),
  maxPendingBytes: r.int(1),
  slowConsumerPolicy: r.oneOf('disconnect', 'drop'),
  drainTimeout: TIMEOUT,
  heartbeatInterval: r.int(0, MAX_TIMEOUT_MS),
  heartbeatTimeout: TIMEOUT,
  closeTimeout: TIMEOUT,
  token: r.secret(),
  authTimeout: TIMEOUT,
  maxUnauthenticated: r.int(1),
  maxInvalidPerSecond: r.int(1, undefined, true),
  registerGraceMs: TIMEOUT,
  frameTimeoutMs: TIMEOUT,
  refuseLingerMs: TIMEOUT,
  maxRefusing: r.int(0),
  closeGraceMs: TIMEOUT,
  backlog: r.int(1),
  requireHello: r.boolean(),
  exposeStats: r.boolean(),
  maxMonitors: r.int(1),
  collectStats: r.boolean(),
  handler: r.function(),
  logger: r.object('a logger (an object with debug, info, warn and error)'),
  logLevel: r.string(),
  schema: SCHEMA_RULE,
});

/** `rules` without `keys` (a transport's table starts from the engine's, minus what it fills itself). */
export function omitRules<R extends OptionRules, K extends keyof R>(rules: R, ...keys: K[]): Omit<R, K> {
  const out: Record<string, OptionRule> = { ...rules };
  for (const k of keys) delete out[k as string];
  return out as Omit<R, K>;
}

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
export function clientEngineOptions<T = MessageData>(
  config: SocketConfig,
  options: { defaultTimeoutMs?: number },
  extra: Partial<SocketClientOptions> = {},
): Partial<SocketClientOptions<T>> {
  const { defaultTimeoutMs: _validated, ...rest } = pickKnown(options, CLIENT_ENGINE_RULES);
  return mergeDefined<SocketClientOptions>({ ...clientConfigDefaults(config), ...extra }, rest as Partial<SocketClientOptions>) as Partial<
    SocketClientOptions<T>
  >;
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
    ...(mergeDefined<SocketServerOptions>({ ...serverConfigDefaults(config, maxConnections), ...extra }, rest as Partial<SocketServerOptions>) as Partial<
      SocketServerOptions<TIn, TOut>
    >),
    maxConnections,
  };
}

/**
 * Checks one timeout option: `Infinity` (no timeout) or an integer from 1 to
 * 2^31-1 ms. Node clamps anything larger to 1 ms, so a huge value would fire
 * at once instead of never.
 * @throws ValidationError `INVALID_CONFIG` naming the key.
 */
export function validateTimeoutMs(key: string, value: number, source = 'option'): number {
  if (value === Infinity || (Number.isInteger(value) && value >= 1 && value <= MAX_TIMEOUT_MS)) return value;
  throw new ValidationError(
    ErrorCode.INVALID_CONFIG,
    `invalid ${key} ${String(value)} (${source}): a timeout is Infinity (none) or an integer number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`,
    { details: { key, value, source } },
  );
}

/** Checks a non-negative integer option (a count or a byte size). */
function validateCount(key: string, value: number, min = 0): number {
  if (Number.isInteger(value) && value >= min) return value;
  throw new ValidationError(ErrorCode.INVALID_CONFIG, `invalid ${key} ${String(value)} (option): expected an integer >= ${min}`, {
    details: { key, value, source: 'option' },
  });
}

/** An interval: 0 (off) or an integer from 1 to 2^31-1 ms (never Infinity: it repeats). */
function validateInterval(key: string, value: number): number {
  if (value === 0 || value === Infinity) {
    if (value === 0) return 0;
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `invalid ${key} Infinity (option): an interval is 0 (off) or an integer number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`,
      { details: { key, value, source: 'option' } },
    );
  }
  return validateTimeoutMs(key, value);
}

/** Server engine defaults, in one place (times in ms). */
export const SERVER_DEFAULTS: Readonly<Omit<ServerSettings, 'heartbeatTimeout'>> = Object.freeze({
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  messageQueueSize: CONFIG_DEFAULTS.messageQueueSize,
  allowClientSend: CONFIG_DEFAULTS.allowClientSend,
  maxMessageSize: CONFIG_DEFAULTS.maxMessageSize,
  blockingMode: CONFIG_DEFAULTS.blockingMode,
  timezone: CONFIG_DEFAULTS.timezone,
  maxPendingBytes: DEFAULT_MAX_PENDING_BYTES,
  slowConsumerPolicy: 'disconnect',
  drainTimeout: DEFAULT_DRAIN_TIMEOUT_MS,
  heartbeatInterval: DEFAULT_HEARTBEAT_INTERVAL,
  closeTimeout: DEFAULT_CLOSE_TIMEOUT,
  authTimeout: DEFAULT_AUTH_TIMEOUT_MS,
  maxUnauthenticated: DEFAULT_MAX_UNAUTHENTICATED,
  maxInvalidPerSecond: DEFAULT_MAX_INVALID_PER_SECOND,
  registerGraceMs: DEFAULT_REGISTER_GRACE_MS,
  frameTimeoutMs: DEFAULT_FRAME_TIMEOUT_MS,
  refuseLingerMs: DEFAULT_REFUSE_LINGER_MS,
  maxRefusing: DEFAULT_MAX_REFUSING,
  closeGraceMs: DEFAULT_CLOSE_GRACE_MS,
  backlog: DEFAULT_BACKLOG,
  requireHello: false,
  exposeStats: false,
  maxMonitors: DEFAULT_MAX_MONITORS,
  collectStats: true,
});

/**
 * Resolves a server's options once: defaults for what is missing, every
 * time and bound validated. The engine reads only the result.
 * @throws ValidationError `INVALID_CONFIG` naming the bad key.
 */
export function resolveServerSettings<TIn, TOut>(options: Partial<SocketServerOptions<TIn, TOut>>): ServerSettings {
  const given = mergeDefined<ServerSettings>(SERVER_DEFAULTS, options as unknown as Partial<ServerSettings>) as Omit<ServerSettings, 'heartbeatTimeout'> & {
    heartbeatTimeout?: number;
  };
  const s: ServerSettings = {
    ...given,
    heartbeatTimeout: given.heartbeatTimeout !== undefined ? given.heartbeatTimeout : given.heartbeatInterval * (DEFAULT_HEARTBEAT_MISSES + 1),
  };
  for (const key of ['drainTimeout', 'closeTimeout', 'authTimeout', 'registerGraceMs', 'frameTimeoutMs', 'refuseLingerMs', 'closeGraceMs'] as const)
    validateTimeoutMs(key, s[key]);
  validateInterval('heartbeatInterval', s.heartbeatInterval);
  if (s.heartbeatInterval > 0) validateTimeoutMs('heartbeatTimeout', s.heartbeatTimeout);
  validateCount('maxConnections', s.maxConnections);
  validateCount('messageQueueSize', s.messageQueueSize);
  validateCount('maxMessageSize', s.maxMessageSize, 1);
  validateCount('maxPendingBytes', s.maxPendingBytes, 1);
  validateCount('maxUnauthenticated', s.maxUnauthenticated, 1);
  validateCount('maxRefusing', s.maxRefusing);
  if (s.maxInvalidPerSecond !== Infinity && !(Number.isInteger(s.maxInvalidPerSecond) && s.maxInvalidPerSecond >= 1)) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `invalid maxInvalidPerSecond ${String(s.maxInvalidPerSecond)} (option): expected an integer >= 1, or Infinity for no bound`,
      { details: { key: 'maxInvalidPerSecond', value: s.maxInvalidPerSecond, source: 'option' } },
    );
  }
  validateCount('maxMonitors', s.maxMonitors, 1);
  validateCount('backlog', s.backlog, 1);
  if (s.slowConsumerPolicy !== 'disconnect' && s.slowConsumerPolicy !== 'drop') {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `invalid slowConsumerPolicy ${JSON.stringify(s.slowConsumerPolicy)} (option): use "disconnect" or "drop"`,
      { details: { key: 'slowConsumerPolicy' } },
    );
  }
  return s;
}
