/**
 * @socketkit/core — the transport-agnostic server and client engine. A
 * transport (Unix, TCP, ...) only supplies streams through the small
 * {@link ServerTransport} / {@link ClientTransport} interfaces.
 * @packageDocumentation
 */
export { SocketServer } from './server/server.js';
export type { SocketServerEvents } from './server/server.js';
export type {
  SocketServerOptions,
  ClientInfo,
  RequestHandler,
  RequestContext,
  HandlerResult,
  SlowConsumerPolicy,
  ServerSettings,
  PeerRefusal,
  PeerDescription,
} from './server/options.js';
export { ServerPeer } from './server/peer.js';
export type { PeerState, DisconnectReason } from './server/peer.js';
export { SILENT_SERVER_GRACE_MS, SocketClient } from './client/client.js';
export type {
  SocketClientOptions,
  SocketClientEvents,
  ConnectOptions,
  WelcomeInfo,
  OfflineSendPolicy,
  ClientStateName,
  RequestOptions,
} from './client/client.js';
export { isStandardSchema, validateData } from './wire/schema.js';
/**
 * Checks a constructor's options against a rule table (re-exported from `@socketkit/config` for transport packages).
 */
export { checkOptions, optionRule } from '@socketkit/config';
export type { OptionRule, OptionRules, OptionRulesFor } from '@socketkit/config';
export type { StandardSchemaV1, Payload } from './wire/schema.js';
export {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_SEND_BUFFER_BYTES,
  DEFAULT_MIN_UPTIME_MS,
  checkTimeout,
} from './client/options.js';
export type { ClientRole } from './client/options.js';
export type {
  ServerTransport,
  ClientTransport,
  TransportStream,
  ListenSettings,
  PendingHandshake,
} from './transport.js';
export { LogLimiter, LOG_LIMIT_INTERVAL_MS } from './ops/log-limiter.js';
export { BatchShare, FrameRun, FramedConnection, SplitFrame } from './wire/connection.js';
export { duplexPair } from './duplex-pair.js';
export type { FramedConnectionHandlers, OutFrame } from './wire/connection.js';
export { backoffDelay, DEFAULT_BACKOFF, DEFAULT_MAX_RETRIES } from './client/backoff.js';
export type { BackoffOptions } from './client/backoff.js';
export { createLogger, silentLogger } from './ops/logger.js';
export type { SocketLogger } from './ops/logger.js';
export {
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HEARTBEAT_INTERVAL,
  MAX_TIMEOUT_MS,
} from './settings.js';
export { DEFAULT_SEND_BUFFER_SIZE, DEFAULT_MAX_PENDING_REQUESTS } from './client/options.js';
export {
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
} from './server/options.js';
export { HANDLER_ORIGIN, LIBRARY_ORIGIN, isLibraryError } from './wire/frames.js';
export { mapConnectError } from './net/connect-error.js';
export { awaitConnect, listenServer, closeServer } from './net/listen.js';
export { abortableDelay, validateTimeoutMs, mergeDefined } from './settings.js';
export { resolveServerSettings, SERVER_DEFAULTS, SERVER_ENGINE_RULES } from './server/options.js';
export { BACKOFF_RULES, CLIENT_ENGINE_RULES } from './client/options.js';
export { SOCKET_DIR_TRUST_RULES } from './net/socket-dir.js';
export {
  resolveConfig,
  serverConfigDefaults,
  clientConfigDefaults,
  clientEngineOptions,
  serverEngineOptions,
  omitRules,
  CONFIG_OPTION_RULES,
} from './engine.js';
export type { CommonConfigOptions, ServerConfigOptions, ClientConfigOptions } from './engine.js';
export { Heartbeat, GLOBAL_TIMERS } from './wire/heartbeat.js';
export type { HeartbeatOptions, HeartbeatTimers } from './wire/heartbeat.js';
export { PeerCounters, ServerCounters, RateSampler, RATE_WINDOW_SECONDS } from './ops/stats.js';
export type { ServerStats, ClientStats, ServerRates } from './ops/stats.js';
export { renderPrometheus } from './ops/metrics.js';
export { fetchStats } from './ops/monitor.js';
export type { FetchStatsOptions } from './ops/monitor.js';
export {
  prepareSocketDir,
  openServerSocketDir,
  checkDirPath,
  openSocketDir,
  sameFile,
  insecureError,
  dirTrustProblem,
  fileTrustProblem,
} from './net/socket-dir.js';
export type { SocketDirTrust, CheckedDir, PinnedDir } from './net/socket-dir.js';
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
} from './wire/auth.js';
export type { AuthStep, AuthRefusal, RandomSource } from './wire/auth.js';
