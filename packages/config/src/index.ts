/**
 * @socketkit/config — `loadConfig()`: defaults < settings file (TOML, shared
 * with the Python module) < `.env` < environment < explicit options, each
 * file read only when named; validated with valibot, typed errors naming key,
 * source and value. Every key is listed once, in `CONFIG_KEYS`.
 * @packageDocumentation
 */
export { loadConfig, parsePermissions, assertTimeoutMs, ENV_FILE_VAR, SETTINGS_FILE_VAR } from './load-config.js';
export type { LoadConfigOptions, ConfigSource } from './load-config.js';
export {
  CONFIG_KEYS,
  DEFAULT_CONFIG,
  LOG_LEVELS,
  MAX_TIMEOUT_MS,
  MAX_TIMEOUT_SECONDS,
  isValidTimeoutMs,
} from './keys.js';
export type { ConfigKey, ConfigKind, SettingsTable } from './keys.js';
export type {
  SocketConfig,
  ConfigOverrides,
  UnixConfig,
  TcpConfig,
  LogLevel,
  ConfigPath,
  ConfigValue,
} from './schema.js';
export { checkOptions, optionRule, describeValue, nearestKey, editDistance } from './option-rules.js';
export type { OptionRule, OptionRules, OptionRulesFor } from './option-rules.js';
export { readTrustedFile, MAX_TRUSTED_FILE_BYTES } from './trusted-file.js';
export type { ReadTrustedFileOptions, TrustedFileKind } from './trusted-file.js';
