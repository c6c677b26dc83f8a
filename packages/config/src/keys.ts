import { isAbsolute } from 'node:path';
import * as v from 'valibot';
import { isValidTimezone } from '@socketkit/protocol';
import type { ConfigPath, ConfigValue, SocketConfig } from './schema.js';

/** How a value is parsed and checked (one valibot schema per kind). */
export type ConfigKind =
  | 'int'
  | 'posint'
  | 'port'
  | 'bool'
  | 'string'
  | 'absPath'
  | 'octal'
  | 'timezone'
  | 'loglevel'
  | 'timeoutMs'
  | 'seconds';

/** Table of the settings file (TOML) a key lives in. */
export type SettingsTable = 'socket' | 'socket.unix' | 'socket.tcp';

/** One configuration key: every name it has, its default, unit and check. */
export interface ConfigKey<P extends ConfigPath = ConfigPath> {
  /** Dotted path in {@link SocketConfig} and in options, e.g. `tcp.portRangeStart`. */
  readonly path: P;
  /** Environment variable (also read from a `.env` file), e.g. `SOCKET_TCP_PORT_RANGE_START`. */
  readonly env: string;
  /** Where the key lives in the settings file shared with the Python module. */
  readonly settings: { readonly table: SettingsTable; readonly key: string };
  /** Default value (in `unit`). */
  readonly default: ConfigValue<P>;
  /** Unit of the value in options and in {@link SocketConfig}, if it has one. */
  readonly unit?: 'ms' | 'bytes' | 'messages' | 'connections';
  /** Unit of the environment variable and settings-file value when it differs (`s` for seconds). */
  readonly envUnit?: 's';
  /** Check applied to option values. */
  readonly kind: ConfigKind;
  /** Check applied to environment, `.env` and settings-file values, when it differs from `kind`. */
  readonly envKind?: ConfigKind;
  /** One line for docs and help texts. */
  readonly description: string;
}

type Row<P extends ConfigPath> = Omit<ConfigKey<P>, 'path' | 'env' | 'settings'> & {
  readonly env: `SOCKET_${string}`;
  readonly settingsKey?: string;
};

// THE table: every key once, in the order of the README's Configuration table. Environment names come from the
// Python module; settings-file names are the env name without `SOCKET_` (and
// without `UNIX_`/`TCP_` inside `[socket.unix]`/`[socket.tcp]`), lower case,
// unless `settingsKey` says otherwise. The mapped type makes a key missing
// here (or a default of the wrong type) a compile error.
const TABLE: { readonly [P in ConfigPath]: Row<P> } = {
  socketDir: {
    env: 'SOCKET_DIR',
    settingsKey: 'socket_dir',
    kind: 'absPath',
    default: '/tmp/sockets',
    description: 'directory of the Unix socket files (absolute)',
  },
  defaultTimeoutMs: {
    env: 'SOCKET_DEFAULT_TIMEOUT',
    kind: 'timeoutMs',
    envKind: 'seconds',
    unit: 'ms',
    envUnit: 's',
    default: 5000,
    description: 'connect, receive and request timeout',
  },
  bufferSize: {
    env: 'SOCKET_BUFFER_SIZE',
    kind: 'posint',
    unit: 'messages',
    default: 4096,
    description: 'client receive buffer',
  },
  timezone: {
    env: 'SOCKET_TIMEZONE',
    kind: 'timezone',
    default: 'UTC',
    description: 'IANA time zone of `timestamp_iso`',
  },
  messageQueueSize: {
    env: 'SOCKET_MESSAGE_QUEUE_SIZE',
    kind: 'int',
    unit: 'messages',
    default: 100,
    description: 'messages kept while no client is connected',
  },
  blockingMode: {
    env: 'SOCKET_BLOCKING_MODE',
    kind: 'bool',
    default: false,
    description: '`start()` resolves only after `stop()`',
  },
  allowClientSend: {
    env: 'SOCKET_ALLOW_CLIENT_SEND',
    kind: 'bool',
    default: true,
    description: 'clients may send messages to the server',
  },
  maxMessageSize: {
    env: 'SOCKET_MAX_MESSAGE_SIZE',
    kind: 'posint',
    unit: 'bytes',
    default: 1048576,
    description: 'largest frame payload',
  },
  logLevel: {
    env: 'SOCKET_LOG_LEVEL',
    kind: 'loglevel',
    default: 'warn',
    description: 'log level of the default logger',
  },
  'unix.maxConnections': {
    env: 'SOCKET_UNIX_MAX_CONNECTIONS',
    kind: 'posint',
    unit: 'connections',
    default: 10,
    description: 'most clients at once',
  },
  'unix.socketPermissions': {
    env: 'SOCKET_UNIX_SOCKET_PERMISSIONS',
    kind: 'octal',
    default: '0600',
    description: 'socket file mode (octal string)',
  },
  'unix.autoRemoveSocket': {
    env: 'SOCKET_UNIX_AUTO_REMOVE_SOCKET',
    kind: 'bool',
    default: true,
    description: 'remove the socket file on stop',
  },
  'tcp.host': {
    env: 'SOCKET_TCP_HOST',
    kind: 'string',
    default: '127.0.0.1',
    description: 'interface to bind, host to connect',
  },
  'tcp.portRangeStart': {
    env: 'SOCKET_TCP_PORT_RANGE_START',
    kind: 'port',
    default: 9000,
    description: 'first port tried when none is given',
  },
  'tcp.portRangeEnd': { env: 'SOCKET_TCP_PORT_RANGE_END', kind: 'port', default: 9100, description: 'last port tried' },
  'tcp.maxConnections': {
    env: 'SOCKET_TCP_MAX_CONNECTIONS',
    kind: 'posint',
    unit: 'connections',
    default: 10,
    description: 'most clients at once',
  },
};

function settingsOf(path: string, env: string, key: string | undefined): ConfigKey['settings'] {
  const table: SettingsTable = path.startsWith('unix.')
    ? 'socket.unix'
    : path.startsWith('tcp.')
      ? 'socket.tcp'
      : 'socket';
  const prefix = table === 'socket.unix' ? 'SOCKET_UNIX_' : table === 'socket.tcp' ? 'SOCKET_TCP_' : 'SOCKET_';
  return { table, key: key ?? env.slice(prefix.length).toLowerCase() };
}

/**
 * Every configuration key with its environment variable, settings-file name, default and unit, in the order of the
 * README's Configuration table.
 */
export const CONFIG_KEYS: readonly ConfigKey[] = Object.freeze(
  Object.entries(TABLE).map(([path, row]) => {
    const { settingsKey, ...rest } = row as Row<ConfigPath>;
    return Object.freeze({
      ...rest,
      path: path as ConfigPath,
      settings: Object.freeze(settingsOf(path, row.env, settingsKey)),
    }) as ConfigKey;
  }),
);

function buildDefaults(): SocketConfig {
  const out: Record<string, Record<string, unknown>> = { unix: {}, tcp: {} };
  for (const key of CONFIG_KEYS) {
    const [head, tail] = key.path.split('.') as [string, string | undefined];
    if (tail === undefined) (out as Record<string, unknown>)[head] = key.default;
    else (out[head] as Record<string, unknown>)[tail] = key.default;
  }
  Object.freeze(out.unix);
  Object.freeze(out.tcp);
  return Object.freeze(out) as unknown as SocketConfig;
}

/** Every default, derived from {@link CONFIG_KEYS} (frozen). */
export const DEFAULT_CONFIG: Readonly<SocketConfig> = buildDefaults();

/** Log levels, lowest first. */
export const LOG_LEVELS = ['silly', 'trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** Largest timer delay Node accepts; anything above it fires after 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Largest `SOCKET_DEFAULT_TIMEOUT` (seconds): anything above a day is taken for a unit mistake. */
export const MAX_TIMEOUT_SECONDS = 86400;

const MAX_INT = 2 ** 31 - 1;
const TIMEOUT_MS_EXPECTED = `expected Infinity or an integer 1-${MAX_TIMEOUT_MS} (milliseconds)`;
const SECONDS_EXPECTED = `expected seconds > 0 and <= ${MAX_TIMEOUT_SECONDS} (a day), at least 0.001`;

// Each schema accepts the typed value (options, settings file) or a string (env, .env).
const intFrom = (min: number, max: number, expected: string, tooLarge: string = expected) =>
  v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^-?\d+$/), v.transform(Number))], expected),
    v.number(),
    v.integer(expected),
    v.minValue(min, expected),
    v.maxValue(max, tooLarge),
  );
const nonEmpty = v.pipe(
  v.string('expected a non-empty string'),
  v.trim(),
  v.minLength(1, 'expected a non-empty string'),
);

/** The valibot schema of each {@link ConfigKind}. */
export const KIND_SCHEMAS: Readonly<Record<ConfigKind, v.GenericSchema<unknown, unknown>>> = {
  int: intFrom(0, MAX_INT, 'expected an integer >= 0', `expected an integer <= ${MAX_INT}`),
  posint: intFrom(1, MAX_INT, 'expected an integer >= 1', `expected an integer <= ${MAX_INT}`),
  port: intFrom(1, 65535, 'expected an integer 1-65535'),
  timeoutMs: v.pipe(
    v.number(TIMEOUT_MS_EXPECTED),
    v.check(
      (n) => n === Number.POSITIVE_INFINITY || (Number.isInteger(n) && n >= 1 && n <= MAX_TIMEOUT_MS),
      TIMEOUT_MS_EXPECTED,
    ),
  ),
  seconds: v.pipe(
    v.union(
      [v.number(), v.pipe(v.string(), v.trim(), v.regex(/^\d+(\.\d+)?$/), v.transform(Number))],
      SECONDS_EXPECTED,
    ),
    v.number(),
    v.check((s) => Number.isFinite(s) && s > 0 && s <= MAX_TIMEOUT_SECONDS, SECONDS_EXPECTED),
    v.transform((s) => Math.round(s * 1000)),
    v.minValue(1, SECONDS_EXPECTED),
  ),
  bool: v.union(
    [
      v.boolean(),
      v.pipe(
        v.string(),
        v.trim(),
        v.toLowerCase(),
        v.picklist(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off']),
        v.transform((s) => ['true', '1', 'yes', 'on'].includes(s)),
      ),
    ],
    'expected true or false',
  ),
  string: nonEmpty,
  absPath: v.pipe(
    nonEmpty,
    v.check(isAbsolute, 'expected an absolute path (a relative one would depend on the working directory)'),
  ),
  octal: v.pipe(
    v.string('expected an octal string such as "0600"'),
    v.trim(),
    v.regex(/^0?[0-7]{3}$/, 'expected an octal string such as "0600"'),
    v.transform((s) => s.padStart(4, '0')),
  ),
  timezone: v.pipe(
    v.string('expected an IANA time zone such as "UTC" or "Europe/Berlin"'),
    v.check(isValidTimezone, 'expected an IANA time zone such as "UTC" or "Europe/Berlin"'),
  ),
  loglevel: v.pipe(
    v.string(`expected one of ${LOG_LEVELS.join(', ')}`),
    v.trim(),
    v.toLowerCase(),
    v.picklist(LOG_LEVELS, `expected one of ${LOG_LEVELS.join(', ')}`),
  ),
};

/**
 * Whether `value` is a valid timeout in milliseconds: `Infinity` (none) or an
 * integer 1..2^31−1 (Node fires a larger delay after 1 ms).
 */
export function isValidTimeoutMs(value: unknown): value is number {
  return v.is(KIND_SCHEMAS.timeoutMs, value);
}
