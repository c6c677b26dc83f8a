/**
 * @socketkit/config — `loadConfig()`: defaults < `.env` < environment <
 * explicit options, validated with valibot, typed errors naming key, source
 * and value.
 * @packageDocumentation
 */
export { loadConfig, parsePermissions, CONFIG_KEYS } from './load-config.js';
export type { LoadConfigOptions } from './load-config.js';
export { DEFAULT_CONFIG } from './schema.js';
export type { SocketConfig, ConfigOverrides, UnixConfig, TcpConfig, LogLevel } from './schema.js';
