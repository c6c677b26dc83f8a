/**
 * Errors of the broker. Each has a stable `code` (also what travels on the
 * wire, see PROTOCOL.md "Broker protocol") and a message that says what to
 * do. They follow socketkit's `SocketError` pattern but are broker-level:
 * they describe tasks, subscribers and outcomes, not sockets.
 */

/** Stable codes of {@link BrokerError}s (wire `code` of a refusal or failed outcome). */
export const BrokerErrorCode = {
  /** A task subscriber or RPC handler threw: the error is the outcome. */
  REMOTE_EXCEPTION: 'REMOTE_EXCEPTION',
  /** A message could not be delivered (base of {@link UnroutableError}). */
  DELIVERY_FAILED: 'DELIVERY_FAILED',
  /** No subscriber holds the RPC identifier. */
  UNROUTABLE: 'UNROUTABLE',
  /** A task subscriber handed the task back (it is requeued, with backoff). */
  TASK_REJECTED: 'TASK_REJECTED',
  /** The identifier is already held by a subscriber on some connection. */
  DUPLICATE_SUBSCRIBER_IDENTIFIER: 'DUPLICATE_SUBSCRIBER_IDENTIFIER',
  /** The communicator was closed. */
  COMMUNICATOR_CLOSED: 'COMMUNICATOR_CLOSED',
  /** The task was delivered `maxDeliveries` times without an outcome: dead-lettered. */
  DELIVERY_LIMIT_EXCEEDED: 'DELIVERY_LIMIT_EXCEEDED',
  /** The RPC recipient's connection went away before it answered. */
  RECIPIENT_LOST: 'RECIPIENT_LOST',
  /** The broker cannot be reached, or no longer knows the task. */
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE',
  /** A result, rejection or progress for a delivery that is no longer current. */
  STALE_DELIVERY: 'STALE_DELIVERY',
  /** The caller's RPC timeout passed. */
  RPC_TIMEOUT: 'RPC_TIMEOUT',
  /** A bound was reached (see `details.limit`): pending tasks, bytes, results, subscribers, message size. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** No subscriber with that identifier on this communicator. */
  UNKNOWN_SUBSCRIBER: 'UNKNOWN_SUBSCRIBER',
  /** A malformed broker message or argument. */
  INVALID_REQUEST: 'INVALID_REQUEST',
  /** An operation (`admin` message) on a broker started with `adminOps: false`. */
  ADMIN_DISABLED: 'ADMIN_DISABLED',
  /** A JetStream namespace that has no streams on the servers asked (the admin functions). */
  NAMESPACE_NOT_FOUND: 'NAMESPACE_NOT_FOUND',
} as const;

/** One of the {@link BrokerErrorCode} values. */
export type BrokerErrorCode = (typeof BrokerErrorCode)[keyof typeof BrokerErrorCode];

/** Options of every broker error. */
export interface BrokerErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /** Structured context (taskId, identifier, limit, ...). */
  details?: Record<string, unknown>;
}

/** Base of every broker error: `code` is stable, `message` says what happened and what to do. */
export class BrokerError extends Error {
  /** Stable machine-readable code. */
  readonly code: string;
  /** Structured context. */
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: BrokerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** The remote end (a task subscriber or an RPC handler) threw; `remoteCode`/`remoteMessage` are its error's. */
export class RemoteException extends BrokerError {
  /** The remote error's own `code` (or `Error` when it had none). */
  readonly remoteCode: string;
  /** The remote error's message. */
  readonly remoteMessage: string;
  constructor(message: string, options: BrokerErrorOptions & { remoteCode?: string; remoteMessage?: string } = {}) {
    super(BrokerErrorCode.REMOTE_EXCEPTION, message, options);
    this.remoteCode = options.remoteCode ?? 'Error';
    this.remoteMessage = options.remoteMessage ?? message;
  }
}

/** A message could not be delivered. */
export class DeliveryFailed extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}, code: string = BrokerErrorCode.DELIVERY_FAILED) {
    super(code, message, options);
  }
}

/** No subscriber holds the RPC identifier: fails at once, nothing was sent. */
export class UnroutableError extends DeliveryFailed {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super(message, options, BrokerErrorCode.UNROUTABLE);
  }
}

/** The RPC recipient's connection went away before it answered (the call may or may not have run). */
export class RecipientLost extends DeliveryFailed {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super(message, options, BrokerErrorCode.RECIPIENT_LOST);
  }
}

/**
 * Thrown by a task subscriber to hand the task to another subscriber: it is
 * requeued with backoff (it is not an outcome and is not counted against `maxDeliveries`).
 */
export class TaskRejected extends BrokerError {
  constructor(
    message = 'task rejected by its subscriber: it goes back to the queue for another subscriber',
    options: BrokerErrorOptions = {},
  ) {
    super(BrokerErrorCode.TASK_REJECTED, message, options);
  }
}

/** The subscriber identifier is already held (by any connection). */
export class DuplicateSubscriberIdentifier extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super(BrokerErrorCode.DUPLICATE_SUBSCRIBER_IDENTIFIER, message, options);
  }
}

/** The communicator is closed: create a new one. */
export class CommunicatorClosed extends BrokerError {
  constructor(
    message = 'the communicator is closed: create a new one with connect()',
    options: BrokerErrorOptions = {},
  ) {
    super(BrokerErrorCode.COMMUNICATOR_CLOSED, message, options);
  }
}

/** The task was delivered `maxDeliveries` times without an outcome and is now in the dead-letter list. */
export class DeliveryLimitExceeded extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super(BrokerErrorCode.DELIVERY_LIMIT_EXCEEDED, message, options);
  }
}

/**
 * The broker cannot be reached (it gave up reconnecting) or it no longer knows the task (restart in memory mode, result
 * expired).
 */
export class BrokerUnavailable extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super(BrokerErrorCode.BROKER_UNAVAILABLE, message, options);
  }
}

/** A result, rejection or progress report for a delivery that is no longer the current one (fencing). */
export class StaleDelivery extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super(BrokerErrorCode.STALE_DELIVERY, message, options);
  }
}

/** The caller's RPC timeout passed without an answer. */
export class RpcTimeout extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super(BrokerErrorCode.RPC_TIMEOUT, message, options);
  }
}

/**
 * A bound was reached; `details.limit` names it (`maxPendingTasks`, `maxPendingBytes`, `maxResults`,
 * `maxSubscribersPerConnection`, `maxMessageSize`).
 */
export class LimitExceeded extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super(BrokerErrorCode.LIMIT_EXCEEDED, message, options);
  }
}

/** The communicator has no subscriber with that identifier. */
export class UnknownSubscriber extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super(BrokerErrorCode.UNKNOWN_SUBSCRIBER, message, options);
  }
}

/** A malformed broker message or a bad argument. */
export class InvalidRequest extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super(BrokerErrorCode.INVALID_REQUEST, message, options);
  }
}

const CLASSES: Record<string, new (message: string, options?: BrokerErrorOptions) => BrokerError> = {
  [BrokerErrorCode.REMOTE_EXCEPTION]: RemoteException,
  [BrokerErrorCode.DELIVERY_FAILED]: DeliveryFailed,
  [BrokerErrorCode.UNROUTABLE]: UnroutableError,
  [BrokerErrorCode.RECIPIENT_LOST]: RecipientLost,
  [BrokerErrorCode.TASK_REJECTED]: TaskRejected,
  [BrokerErrorCode.DUPLICATE_SUBSCRIBER_IDENTIFIER]: DuplicateSubscriberIdentifier,
  [BrokerErrorCode.COMMUNICATOR_CLOSED]: CommunicatorClosed,
  [BrokerErrorCode.DELIVERY_LIMIT_EXCEEDED]: DeliveryLimitExceeded,
  [BrokerErrorCode.BROKER_UNAVAILABLE]: BrokerUnavailable,
  [BrokerErrorCode.STALE_DELIVERY]: StaleDelivery,
  [BrokerErrorCode.RPC_TIMEOUT]: RpcTimeout,
  [BrokerErrorCode.LIMIT_EXCEEDED]: LimitExceeded,
  [BrokerErrorCode.UNKNOWN_SUBSCRIBER]: UnknownSubscriber,
  [BrokerErrorCode.INVALID_REQUEST]: InvalidRequest,
};

/** The wire form of an error: `{ code, message, remoteCode?, details? }`. */
export interface WireError {
  code: string;
  message: string;
  remoteCode?: string;
  details?: Record<string, unknown>;
}

/** Rebuilds the typed error of a wire error (an unknown code becomes a plain {@link BrokerError}). */
export function errorFromWire(e: WireError): BrokerError {
  const details = e.details ?? {};
  if (e.code === BrokerErrorCode.REMOTE_EXCEPTION) {
    const remoteCode = e.remoteCode ?? 'Error';
    return new RemoteException(`the subscriber failed: ${remoteCode}: ${e.message}`, {
      remoteCode,
      remoteMessage: e.message,
      details,
    });
  }
  const Cls = CLASSES[e.code];
  if (Cls === undefined) return new BrokerError(e.code, e.message, { details });
  return new Cls(e.message, { details });
}

/** The wire form of an error thrown by a subscriber: its `code` (or name) and message. */
export function remoteToWire(err: unknown): WireError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      code: BrokerErrorCode.REMOTE_EXCEPTION,
      message: err.message,
      remoteCode: typeof code === 'string' ? code : err.name,
    };
  }
  return { code: BrokerErrorCode.REMOTE_EXCEPTION, message: String(err), remoteCode: 'Error' };
}
