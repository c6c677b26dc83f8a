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
  WRONG_EVENT: 'WRONG_EVENT',
  INSECURE_BIND: 'INSECURE_BIND',
  PROTOCOL_MISMATCH: 'PROTOCOL_MISMATCH',
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

const connectionCodes = new Set<string>([
  ErrorCode.SOCKET_NOT_FOUND,
  ErrorCode.SERVER_NOT_RUNNING,
  ErrorCode.PERMISSION_DENIED,
  ErrorCode.ADDRESS_IN_USE,
  ErrorCode.PORT_RANGE_EXHAUSTED,
  ErrorCode.NOT_CONNECTED,
  ErrorCode.SLOW_CONSUMER,
  ErrorCode.UNAUTHORIZED,
  ErrorCode.INSECURE_SOCKET_DIR,
  ErrorCode.CONNECTION_LOST,
  ErrorCode.CLOSED,
  ErrorCode.WRONG_EVENT,
  ErrorCode.INSECURE_BIND,
  ErrorCode.PROTOCOL_MISMATCH,
]);
const messageCodes = new Set<string>([
  ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.MALFORMED_FRAME,
  ErrorCode.INVALID_MESSAGE,
  ErrorCode.SEND_NOT_ALLOWED,
]);
const validationCodes = new Set<string>([ErrorCode.INVALID_EVENT_NAME, ErrorCode.INVALID_CONFIG]);

/**
 * Rebuilds a typed error from a code received in an ERROR message, so a
 * client can throw the same class the server would have thrown locally.
 * Unknown codes become a {@link SocketError} with code `REMOTE_ERROR`.
 */
export function errorFromCode(code: string, message: string, options: SocketErrorOptions = {}): SocketError {
  if (code === ErrorCode.MAX_CONNECTIONS) return new MaxConnectionsError(message, options);
  if (code === ErrorCode.TIMEOUT) return new TimeoutError(message, options);
  if (connectionCodes.has(code)) return new ConnectionError(code as ErrorCode, message, options);
  if (messageCodes.has(code)) return new MessageError(code as ErrorCode, message, options);
  if (validationCodes.has(code)) return new ValidationError(code as ErrorCode, message, options);
  const known = (Object.values(ErrorCode) as string[]).includes(code);
  return new SocketError(known ? (code as ErrorCode) : ErrorCode.REMOTE_ERROR, message, options);
}
