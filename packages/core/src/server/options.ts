import { optionRule as r, type OptionRulesFor } from '@socketkit/config';
import { ErrorCode, ValidationError, type MessageData, type SocketMessage } from '@socketkit/protocol';
import type { SocketLogger } from '../ops/logger.js';
import {
  CONFIG_DEFAULTS,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HEARTBEAT_INTERVAL,
  DEFAULT_HEARTBEAT_MISSES,
  DEFAULT_MAX_PENDING_BYTES,
  MAX_TIMEOUT_MS,
  mergeDefined,
  validateCount,
  validateInterval,
  validateTimeoutMs,
} from '../settings.js';
import type { ServerTransport } from '../transport.js';
import { SCHEMA_RULE, type StandardSchemaV1 } from '../wire/schema.js';

/** Default most clients at once on a server (`maxConnections`). */
export const DEFAULT_MAX_CONNECTIONS = 10;
/** Default time `drain()` waits for one client (ms). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5000;
/**
 * Default time a peer has to authenticate when the server has a token (ms):
 * short, a stalling peer holds a pre-auth slot no longer.
 */
export const DEFAULT_AUTH_TIMEOUT_MS = 3000;
/** Default most unauthenticated peers at once (token servers); the oldest is evicted when a new one arrives. */
export const DEFAULT_MAX_UNAUTHENTICATED = 32;
/**
 * Default most invalid messages (well framed, not a valid message) a peer may
 * send per second; past it the server disconnects it with `TOO_MANY_INVALID`.
 * Far above what a buggy but honest peer sends, low enough that a flood of
 * bad frames costs a bounded amount of work and log.
 */
export const DEFAULT_MAX_INVALID_PER_SECOND = 1000;
/** Default grace after which a peer that never said `hello` (a Python client) registers (ms). */
export const DEFAULT_REGISTER_GRACE_MS = 500;
/** Default time a peer has to finish a frame it started (ms). */
export const DEFAULT_FRAME_TIMEOUT_MS = 30_000;
/** Default linger of a refused connection: it gets its ERROR and is closed at the latest after this long (ms). */
export const DEFAULT_REFUSE_LINGER_MS = 1000;
/** Default most refused connections lingering at once; past it a refused socket is closed without its ERROR. */
export const DEFAULT_MAX_REFUSING = 32;
/**
 * Default most monitors at once (peers asking for stats; they hold no client
 * slot, so they have this bound of their own).
 */
export const DEFAULT_MAX_MONITORS = 4;
/** Default wait for the peer's own close once everything written was flushed (ms). */
export const DEFAULT_CLOSE_GRACE_MS = 250;
/** Default listen backlog (pending connections the kernel holds before `accept`). */
export const DEFAULT_BACKLOG = 511;

/** What to do with a client whose pending outbound bytes exceed `maxPendingBytes`. */
export type SlowConsumerPolicy = 'disconnect' | 'drop';

/** Context passed to a request handler. */
export interface RequestContext<TIn = MessageData> {
  /** The request message (has an `id`). */
  message: SocketMessage<TIn>;
  /** The client that sent it. */
  clientId: string;
}

/**
 * Answers client requests. The return value (a plain object, or any value,
 * which is wrapped as `{ value }`) is sent back with `reply_to`; return
 * `undefined` to answer later with `SocketServer.reply()`. A thrown error
 * is sent back as an ERROR reply carrying the error's own `code` (a string) or
 * `HANDLER_FAILED`, and its message: the client rejects with a `RemoteError`.
 * Without a handler, every request is answered at once with `NO_HANDLER`
 * unless a `message` listener answers it with `reply()` before it returns.
 * @typeParam TIn The request's data (checked by the server's `schema`, if any).
 * @typeParam TOut The reply's data; when given, the handler must return it
 *   (or `undefined`, or a promise of either). Default: anything.
 */
export type RequestHandler<TIn = MessageData, TOut = MessageData> = (
  data: TIn,
  context: RequestContext<TIn>,
) => HandlerResult<TOut>;

/**
 * What a {@link RequestHandler} returns: anything when `TOut` is the default,
 * else `TOut`, `undefined` or a promise of them.
 */
export type HandlerResult<TOut> = [MessageData] extends [TOut]
  ? unknown
  : // biome-ignore lint/suspicious/noConfusingVoidType: a handler answering later with reply() returns void
    TOut | undefined | void | PromiseLike<TOut | undefined | void>;

/**
 * Options of {@link SocketServer}. Transport packages fill them from the configuration.
 * @typeParam TIn The data clients send (inferred from `schema`).
 * @typeParam TOut The data the server sends and its handler returns.
 */
export interface SocketServerOptions<TIn = MessageData, TOut = MessageData> {
  /** Event name this server serves. */
  eventName: string;
  /** Where connections come from. */
  transport: ServerTransport;
  /**
   * Most clients at once; extra clients get ERROR `MAX_CONNECTIONS` (default
   * 10). With a token only authenticated peers count.
   */
  maxConnections?: number;
  /** Messages kept while no client is connected, oldest dropped first (default 100). */
  messageQueueSize?: number;
  /** Whether clients may send (default true). */
  allowClientSend?: boolean;
  /** Largest frame payload in bytes, both directions (default 1 MiB). */
  maxMessageSize?: number;
  /** `start()` resolves only after `stop()` (default false). */
  blockingMode?: boolean;
  /** IANA time zone of `timestamp_iso` (default UTC). */
  timezone?: string;
  /** Hard bound on bytes pending to one client (default 8 MiB). */
  maxPendingBytes?: number;
  /** Policy past `maxPendingBytes` (default `disconnect` with ERROR `SLOW_CONSUMER`). */
  slowConsumerPolicy?: SlowConsumerPolicy;
  /**
   * Longest time `drain()` waits for one client to fall under its high-water
   * mark (ms, default 5000). A client that does not drain in time gets the
   * slow-consumer policy, so a paced producer is never stalled by one reader.
   */
  drainTimeout?: number;
  /** Ping interval in ms for clients that did the handshake; 0 = off (default). */
  heartbeatInterval?: number;
  /** Silence (ms) after which a heartbeat client is dropped (default 2 × interval + interval). */
  heartbeatTimeout?: number;
  /**
   * Graceful close per client on stop or disconnect: destroyed after this
   * long without flush progress (ms, default 2000).
   */
  closeTimeout?: number;
  /**
   * Shared secret (16+ bytes) clients must prove they know, by
   * challenge-response: it never crosses the wire (protocol 2). Optional.
   */
  token?: string;
  /** Time a client has to complete authentication (ms, default 3000). */
  authTimeout?: number;
  /**
   * Most connections waiting to be admitted at once (default 32; without a
   * token, this plus the free client slots): peers that have not yet
   * registered (said hello, authenticated or ended their grace) and, over
   * TLS, sockets still in their TLS handshake. None of them holds a client
   * slot. A new connection evicts the oldest silent one (ERROR
   * `ADMISSION_FULL`, retryable: a client reconnects with backoff); a token
   * peer that said hello and got its challenge is never evicted, so when
   * only such peers wait the new connection is refused `ADMISSION_FULL`.
   */
  maxUnauthenticated?: number;
  /**
   * Most invalid messages (well framed, not a valid message: skipped and
   * reported) one peer may send per second (default 1000; `Infinity`: no
   * bound). Past it the peer is disconnected with ERROR `TOO_MANY_INVALID`.
   */
  maxInvalidPerSecond?: number;
  /** A peer that never says `hello` (a Python client) registers after this grace, in ms (default 500). */
  registerGraceMs?: number;
  /** A peer that starts a frame must finish it within this many ms (default 30000). */
  frameTimeoutMs?: number;
  /** A refused peer gets its ERROR and is closed at the latest after this many ms (default 1000). */
  refuseLingerMs?: number;
  /** Most refused connections lingering at once; past it a refused socket is closed at once (default 32). */
  maxRefusing?: number;
  /** Wait for a peer's own close once everything written to it was flushed, in ms (default 250). */
  closeGraceMs?: number;
  /** Listen backlog, for transports that listen on a socket (default 511). */
  backlog?: number;
  /**
   * Every peer must say `hello` within `authTimeout` (default false; the
   * NATS server sets it: no Python peer speaks NATS, so a silent peer is a
   * dead one and must not hold a slot).
   */
  requireHello?: boolean;
  /**
   * Answer monitors (`hello` with `role: "monitor"`, then `{op: "stats"}`)
   * with `SocketServer.stats()` (engine default false; the unix server
   * turns it on when only its owner can reach the socket, the tcp server
   * when a token is set).
   */
  exposeStats?: boolean;
  /**
   * Most monitors at once (default 4). A monitor holds no client slot, so
   * this is its own bound: one more is refused `MAX_CONNECTIONS`. It also
   * bounds the peers a full server without a token keeps for a moment to
   * see whether they are monitors (see PROTOCOL.md, "Monitors and stats").
   */
  maxMonitors?: number;
  /**
   * Count messages and bytes per client and in total for `SocketServer.stats()`
   * (default true; a few additions per message, measured by `bench:stats`).
   * When false, traffic counters stay 0; clients, queue and refusals are still reported.
   */
  collectStats?: boolean;
  /** Request handler (see {@link RequestHandler}). */
  handler?: RequestHandler<NoInfer<TIn>, NoInfer<TOut>>;
  /**
   * Checks the `data` of every DATA message from clients (requests included)
   * before `message` listeners and the handler see it, and types it: any
   * Standard Schema (valibot ≥ 1, zod ≥ 3.24, arktype). A message it refuses
   * is skipped and reported like any invalid message (`error` event
   * `INVALID_MESSAGE` with the client id, counted in `stats().totals.invalidMessages`);
   * a refused request is answered with ERROR `INVALID_MESSAGE` at once. The
   * schema's output (after transforms) is what the application gets. Must be synchronous.
   */
  schema?: StandardSchemaV1<unknown, TIn>;
  /** Logger (default: tslog at `logLevel`). */
  logger?: SocketLogger;
  /** Level of the default logger (default `info`). */
  logLevel?: string;
}

/** A connected client as reported by `SocketServer.getConnectedClients()`. */
export interface ClientInfo {
  /** Unique id, `client_<n>_<ms>`. */
  id: string;
  /** Epoch ms of the connection. */
  connectedAt: number;
  /** True once the client announced itself with `hello`. */
  handshake: boolean;
  /**
   * `sender` when its hello said `role: "sender"` (`socketkit send`): it
   * never takes the no-client queue and gets no broadcasts; `client` otherwise.
   */
  role: 'client' | 'sender';
  /** Bytes written to this client not yet taken by the kernel. */
  pendingBytes: number;
}

/** Effective server settings after defaults (times in ms). */
export type ServerSettings = Required<
  Omit<SocketServerOptions, 'token' | 'handler' | 'schema' | 'logger' | 'logLevel' | 'transport' | 'eventName'>
>;

/** Who a refused peer was, as far as the server knows (see {@link PeerRefusal}). */
export interface PeerDescription {
  /** The id the peer had on this server (`client_<n>_<ms>`); absent for a socket refused in its TLS handshake. */
  id?: string;
  /** Transport kind: `unix`, `tcp`, `nats`, ... */
  transport: string;
  /** Remote address (`host:port`) when the transport has one (TCP). */
  address?: string;
}

/** Argument of the server's `peerRefused` event. */
export interface PeerRefusal {
  /**
   * The error code the peer was refused with (`UNAUTHORIZED`,
   * `ADMISSION_FULL`, `MAX_CONNECTIONS`, `WRONG_EVENT`, `TOO_MANY_INVALID`, ...).
   */
  code: string;
  /** What happened, as written to the peer's ERROR message (or, when nothing could be written, to the log). */
  reason: string;
  /** Who was refused. */
  peer: PeerDescription;
}

const TIMEOUT = r.timeoutMs();

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
  const given = mergeDefined<ServerSettings>(SERVER_DEFAULTS, options as unknown as Partial<ServerSettings>) as Omit<
    ServerSettings,
    'heartbeatTimeout'
  > & {
    heartbeatTimeout?: number;
  };
  const s: ServerSettings = {
    ...given,
    heartbeatTimeout:
      given.heartbeatTimeout !== undefined
        ? given.heartbeatTimeout
        : given.heartbeatInterval * (DEFAULT_HEARTBEAT_MISSES + 1),
  };
  for (const key of [
    'drainTimeout',
    'closeTimeout',
    'authTimeout',
    'registerGraceMs',
    'frameTimeoutMs',
    'refuseLingerMs',
    'closeGraceMs',
  ] as const)
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
      `invalid maxInvalidPerSecond ${String(s.maxInvalidPerSecond)} (option): ` +
        'expected an integer >= 1, or Infinity for no bound',
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
