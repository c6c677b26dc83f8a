/**
 * @socketkit/core — the transport-agnostic server and client engine. A
 * transport (Unix, TCP, ...) only supplies streams through the small
 * {@link ServerTransport} / {@link ClientTransport} interfaces.
 * @packageDocumentation
 */
export { SocketServer } from './server.js';
export type {
  SocketServerOptions,
  SocketServerEvents,
  ClientInfo,
  RequestHandler,
  RequestContext,
  HandlerResult,
  SlowConsumerPolicy,
  ServerSettings,
  PeerRefusal,
  PeerDescription,
} from './server.js';
export { ServerPeer } from './server-peer.js';
export type { PeerState, DisconnectReason } from './server-peer.js';
export { SILENT_SERVER_GRACE_MS, SocketClient } from './client.js';
export type {
  SocketClientOptions,
  SocketClientEvents,
  ConnectOptions,
  WelcomeInfo,
  OfflineSendPolicy,
  ClientStateName,
  RequestOptions,
} from './client.js';
export { isStandardSchema, validateData } from './schema.js';
/** Checks a constructor's options against a rule table (re-exported from `@socketkit/config` for transport packages). */
export { checkOptions, optionRule } from '@socketkit/config';
export type { OptionRule, OptionRules, OptionRulesFor } from '@socketkit/config';
export type { StandardSchemaV1, Payload } from './schema.js';
export {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_SEND_BUFFER_BYTES,
  DEFAULT_MIN_UPTIME_MS,
  checkTimeout,
} from './client-options.js';
export type { ClientRole } from './client-options.js';
export type { ServerTransport, ClientTransport, TransportStream, ListenSettings, PendingHandshake } from './transport.js';
export { LogLimiter, LOG_LIMIT_INTERVAL_MS } from './log-limiter.js';
export { BatchShare, FramedConnection } from './connection.js';
export { duplexPair } from './duplex-pair.js';
export type { FramedConnectionHandlers } from './connection.js';
export { backoffDelay, DEFAULT_BACKOFF, DEFAULT_MAX_RETRIES } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { createLogger, silentLogger } from './logger.js';
export type { SocketLogger } from './logger.js';
export {
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HEARTBEAT_INTERVAL,
  DEFAULT_SEND_BUFFER_SIZE,
  DEFAULT_MAX_PENDING_REQUESTS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_MAX_UNAUTHENTICATED,
  DEFAULT_REGISTER_GRACE_MS,
  DEFAULT_FRAME_TIMEOUT_MS,
  DEFAULT_REFUSE_LINGER_MS,
  DEFAULT_MAX_REFUSING,
  DEFAULT_MAX_MONITORS,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_BACKLOG,
  MAX_TIMEOUT_MS,
} from './defaults.js';
export { HANDLER_ORIGIN, LIBRARY_ORIGIN, isLibraryError } from './wire.js';
export { mapConnectError } from './errors.js';
export { abortableDelay, awaitConnect, listenServer, closeServer } from './transport-util.js';
export { resolveServerSettings, validateTimeoutMs, SERVER_DEFAULTS } from './options.js';
export {
  resolveConfig,
  serverConfigDefaults,
  clientConfigDefaults,
  mergeDefined,
  clientEngineOptions,
  serverEngineOptions,
  omitRules,
  CONFIG_OPTION_RULES,
  BACKOFF_RULES,
  CLIENT_ENGINE_RULES,
  SERVER_ENGINE_RULES,
  SOCKET_DIR_TRUST_RULES,
} from './options.js';
export type { CommonConfigOptions, ServerConfigOptions, ClientConfigOptions } from './options.js';
export { Heartbeat, GLOBAL_TIMERS } from './heartbeat.js';
export type { HeartbeatOptions, HeartbeatTimers } from './heartbeat.js';
export { PeerCounters, ServerCounters, RateSampler, RATE_WINDOW_SECONDS } from './stats.js';
export type { ServerStats, ClientStats, ServerRates } from './stats.js';
export { renderPrometheus } from './metrics.js';
export { fetchStats } from './monitor.js';
export type { FetchStatsOptions } from './monitor.js';
export {
  prepareSocketDir,
  openServerSocketDir,
  checkDirPath,
  openSocketDir,
  sameFile,
  insecureError,
  dirTrustProblem,
  fileTrustProblem,
} from './socket-dir.js';
export type { SocketDirTrust, CheckedDir, PinnedDir } from './socket-dir.js';
export {
  ServerAuth,
  ClientAuth,
  checkHello,
  checkWelcomeEvent,
  deriveSessionKey,
  plainHello,
  validateToken,
  AUTH_PROTOCOL,
  MIN_TOKEN_BYTES,
  NONCE_BYTES,
} from './auth.js';
export type { AuthStep, AuthRefusal, RandomSource } from './auth.js';
