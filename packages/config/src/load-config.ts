import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import * as v from 'valibot';
import { ErrorCode, ValidationError, isValidTimezone } from '@socketkit/protocol';
import { DEFAULT_CONFIG, type ConfigOverrides, type SocketConfig } from './schema.js';

type Source = 'default' | 'option' | 'environment' | '.env';
type Kind = 'int' | 'posint' | 'port' | 'number' | 'bool' | 'string' | 'octal' | 'timezone' | 'loglevel';

interface KeySpec {
  /** Dotted config path, e.g. `tcp.portRangeStart`. */
  path: string;
  env: string;
  kind: Kind;
}

/** Every configuration key with its environment variable, in §7 order. */
export const CONFIG_KEYS: readonly KeySpec[] = [
  { path: 'socketDir', env: 'SOCKET_DIR', kind: 'string' },
  { path: 'defaultTimeout', env: 'SOCKET_DEFAULT_TIMEOUT', kind: 'number' },
  { path: 'bufferSize', env: 'SOCKET_BUFFER_SIZE', kind: 'posint' },
  { path: 'timezone', env: 'SOCKET_TIMEZONE', kind: 'timezone' },
  { path: 'messageQueueSize', env: 'SOCKET_MESSAGE_QUEUE_SIZE', kind: 'int' },
  { path: 'blockingMode', env: 'SOCKET_BLOCKING_MODE', kind: 'bool' },
  { path: 'allowClientSend', env: 'SOCKET_ALLOW_CLIENT_SEND', kind: 'bool' },
  { path: 'maxMessageSize', env: 'SOCKET_MAX_MESSAGE_SIZE', kind: 'posint' },
  { path: 'logLevel', env: 'SOCKET_LOG_LEVEL', kind: 'loglevel' },
  { path: 'unix.maxConnections', env: 'SOCKET_UNIX_MAX_CONNECTIONS', kind: 'posint' },
  { path: 'unix.socketPermissions', env: 'SOCKET_UNIX_SOCKET_PERMISSIONS', kind: 'octal' },
  { path: 'unix.autoRemoveSocket', env: 'SOCKET_UNIX_AUTO_REMOVE_SOCKET', kind: 'bool' },
  { path: 'tcp.host', env: 'SOCKET_TCP_HOST', kind: 'string' },
  { path: 'tcp.portRangeStart', env: 'SOCKET_TCP_PORT_RANGE_START', kind: 'port' },
  { path: 'tcp.portRangeEnd', env: 'SOCKET_TCP_PORT_RANGE_END', kind: 'port' },
  { path: 'tcp.maxConnections', env: 'SOCKET_TCP_MAX_CONNECTIONS', kind: 'posint' },
];

const LOG_LEVELS = ['silly', 'trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const MAX_INT = 2 ** 31 - 1;

// One valibot schema per kind; each accepts the typed value (options) or a string (env, .env).
const intFrom = (min: number, max: number, expected: string, tooLarge: string = expected) =>
  v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^-?\d+$/), v.transform(Number))], expected),
    v.number(),
    v.integer(expected),
    v.minValue(min, expected),
    v.maxValue(max, tooLarge),
  );

const schemas: Record<Kind, v.GenericSchema<unknown, unknown>> = {
  int: intFrom(0, MAX_INT, 'expected an integer >= 0', `expected an integer <= ${MAX_INT}`),
  posint: intFrom(1, MAX_INT, 'expected an integer >= 1', `expected an integer <= ${MAX_INT}`),
  port: intFrom(1, 65535, 'expected an integer 1-65535'),
  number: v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^\d+(\.\d+)?$/), v.transform(Number))], 'expected a number > 0'),
    v.number(),
    v.check((n) => Number.isFinite(n) && n > 0, 'expected a number > 0'),
  ),
  bool: v.union(
    [v.boolean(), v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off']), v.transform((s) => ['true', '1', 'yes', 'on'].includes(s)))],
    'expected true or false',
  ),
  string: v.pipe(v.string('expected a non-empty string'), v.trim(), v.minLength(1, 'expected a non-empty string')),
  octal: v.pipe(v.string('expected an octal string such as "0600"'), v.trim(), v.regex(/^0?[0-7]{3}$/, 'expected an octal string such as "0600"')),
  timezone: v.pipe(v.string('expected an IANA time zone such as "UTC" or "Europe/Berlin"'), v.check(isValidTimezone, 'expected an IANA time zone such as "UTC" or "Europe/Berlin"')),
  loglevel: v.pipe(v.string(`expected one of ${LOG_LEVELS.join(', ')}`), v.trim(), v.toLowerCase(), v.picklist(LOG_LEVELS, `expected one of ${LOG_LEVELS.join(', ')}`)),
};

/** Options for {@link loadConfig}. */
export interface LoadConfigOptions {
  /**
   * Path of the `.env` file to read (default `.env` in the current directory,
   * read only if it exists). `false` skips `.env` entirely.
   */
  envFile?: string | false;
  /** Environment to read (default `process.env`). */
  env?: Record<string, string | undefined>;
}

function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) cur = cur[part] as Record<string, unknown>;
  cur[parts[parts.length - 1] as string] = value;
}

function readEnvFile(envFile: string | false | undefined): Record<string, string> {
  if (envFile === false) return {};
  const path = resolve(envFile ?? '.env');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT' && envFile === undefined) return {};
    throw new ValidationError(ErrorCode.INVALID_CONFIG, `cannot read env file ${path}: ${(cause as Error).message}`, { cause, details: { path } });
  }
  return parseDotenv(text);
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * Loads the socketkit configuration. Precedence, lowest first: defaults <
 * `.env` file < environment variables < `overrides`. Every value is validated.
 *
 * @throws ValidationError `INVALID_CONFIG` naming the key, its source and the
 *   bad value, e.g. `SOCKET_TCP_PORT_RANGE_START="abc" (environment): expected an integer 1-65535`.
 */
export function loadConfig(overrides: ConfigOverrides = {}, options: LoadConfigOptions = {}): SocketConfig {
  const env = options.env ?? process.env;
  const dotenv = readEnvFile(options.envFile);
  const config = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;

  for (const spec of CONFIG_KEYS) {
    const candidates: Array<[Source, unknown]> = [
      ['option', getPath(overrides, spec.path)],
      ['environment', env[spec.env]],
      ['.env', dotenv[spec.env]],
    ];
    const found = candidates.find(([, value]) => value !== undefined);
    if (found === undefined) continue;
    const [source, raw] = found;
    const result = v.safeParse(schemas[spec.kind], raw);
    if (!result.success) {
      const name = source === 'option' ? spec.path : spec.env;
      const message = result.issues[result.issues.length - 1]?.message ?? 'invalid value';
      throw new ValidationError(ErrorCode.INVALID_CONFIG, `${name}=${shown(raw)} (${source}): ${message}`, {
        details: { key: spec.path, env: spec.env, source, value: raw },
      });
    }
    let value = result.output;
    if (spec.kind === 'octal') value = (value as string).padStart(4, '0');
    setPath(config, spec.path, value);
  }

  const result = config as unknown as SocketConfig;
  if (result.tcp.portRangeStart > result.tcp.portRangeEnd) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `tcp.portRangeStart (${result.tcp.portRangeStart}) must not exceed tcp.portRangeEnd (${result.tcp.portRangeEnd}): set SOCKET_TCP_PORT_RANGE_START/END so that start <= end`,
      { details: { key: 'tcp.portRangeStart' } },
    );
  }
  return result;
}

/** Parses an octal permission string such as `"0600"` into a mode number. */
export function parsePermissions(octal: string): number {
  return Number.parseInt(octal, 8);
}
