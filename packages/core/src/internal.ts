/**
 * `@socketkit/core/internal`: what the transport packages, the CLI and the
 * tests of this repository need from the engine, beyond the public API: the
 * options pipeline (rule tables, configuration glue), the per-connection
 * plumbing (framing, heartbeat, auth) and the counters. Like nats.js's
 * `/internal`, it is not covered by semver: applications use `@socketkit/core`
 * (or the `socketkit` facade). The same names are still exported from the main
 * entry, deprecated there, and will leave it in the next major version.
 * @packageDocumentation
 */
export {
  CONFIG_OPTION_RULES,
  clientConfigDefaults,
  clientEngineOptions,
  omitRules,
  resolveConfig,
  serverConfigDefaults,
  serverEngineOptions,
  TRANSPORT_CLIENT_RULES,
  TRANSPORT_SERVER_RULES,
} from './engine.js';
export type { ClientConfigOptions, CommonConfigOptions, ServerConfigOptions } from './engine.js';
export { BACKOFF_RULES, CLIENT_ENGINE_RULES, checkTimeout } from './client/options.js';
export { SERVER_DEFAULTS, SERVER_ENGINE_RULES, resolveServerSettings } from './server/options.js';
export { ServerPeer } from './server/peer.js';
export type { DisconnectReason, PeerState } from './server/peer.js';
export { abortableDelay, mergeDefined, validateTimeoutMs } from './settings.js';
export { checkOptions, optionRule } from '@socketkit/config';
export type { OptionRule, OptionRules, OptionRulesFor } from '@socketkit/config';
export { BatchShare, FrameRun, FramedConnection, SplitFrame } from './wire/connection.js';
export type { FramedConnectionHandlers, OutFrame } from './wire/connection.js';
export { GLOBAL_TIMERS, Heartbeat } from './wire/heartbeat.js';
export type { HeartbeatOptions, HeartbeatTimers } from './wire/heartbeat.js';
export { HANDLER_ORIGIN, LIBRARY_ORIGIN, isLibraryError } from './wire/frames.js';
export {
  AUTH_PROTOCOL,
  ClientAuth,
  MIN_TOKEN_BYTES,
  NONCE_BYTES,
  ServerAuth,
  checkHello,
  checkWelcomeEvent,
  deriveSessionKey,
  plainHello,
  validateToken,
} from './wire/auth.js';
export type { AuthRefusal, AuthStep, RandomSource } from './wire/auth.js';
export { LOG_LIMIT_INTERVAL_MS, LogLimiter } from './ops/log-limiter.js';
export { PeerCounters, RATE_WINDOW_SECONDS, RateSampler, ServerCounters } from './ops/stats.js';
