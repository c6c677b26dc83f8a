import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import * as v from 'valibot';
import { ErrorCode, ValidationError } from '@socketkit/protocol';
import { CONFIG_KEYS, DEFAULT_CONFIG, KIND_SCHEMAS, type ConfigKey, type SettingsTable } from './keys.js';
import type { ConfigOverrides, SocketConfig } from './schema.js';
import { readTrustedFile } from './trusted-file.js';

/** Where a configuration value came from, lowest precedence first. */
export type ConfigSource = 'default' | 'settings file' | '.env' | 'environment' | 'option';

/** Environment variable naming a `.env` file to read (when the `envFile` option is not given). */
export const ENV_FILE_VAR = 'SOCKET_ENV_FILE';
/** Environment variable naming the TOML settings file (when the `settingsFile` option is not given). */
export const SETTINGS_FILE_VAR = 'SOCKET_SETTINGS_FILE';

/** Options for {@link loadConfig}. */
export interface LoadConfigOptions {
  /**
   * Path of a `.env` file to read. Default: the file named by
   * `SOCKET_ENV_FILE`, else none — the library never reads `./.env` on its
   * own. `false` reads none, even if `SOCKET_ENV_FILE` is set.
   */
  envFile?: string | false;
  /**
   * Path of the TOML settings file shared with the Python module
   * (`[socket]`, `[socket.unix]`, `[socket.tcp]`). Default: the file named by
   * `SOCKET_SETTINGS_FILE` (environment, then `.env`), else none. `false`
   * reads none.
   */
  settingsFile?: string | false;
  /** Environment to read (default `process.env`). */
  env?: Record<string, string | undefined>;
  /**
   * Called with a warning about the settings file (an unknown key in a
   * socketkit table, which is ignored). Default: `process.emitWarning`, once
   * per distinct text.
   */
  onWarning?: (text: string) => void;
}

function configError(message: string, details: Record<string, unknown>, cause?: unknown): ValidationError {
  return new ValidationError(ErrorCode.INVALID_CONFIG, message, cause === undefined ? { details } : { cause, details });
}

/** Picks the file to read: the option, else the variable (from the first source that sets it), else none. */
function pickFile(
  option: string | false | undefined,
  variable: string,
  sources: Array<Record<string, string | undefined>>,
): { path: string; namedBy: string } | undefined {
  if (option === false) return undefined;
  if (option !== undefined) return { path: resolve(option), namedBy: 'option' };
  for (const source of sources) {
    const named = source[variable];
    if (named !== undefined && named.trim() !== '') return { path: resolve(named.trim()), namedBy: variable };
  }
  return undefined;
}

// The TOML and .env parsers load when a program names such a file: most never do, and they would otherwise weigh on
// every `import` of a transport. Both packages ship CommonJS builds, so `require` loads them synchronously.
const requireParser = createRequire(import.meta.url);
const parseToml = (text: string): unknown => (requireParser('smol-toml') as typeof import('smol-toml')).parse(text);
const parseDotenv = (text: string): Record<string, string> =>
  (requireParser('dotenv') as typeof import('dotenv')).parse(text);

/** Reads a named file, refusing one another user could have written ({@link readTrustedFile}). */
function readText(file: { path: string; namedBy: string }, what: string): string {
  return readTrustedFile(file.path, what, { namedBy: file.namedBy });
}

/** Values of the settings file keyed by config path, plus where each was found. */
type SettingsValues = Map<string, { value: unknown; name: string }>;

const TABLE_PATHS: Record<SettingsTable, string[]> = {
  socket: ['socket'],
  'socket.unix': ['socket', 'unix'],
  'socket.tcp': ['socket', 'tcp'],
};
const warned = new Set<string>();
const defaultWarn = (text: string): void => {
  if (warned.has(text)) return;
  warned.add(text);
  process.emitWarning(text, { type: 'SocketkitWarning', code: 'SOCKETKIT_UNKNOWN_SETTING' });
};

function readSettings(file: { path: string; namedBy: string }, warn: (text: string) => void): SettingsValues {
  const text = readText(file, 'settings file');
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (cause) {
    throw configError(
      `settings file ${file.path} is not valid TOML: ${(cause as Error).message}`,
      { path: file.path, source: 'settings file' },
      cause,
    );
  }
  const out: SettingsValues = new Map();
  for (const [table, parts] of Object.entries(TABLE_PATHS) as Array<[SettingsTable, string[]]>) {
    let node: unknown = doc;
    for (const part of parts) node = node === undefined ? undefined : (node as Record<string, unknown>)[part];
    if (node === undefined) continue;
    if (node === null || typeof node !== 'object' || Array.isArray(node) || node instanceof Date) {
      throw configError(`${file.path} [${table}]: expected a table, got ${JSON.stringify(node)}`, {
        path: file.path,
        source: 'settings file',
        table,
      });
    }
    const known = CONFIG_KEYS.filter((k) => k.settings.table === table);
    for (const [key, value] of Object.entries(node)) {
      const spec = known.find((k) => k.settings.key === key);
      if (spec !== undefined) out.set(spec.path, { value, name: `${file.path} [${table}] ${key}` });
      else if (!(table === 'socket' && (key === 'unix' || key === 'tcp'))) {
        // Lenient, like the wire: the Python module's file may hold keys socketkit does not use.
        warn(`${file.path} [${table}] ${key}: not a socketkit setting, ignored`);
      }
    }
  }
  return out;
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

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Settings-file values arrive typed; TOML's `0o600` is a mode number, stored as socketkit's octal string. */
function fromSettings(spec: ConfigKey, value: unknown): unknown {
  if (spec.kind === 'octal' && typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0o777)
    return value.toString(8).padStart(4, '0');
  return value;
}

/**
 * Loads the socketkit configuration. Precedence, lowest first: defaults <
 * settings file (TOML, only when named) < `.env` file (only when named) <
 * environment variables < `overrides`. Every value is validated; times are
 * milliseconds (`SOCKET_DEFAULT_TIMEOUT` and the settings file's
 * `default_timeout` are seconds, converted here).
 *
 * @throws ValidationError `INVALID_CONFIG` naming the key, its source and the
 *   bad value, e.g. `SOCKET_TCP_PORT_RANGE_START="abc" (environment): expected an integer 1-65535`.
 */
export function loadConfig(overrides: ConfigOverrides = {}, options: LoadConfigOptions = {}): SocketConfig {
  const env = options.env ?? process.env;
  const envFile = pickFile(options.envFile, ENV_FILE_VAR, [env]);
  const dotenv: Record<string, string> = envFile === undefined ? {} : parseDotenv(readText(envFile, 'env file'));
  const settingsFile = pickFile(options.settingsFile, SETTINGS_FILE_VAR, [env, dotenv]);
  const settings: SettingsValues =
    settingsFile === undefined ? new Map() : readSettings(settingsFile, options.onWarning ?? defaultWarn);
  const config = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;

  for (const spec of CONFIG_KEYS) {
    const fromFile = settings.get(spec.path);
    const candidates: Array<[ConfigSource, unknown, string]> = [
      ['option', getPath(overrides, spec.path), spec.path],
      ['environment', env[spec.env], spec.env],
      ['.env', dotenv[spec.env], spec.env],
      ['settings file', fromFile === undefined ? undefined : fromSettings(spec, fromFile.value), fromFile?.name ?? ''],
    ];
    const found = candidates.find(([, value]) => value !== undefined);
    if (found === undefined) continue;
    const [source, raw, name] = found;
    const kind = source === 'option' ? spec.kind : (spec.envKind ?? spec.kind);
    const result = v.safeParse(KIND_SCHEMAS[kind], raw);
    if (!result.success) {
      const message = result.issues[0]?.message ?? 'invalid value';
      const where = source === '.env' ? `.env ${envFile?.path}` : source;
      throw configError(`${name}=${shown(raw)} (${where}): ${message}`, {
        key: spec.path,
        env: spec.env,
        source,
        value: raw,
      });
    }
    setPath(config, spec.path, result.output);
  }

  const result = config as unknown as SocketConfig;
  if (result.tcp.portRangeStart > result.tcp.portRangeEnd) {
    throw configError(
      `tcp.portRangeStart (${result.tcp.portRangeStart}) must not exceed tcp.portRangeEnd ` +
        `(${result.tcp.portRangeEnd}): set SOCKET_TCP_PORT_RANGE_START/END so that start <= end`,
      { key: 'tcp.portRangeStart' },
    );
  }
  return result;
}

/**
 * Checks one timeout in milliseconds (an engine option such as
 * `connectTimeout`): `Infinity` (none) or an integer 1..2^31−1.
 *
 * @throws ValidationError `INVALID_CONFIG` naming `name` and `source`.
 */
export function assertTimeoutMs(
  name: string,
  value: unknown,
  source: ConfigSource = 'option',
): asserts value is number {
  const result = v.safeParse(KIND_SCHEMAS.timeoutMs, value);
  if (!result.success)
    throw configError(`${name}=${shown(value)} (${source}): ${result.issues[0]?.message ?? 'invalid timeout'}`, {
      key: name,
      source,
      value,
    });
}

/** Parses an octal permission string such as `"0600"` into a mode number. */
export function parsePermissions(octal: string): number {
  return Number.parseInt(octal, 8);
}
