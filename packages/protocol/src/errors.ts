/**
 * Stable error codes carried by {@link SocketError.code} and by ERROR messages
 * on the wire (`data.code`). Codes never change meaning between versions.
 */
export const ErrorCode = {
  INVALID_EVENT_NAME: 'INVALID_EVENT_NAME',
  INVALID_CONFIG: 'INVALID_CONFIG',
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  SOCKET_NOT_FOUND: 'SOCKET_NOT_FOUND',
  SERVER_NOT_RUNNING: 'SERVER_NOT_RUNNING',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  ADDRESS_IN_USE: 'ADDRESS_IN_USE',
  PORT_RANGE_EXHAUSTED: 'PORT_RANGE_EXHAUSTED',
  MAX_CONNECTIONS: 'MAX_CONNECTIONS',
  SEND_NOT_ALLOWED: 'SEND_NOT_ALLOWED',
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  MALFORMED_FRAME: 'MALFORMED_FRAME',
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  TIMEOUT: 'TIMEOUT',
  NOT_CONNECTED: 'NOT_CONNECTED',
  INSECURE_SOCKET_DIR: 'INSECURE_SOCKET_DIR',
  UNAUTHORIZED: 'UNAUTHORIZED',
  UNKNOWN_CLIENT: 'UNKNOWN_CLIENT',
  NOT_RUNNING: 'NOT_RUNNING',
  BUFFER_FULL: 'BUFFER_FULL',
  CLOSED: 'CLOSED',
  CONNECTION_LOST: 'CONNECTION_LOST',
  HANDLER_FAILED: 'HANDLER_FAILED',
  REMOTE_ERROR: 'REMOTE_ERROR',
  /** `connect()` was called while a connect is already in progress. */
  CONNECT_IN_PROGRESS: 'CONNECT_IN_PROGRESS',
  /** A monitor asked a server that does not expose stats (`exposeStats`). */
  STATS_DISABLED: 'STATS_DISABLED',
  /** A TCP hello (or welcome) names another event than the server's. */
  WRONG_EVENT: 'WRONG_EVENT',
  /** A TCP server would bind a non-loopback address with neither token nor TLS. */
  INSECURE_BIND: 'INSECURE_BIND',
  /** A token server refused a protocol-1 hello (the token would travel in clear). */
  PROTOCOL_MISMATCH: 'PROTOCOL_MISMATCH',
  /**
   * The listening socket failed to accept a connection (e.g. EMFILE/ENFILE: out of file descriptors); the server keeps
   * listening.
   */
  ACCEPT_FAILED: 'ACCEPT_FAILED',
  /**
   * A token session over NATS dropped a message the peer did not authenticate (a forged, replayed or stale publish).
   */
  UNAUTHENTICATED_FRAME: 'UNAUTHENTICATED_FRAME',
  /**
   * Too many connections were waiting to be admitted (`maxUnauthenticated`):
   * this one was evicted (the oldest silent one) or refused. Retryable: a
   * client reconnects with backoff.
   */
  ADMISSION_FULL: 'ADMISSION_FULL',
  /** The peer sent more invalid messages per second than `maxInvalidPerSecond`: disconnected. */
  TOO_MANY_INVALID: 'TOO_MANY_INVALID',
  /**
   * A request reached a server that has no request handler (and no
   * `message` listener answered it): it fails at once instead of waiting out
   * its timeout.
   */
  NO_HANDLER: 'NO_HANDLER',
  /**
   * The server does not answer requests: it never sent a `welcome` (it does
   * not speak the handshake, e.g. the Python module, which drops `id`).
   */
  REQUESTS_UNSUPPORTED: 'REQUESTS_UNSUPPORTED',
  /**
   * The client gave up reconnecting after `reconnect.maxRetries` attempts
   * (default 30, about two minutes): it is closed, `for await` ends with this
   * error.
   */
  RECONNECT_FAILED: 'RECONNECT_FAILED',
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Extra context attached to an error (event name, path, key, ...). */
export type ErrorDetails = Record<string, unknown>;

/** Options accepted by every socketkit error constructor. */
export interface SocketErrorOptions {
  /** The underlying error, e.g. a Node `ENOENT` system error. */
  cause?: unknown;
  /** Structured context for logs and programmatic handling. */
  details?: ErrorDetails;
}

/**
 * Base class of every error socketkit throws or emits. `code` is stable and
 * machine-readable; `message` says what happened, where, and what to do.
 */
export class SocketError extends Error {
  /** Stable machine-readable code, one of {@link ErrorCode}. */
  readonly code: ErrorCode;
  /** Structured context (event name, path, limit, ...). */
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: SocketErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** Connecting, listening or a live connection failed. */
export class ConnectionError extends SocketError {}

/** The server refused the connection because it already has `maxConnections` clients. */
export class MaxConnectionsError extends ConnectionError {
  constructor(message: string, options: SocketErrorOptions = {}) {
    super(ErrorCode.MAX_CONNECTIONS, message, options);
  }
}

/** A frame or message could not be encoded, decoded or accepted. */
export class MessageError extends SocketError {}

/** An argument, option or configuration value is invalid. */
export class ValidationError extends SocketError {}

/** An operation did not complete within its timeout. */
export class TimeoutError extends SocketError {
  constructor(message: string, options: SocketErrorOptions = {}) {
    super(ErrorCode.TIMEOUT, message, options);
  }
}

/** Options of {@link RemoteError}. */
export interface RemoteErrorOptions extends SocketErrorOptions {
  /** The code the server's handler failed with (default `HANDLER_FAILED`). */
  remoteCode?: string;
  /** The handler's own message (default: the error's message). */
  remoteMessage?: string;
}

/**
 * A request failed in the server's application: its handler threw (or it
 * replied with an ERROR). `code` is always `REMOTE_ERROR`; `remoteCode` is
 * the handler's error's `code` (any string, e.g. `NOT_FOUND`; `HANDLER_FAILED`
 * when the error had none) and `remoteMessage` its message, as the server
 * sent them.
 */
export class RemoteError extends SocketError {
  /** The handler's error code, as the server sent it. */
  readonly remoteCode: string;
  /** The handler's error message, as the server sent it. */
  readonly remoteMessage: string;

  constructor(message: string, options: RemoteErrorOptions = {}) {
    super(ErrorCode.REMOTE_ERROR, message, options);
    this.remoteCode = options.remoteCode ?? ErrorCode.HANDLER_FAILED;
    this.remoteMessage = options.remoteMessage ?? message;
  }
}

/**
 * The one code → error-class table: every {@link ErrorCode} is thrown (and
 * rebuilt from the wire) as exactly this class, wherever it comes from.
 */
export const ERROR_CLASSES: Readonly<
  Record<ErrorCode, typeof SocketError | typeof MaxConnectionsError | typeof TimeoutError | typeof RemoteError>
> = Object.freeze({
  INVALID_EVENT_NAME: ValidationError,
  INVALID_CONFIG: ValidationError,
  INVALID_MESSAGE: MessageError,
  SOCKET_NOT_FOUND: ConnectionError,
  SERVER_NOT_RUNNING: ConnectionError,
  PERMISSION_DENIED: ConnectionError,
  ADDRESS_IN_USE: ConnectionError,
  PORT_RANGE_EXHAUSTED: ConnectionError,
  MAX_CONNECTIONS: MaxConnectionsError,
  SEND_NOT_ALLOWED: MessageError,
  FRAME_TOO_LARGE: MessageError,
  MALFORMED_FRAME: MessageError,
  SLOW_CONSUMER: ConnectionError,
  TIMEOUT: TimeoutError,
  NOT_CONNECTED: ConnectionError,
  INSECURE_SOCKET_DIR: ConnectionError,
  UNAUTHORIZED: ConnectionError,
  UNKNOWN_CLIENT: ConnectionError,
  NOT_RUNNING: SocketError,
  BUFFER_FULL: SocketError,
  CLOSED: ConnectionError,
  CONNECTION_LOST: ConnectionError,
  HANDLER_FAILED: SocketError,
  REMOTE_ERROR: RemoteError,
  CONNECT_IN_PROGRESS: ConnectionError,
  STATS_DISABLED: ConnectionError,
  WRONG_EVENT: ConnectionError,
  INSECURE_BIND: ConnectionError,
  PROTOCOL_MISMATCH: ConnectionError,
  ACCEPT_FAILED: ConnectionError,
  UNAUTHENTICATED_FRAME: MessageError,
  ADMISSION_FULL: ConnectionError,
  TOO_MANY_INVALID: MessageError,
  NO_HANDLER: SocketError,
  REQUESTS_UNSUPPORTED: SocketError,
  RECONNECT_FAILED: ConnectionError,
});

/**
 * Creates the error of `code` with the class the table assigns to it
 * ({@link ERROR_CLASSES}). Use it instead of choosing a class by hand.
 */
export function createError(code: ErrorCode, message: string, options: SocketErrorOptions = {}): SocketError {
  const C = ERROR_CLASSES[code];
  // The two classes with a fixed code take (message, options).
  if (C === MaxConnectionsError) return new MaxConnectionsError(message, options);
  if (C === TimeoutError) return new TimeoutError(message, options);
  if (C === RemoteError) return new RemoteError(message, options);
  return new (C as typeof SocketError)(code, message, options);
}

/**
 * Rebuilds a typed error from a code received in an ERROR message, so a
 * client can throw the same class the server would have thrown locally.
 * Unknown codes become a {@link RemoteError} (code `REMOTE_ERROR`) whose
 * `remoteCode` is the code received.
 */
export function errorFromCode(code: string, message: string, options: SocketErrorOptions = {}): SocketError {
  if (Object.hasOwn(ERROR_CLASSES, code)) return createError(code as ErrorCode, message, options);
  return new RemoteError(message, { ...options, remoteCode: code, remoteMessage: message });
}
