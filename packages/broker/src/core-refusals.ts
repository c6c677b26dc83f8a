/**
 * Every refusal the broker core answers with: a {@link WireError} with its
 * `code`, a message that says what to do, and `details` where a client can
 * act on them. One builder per case, named for it.
 */
import { BrokerErrorCode, type WireError } from './errors.js';
import { err } from './core-records.js';
import type { SubscriberType } from './wire.js';

/** The refusals of the broker core. */
export const refuse = {
  /** An RPC call whose recipient disconnected before it answered. */
  recipientLost: (identifier: string): WireError =>
    err(
      BrokerErrorCode.RECIPIENT_LOST,
      `the RPC recipient "${identifier}" disconnected before it answered: the call may or may not have run`,
    ),
  /** A message of a kind the broker does not know. */
  unknownKind: (kind: unknown): WireError =>
    err(BrokerErrorCode.INVALID_REQUEST, `unknown broker message kind "${kind}"`),
  /** A `subscribe` without a non-empty string identifier. */
  noIdentifier: (): WireError => err(BrokerErrorCode.INVALID_REQUEST, 'subscribe needs a non-empty string identifier'),
  /** A subscriber identifier already taken (rpc: broker-wide; task and broadcast: per connection). */
  duplicateIdentifier: (type: SubscriberType, identifier: string): WireError => {
    const where = type === 'rpc' ? 'by a connection to this broker' : 'on this connection';
    return err(
      BrokerErrorCode.DUPLICATE_SUBSCRIBER_IDENTIFIER,
      `the ${type} subscriber identifier "${identifier}" is already taken ${where}: choose another`,
      { identifier },
    );
  },
  /** A `subscribe` past `maxSubscribersPerConnection`. */
  tooManySubscribers: (count: number, max: number): WireError =>
    err(
      BrokerErrorCode.LIMIT_EXCEEDED,
      `this connection already has ${count} subscribers (maxSubscribersPerConnection): remove one first or raise ` +
        `the broker's bound`,
      { limit: 'maxSubscribersPerConnection', max },
    ),
  /** A task subscriber prefetch outside 1..`maxPrefetch`. */
  badPrefetch: (prefetch: unknown, max: number): WireError =>
    err(
      BrokerErrorCode.LIMIT_EXCEEDED,
      `prefetch must be an integer from 1 to ${max} (maxPrefetch), got ${String(prefetch)}`,
      {
        limit: 'maxPrefetch',
        max,
      },
    ),
  /** A subscriber type other than task, rpc or broadcast. */
  badSubscriberType: (type: unknown): WireError =>
    err(BrokerErrorCode.INVALID_REQUEST, `subscriber type must be task, rpc or broadcast, got ${String(type)}`),
  /** An `unsubscribe` of a subscriber this connection does not have. */
  unknownSubscriber: (type: unknown, identifier: string): WireError =>
    err(BrokerErrorCode.UNKNOWN_SUBSCRIBER, `no ${String(type)} subscriber "${identifier}" on this connection`, {
      identifier,
    }),
  /** A task without a valid taskId (a string of 1 to 200 characters). */
  badTaskId: (): WireError =>
    err(BrokerErrorCode.INVALID_REQUEST, 'a task needs a taskId: a string of 1 to 200 characters'),
  /** A task body MessagePack cannot encode. */
  unencodableBody: (e: Error): WireError =>
    err(BrokerErrorCode.INVALID_REQUEST, `the task body cannot be encoded: ${e.message}`),
  /** A task past `maxPendingTasks`. */
  tooManyTasks: (unfinished: number, max: number): WireError =>
    err(
      BrokerErrorCode.LIMIT_EXCEEDED,
      `the broker already holds ${unfinished} unfinished tasks (maxPendingTasks): retry later or add workers`,
      {
        limit: 'maxPendingTasks',
        max,
      },
    ),
  /** A task whose body would pass `maxPendingBytes`. */
  tooManyBytes: (unfinishedBytes: number, bytes: number, max: number): WireError =>
    err(
      BrokerErrorCode.LIMIT_EXCEEDED,
      `the broker holds ${unfinishedBytes} bytes of unfinished tasks; ${bytes} more would pass ` +
        `maxPendingBytes: retry later or add workers`,
      { limit: 'maxPendingBytes', max },
    ),
  /** A task the store could not keep. */
  storeFailed: (e: Error): WireError =>
    err(BrokerErrorCode.BROKER_UNAVAILABLE, `the broker could not store the task: ${e.message}`),
  /** An `attach` to a task the broker does not know (restart without a durable store, or outcome dropped). */
  unknownTask: (id: string): WireError =>
    err(
      BrokerErrorCode.BROKER_UNAVAILABLE,
      `the broker does not know task ${id}: it restarted without a durable store, or the outcome was dropped ` +
        `(resultTtlMs, maxKeptResults)`,
      { taskId: id },
    ),
  /** A result or reject for a delivery that is no longer current (`now`: what became of the task). */
  staleDelivery: (taskId: unknown, attempt: unknown, now: string): WireError =>
    err(
      BrokerErrorCode.STALE_DELIVERY,
      `delivery (${String(taskId)}, attempt ${String(attempt)}) is no longer current (the task is ${now}): ` +
        'its lease was lost or it was answered already; drop this result',
      { taskId, attempt },
    ),
  /** An RPC call to an identifier no connection serves. */
  unroutable: (recipient: string): WireError =>
    err(
      BrokerErrorCode.UNROUTABLE,
      `no RPC subscriber "${recipient}" is connected to the broker: check the identifier`,
      { recipient },
    ),
  /** An RPC call past `maxPendingCalls`. */
  tooManyCalls: (calls: number, max: number): WireError =>
    err(BrokerErrorCode.LIMIT_EXCEEDED, `${calls} RPC calls are already in flight (maxPendingCalls): retry later`, {
      limit: 'maxPendingCalls',
      max,
    }),
  /** An admin operation on a broker started with `adminOps: false`. */
  adminDisabled: (): WireError =>
    err(BrokerErrorCode.ADMIN_DISABLED, 'this broker was started with adminOps: false: operations are only in-process'),
  /** An admin `tasks` state other than pending, inflight, done or dead. */
  badState: (state: unknown): WireError =>
    err(BrokerErrorCode.INVALID_REQUEST, `state must be pending, inflight, done or dead, got ${String(state)}`),
  /** An admin op the broker does not know. */
  unknownAdminOp: (op: unknown): WireError =>
    err(BrokerErrorCode.INVALID_REQUEST, `unknown admin op ${String(op)}: use stats, tasks, requeue or purgeDead`),
};
