/**
 * @socketkit/nats — the socketkit server/client API across machines, backed
 * by a NATS server: the same msgpack frames, subjects derived from the event
 * name, broadcasts fanned out by NATS.
 * @packageDocumentation
 */
export {
  NatsSocketServer,
  NatsSocketClient,
  DEFAULT_NATS_HEARTBEAT_INTERVAL,
  NATS_SERVER_OPTION_RULES,
  NATS_CLIENT_OPTION_RULES,
} from './nats.js';
export type { NatsSocketServerOptions, NatsSocketClientOptions, NatsOptions } from './nats.js';
export {
  NatsServerTransport,
  NatsClientTransport,
  DEFAULT_NATS_SERVERS,
  NATS_BROADCAST_BATCH,
  DISCARD_REPORT_INTERVAL_MS,
  broadcastProblem,
} from './nats-transport.js';
export type { NatsLinkOptions } from './nats-transport.js';
export { NatsStream, AUTH_HEADROOM, MAX_HELD_BROADCAST_BYTES } from './nats-stream.js';
export type { StreamSecurity } from './nats-stream.js';
export type { BroadcastGrant } from './frame-auth.js';
export { AUTH_HEADER, KEY_HEADER } from './frame-auth.js';
export { subjectsFor, DEFAULT_SUBJECT_PREFIX } from './subjects.js';
export type { EventSubjects } from './subjects.js';
export * from '@socketkit/protocol';
export type {
  ClientInfo,
  RequestHandler,
  SocketServerEvents,
  SocketClientEvents,
  BackoffOptions,
  SocketLogger,
} from '@socketkit/core';
