import { optionRule as r, type OptionRulesFor } from '@socketkit/config';
import { ErrorCode, ValidationError } from '@socketkit/protocol';
import { validateToken } from '../wire/auth.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import {
  CONFIG_DEFAULTS,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HEARTBEAT_INTERVAL,
  DEFAULT_HEARTBEAT_MISSES,
  DEFAULT_MAX_PENDING_BYTES,
  MAX_TIMEOUT_MS,
  validateTimeoutMs,
} from '../settings.js';
import type { MessageData } from '@socketkit/protocol';
import type { SocketLogger } from '../ops/logger.js';
import { SCHEMA_RULE, type StandardSchemaV1 } from '../wire/schema.js';
import type { ClientTransport } from '../transport.js';

/** Default bound on messages buffered by a client while disconnected. */
export const DEFAULT_SEND_BUFFER_SIZE = 1000;
/** Default bound on requests in flight per client. */
export const DEFAULT_MAX_PENDING_REQUESTS = 10000;
/** Default bound on bytes held in a client's receive buffer before it stops reading (4 MiB). */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Default bound on bytes of messages buffered while disconnected (8 MiB, like `maxPendingBytes`). */
export const DEFAULT_SEND_BUFFER_BYTES = DEFAULT_MAX_PENDING_BYTES;
/** Default time a connection must stay up before the reconnect backoff starts over (ms). */
export const DEFAULT_MIN_UPTIME_MS = 2000;

/** What `send()` does while the client is disconnected (between reconnects). */
export type OfflineSendPolicy = 'buffer' | 'reject';

/**
 * Options of {@link SocketClient}. Transport packages fill them from the configuration.
 * @typeParam T The type of `data` of received messages (inferred from `schema`).
 */
export interface SocketClientOptions<T = MessageData> {
  /** Event name to connect to. */
  eventName: string;
  /** How to reach the server. */
  transport: ClientTransport;
  /** Connect timeout in ms (default `defaultTimeoutMs` = 5000); `Infinity` for none. */
  connectTimeout?: number;
  /** Default `receive()` / `request()` timeout in ms (default 5000); `Infinity` for none. */
  defaultTimeoutMs?: number;
  /** @deprecated Same as `defaultTimeoutMs` (milliseconds here, unlike the seconds of the configuration key). */
  defaultTimeout?: number;
  /** Reconnect after an unexpected disconnect (default true). */
  autoReconnect?: boolean;
  /**
   * Backoff of reconnect attempts (100 ms ×2 up to 5 s, ±25 %, at most 30
   * attempts: about two minutes; `maxRetries: Infinity` never gives up). Also
   * paces `connect({ waitForServer })`.
   */
  reconnect?: BackoffOptions;
  /**
   * A connection must stay up this long (ms), or deliver a message, before the
   * reconnect backoff starts over (default 2000). A server that accepts and
   * closes at once is therefore re-dialled ever more slowly, never every 100 ms.
   */
  minUptimeMs?: number;
  /**
   * Keep incoming messages for `receive()` and `for await` (default true). A
   * `message` listener sees every message either way. Set false when only
   * listeners consume messages: nothing is buffered and `receive()` rejects.
   */
  bufferMessages?: boolean;
  /** Receive buffer bound in messages; when full the client stops reading the socket (default 4096). */
  bufferSize?: number;
  /**
   * Receive buffer bound in bytes of frame payload; when reached the client
   * stops reading the socket (default 4 MiB).
   */
  maxBufferedBytes?: number;
  /** While disconnected: `buffer` sends (flushed first on reconnect) or `reject` them (default `buffer`). */
  offlineSend?: OfflineSendPolicy;
  /** Bound on messages buffered while disconnected (default 1000). */
  sendBufferSize?: number;
  /** Bound on bytes buffered while disconnected (default 8 MiB). */
  sendBufferBytes?: number;
  /**
   * Hard bound on bytes written to the connection but not yet taken by the
   * OS; past it `send()` throws `BUFFER_FULL` (default 8 MiB).
   */
  maxPendingBytes?: number;
  /** Largest frame payload in bytes (default 1 MiB). */
  maxMessageSize?: number;
  /** Announce with `hello` (default true). Set false for servers that do not speak the handshake. */
  handshake?: boolean;
  /**
   * `sender` announces a send-only connection in its `hello` (`role:
   * "sender"`, as `socketkit send` does): the server registers it (a client
   * slot, `clientConnected`, its messages and requests are answered) but
   * never gives it the no-client queue or broadcasts, and it does not count
   * as a client for the queue rule, so messages keep queueing for the next
   * real client. A server that predates the role ignores the field (its welcome
   * then has no `role`). Needs the handshake. Default `client`.
   */
  role?: ClientRole;
  /**
   * Shared secret (16+ bytes) of servers that require one. Client and server
   * prove to each other that they know it by challenge-response; it never
   * crosses the wire, and a server that cannot prove it is refused
   * (`UNAUTHORIZED`). Sends wait until the server is authenticated.
   */
  token?: string;
  /** Ping interval in ms (0 = off, default); only toward a server that sent `welcome`. */
  heartbeatInterval?: number;
  /** Silence in ms after which a welcomed server is considered dead (default 3 × interval). */
  heartbeatTimeout?: number;
  /**
   * Graceful close (disconnect, refusal) gives up and destroys the socket
   * after this long without progress (ms, default 2000).
   */
  closeTimeout?: number;
  /** Bound on requests in flight (default 10000). */
  maxPendingRequests?: number;
  /** IANA time zone of `timestamp_iso` (default UTC). */
  timezone?: string;
  /** Logger (default: tslog at `logLevel`). */
  logger?: SocketLogger;
  /** Level of the default logger (default `info`). */
  logLevel?: string;
  /**
   * Checks the `data` of every DATA message from the server before the
   * application sees it, and types it: any Standard Schema (valibot ≥ 1,
   * zod ≥ 3.24, arktype). A message it refuses is skipped and reported like
   * any invalid message (`error` event `INVALID_MESSAGE` naming the path of
   * each issue, counted in `invalidMessages`); the schema's output (after
   * transforms) is what `message` listeners, `for await` and `receive()`
   * get. Must be synchronous. Replies are not checked by it (see
   * `request(data, { schema })`).
   */
  schema?: StandardSchemaV1<unknown, T>;
}

/** Options of {@link SocketClient.connect}. */
export interface ConnectOptions {
  /** Overrides the connect timeout (ms); `Infinity` for none. */
  timeout?: number;
  /**
   * Wait for the server's answer to `hello` before resolving (default: yes,
   * unless `handshake: false`). Undefined (the default): resolves on the
   * `welcome`, or on the first frame of a server that does not speak the
   * handshake, and rejects with the server's refusal (`MAX_CONNECTIONS`,
   * `UNAUTHORIZED`, ...), which is final: no reconnect. `true`: wait for a
   * `welcome` only. `false`: resolve as soon as the stream is open (a refusal
   * then comes as an `error` event and is retried with backoff).
   */
  waitForWelcome?: boolean;
  /**
   * While the server is not there yet (`SOCKET_NOT_FOUND`,
   * `SERVER_NOT_RUNNING`), keep dialling with the reconnect backoff instead
   * of rejecting at once: `true` waits up to the connect timeout (`timeout`,
   * which may be `Infinity`), a number waits at most that many ms. Default
   * false: fail fast, as nats.js does without `waitOnFirstConnect`, so a
   * wrong `socketDir`, port or event name is reported at once rather than
   * waited on. Other errors (`PERMISSION_DENIED`, `INSECURE_SOCKET_DIR`, ...)
   * are never waited on.
   */
  waitForServer?: boolean | number;
}

/** What every part of one client (session, dial, outbox, delivery) knows of it. */
export interface ClientContext {
  readonly eventName: string;
  readonly transport: ClientTransport;
  readonly log: SocketLogger;
  readonly options: ResolvedClientOptions;
}

/** The resolved client options (every default applied, every bound checked). */
export interface ResolvedClientOptions {
  connectTimeout: number;
  defaultTimeout: number;
  autoReconnect: boolean;
  reconnect: Required<BackoffOptions>;
  minUptimeMs: number;
  bufferMessages: boolean;
  bufferSize: number;
  maxBufferedBytes: number;
  offlineSend: OfflineSendPolicy;
  sendBufferSize: number;
  sendBufferBytes: number;
  maxPendingBytes: number;
  maxMessageSize: number;
  handshake: boolean;
  role: ClientRole;
  token: string | undefined;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  closeTimeout: number;
  maxPendingRequests: number;
  timezone: string;
}

/** What a client announces in its `hello` (see {@link SocketClientOptions.role}). */
export type ClientRole = 'client' | 'sender';

/**
 * The role's one rule the option table cannot state: `sender` is announced in
 * the hello, so it needs the handshake. (Any other value than `client` /
 * `sender` was refused by CLIENT_ENGINE_RULES before this runs.)
 * @throws ValidationError `INVALID_CONFIG` for `sender` without the handshake.
 */
function checkRole(role: ClientRole | undefined, handshake: boolean): ClientRole {
  if (role === 'sender' && !handshake) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      'role "sender" is announced in the hello: it needs handshake: true',
      {
        details: { key: 'role', value: role },
      },
    );
  }
  return role ?? 'client';
}

/**
 * A timeout is `Infinity` (none) or an integer from 1 to 2^31−1 ms (the one
 * rule, {@link validateTimeoutMs}).
 * @throws ValidationError `INVALID_CONFIG` naming `key`.
 */
export function checkTimeout(key: string, value: number): number {
  return validateTimeoutMs(key, value);
}

/**
 * The wait of `connect({ waitForServer })` in ms: 0 (do not wait), the
 * connect timeout for `true`, or the number given (capped by the timeout).
 * @throws ValidationError `INVALID_CONFIG` for anything else.
 */
export function checkWaitForServer(value: boolean | number | undefined, timeout: number): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return timeout;
  if (typeof value === 'number') return Math.min(checkTimeout('waitForServer', value), timeout);
  throw new ValidationError(
    ErrorCode.INVALID_CONFIG,
    `waitForServer is ${typeof value} ${String(value)}: use true, false or a number of ms`,
    {
      details: { key: 'waitForServer', value },
    },
  );
}

function checkPositive(key: string, value: number): number {
  if (Number.isInteger(value) && value >= 1) return value;
  if (value === Number.POSITIVE_INFINITY && key === 'reconnect.maxRetries') return value;
  throw new ValidationError(ErrorCode.INVALID_CONFIG, `${key} is ${String(value)}: use a positive integer`, {
    details: { key, value },
  });
}

/** Applies the defaults of every client option once and checks every bound. */
export function resolveClientOptions<T>(o: SocketClientOptions<T>): ResolvedClientOptions {
  const defaultTimeout = checkTimeout(
    'defaultTimeoutMs',
    o.defaultTimeoutMs ?? o.defaultTimeout ?? CONFIG_DEFAULTS.defaultTimeoutMs,
  );
  const interval = o.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL;
  if (!(Number.isInteger(interval) && interval >= 0 && interval <= MAX_TIMEOUT_MS)) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `heartbeatInterval is ${String(interval)} ms: use 0 (off) or an integer up to ${MAX_TIMEOUT_MS} ms`,
      {
        details: { key: 'heartbeatInterval', value: interval },
      },
    );
  }
  const reconnect = { ...DEFAULT_BACKOFF, ...o.reconnect };
  if (reconnect.maxRetries !== Number.POSITIVE_INFINITY) checkPositive('reconnect.maxRetries', reconnect.maxRetries);
  return {
    connectTimeout: checkTimeout('connectTimeout', o.connectTimeout ?? defaultTimeout),
    defaultTimeout,
    autoReconnect: o.autoReconnect ?? true,
    reconnect,
    minUptimeMs: checkTimeout('minUptimeMs', o.minUptimeMs ?? DEFAULT_MIN_UPTIME_MS),
    bufferMessages: o.bufferMessages ?? true,
    bufferSize: checkPositive('bufferSize', o.bufferSize ?? CONFIG_DEFAULTS.bufferSize),
    maxBufferedBytes: checkPositive('maxBufferedBytes', o.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES),
    offlineSend: o.offlineSend ?? 'buffer',
    sendBufferSize: checkPositive('sendBufferSize', o.sendBufferSize ?? DEFAULT_SEND_BUFFER_SIZE),
    sendBufferBytes: checkPositive('sendBufferBytes', o.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES),
    maxPendingBytes: checkPositive('maxPendingBytes', o.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES),
    maxMessageSize: checkPositive('maxMessageSize', o.maxMessageSize ?? CONFIG_DEFAULTS.maxMessageSize),
    handshake: o.handshake ?? true,
    role: checkRole(o.role, o.handshake ?? true),
    token: validateToken(o.token, o.eventName),
    heartbeatInterval: interval,
    heartbeatTimeout:
      interval > 0
        ? checkTimeout('heartbeatTimeout', o.heartbeatTimeout ?? interval * (DEFAULT_HEARTBEAT_MISSES + 1))
        : 0,
    closeTimeout: checkTimeout('closeTimeout', o.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT),
    maxPendingRequests: checkPositive('maxPendingRequests', o.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS),
    timezone: o.timezone ?? CONFIG_DEFAULTS.timezone,
  };
}

const TIMEOUT = r.timeoutMs();

/** Rules of {@link BackoffOptions} (the client's `reconnect`). */
export const BACKOFF_RULES: OptionRulesFor<BackoffOptions> = Object.freeze({
  initialDelay: r.int(0, MAX_TIMEOUT_MS),
  multiplier: r.number(1, 1000),
  maxDelay: r.int(0, MAX_TIMEOUT_MS),
  jitter: r.number(0, 1),
  maxRetries: r.int(1, undefined, true),
});

/**
 * Every key of {@link SocketClientOptions} with its rule: the one list the
 * engine and every transport's client check options against (unknown keys
 * and wrong types, in plain JavaScript too).
 */
export const CLIENT_ENGINE_RULES: OptionRulesFor<SocketClientOptions> = Object.freeze({
  eventName: r.string(),
  transport: r.object('a ClientTransport'),
  connectTimeout: TIMEOUT,
  defaultTimeoutMs: TIMEOUT,
  defaultTimeout: TIMEOUT,
  autoReconnect: r.boolean(),
  reconnect: r.nested(BACKOFF_RULES),
  minUptimeMs: TIMEOUT,
  bufferMessages: r.boolean(),
  bufferSize: r.int(1),
  maxBufferedBytes: r.int(1),
  offlineSend: r.oneOf('buffer', 'reject'),
  sendBufferSize: r.int(1),
  sendBufferBytes: r.int(1),
  maxPendingBytes: r.int(1),
  maxMessageSize: r.int(1),
  handshake: r.boolean(),
  token: r.secret(),
  heartbeatInterval: r.int(0, MAX_TIMEOUT_MS),
  heartbeatTimeout: TIMEOUT,
  closeTimeout: TIMEOUT,
  maxPendingRequests: r.int(1),
  timezone: r.string(),
  logger: r.object('a logger (an object with debug, info, warn and error)'),
  logLevel: r.string(),
  schema: SCHEMA_RULE,
  role: r.oneOf('client', 'sender'),
});
