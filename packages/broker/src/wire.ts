/**
 * The broker's messages: plain socketkit DATA messages whose `data` is a map
 * with a `kind` field (PROTOCOL.md, "Broker protocol"). Nothing here knows
 * about sockets; any language with msgpack can build these maps.
 */
import type { WireError } from './errors.js';

/** Value of `kind` in every broker message. */
export const Kind = {
  // client -> broker
  SUBSCRIBE: 'subscribe',
  UNSUBSCRIBE: 'unsubscribe',
  TASK: 'task',
  ATTACH: 'attach',
  RESULT: 'result',
  REJECT: 'reject',
  PROGRESS: 'progress',
  RPC: 'rpc',
  RPC_REPLY: 'rpcReply',
  BROADCAST: 'broadcast',
  /** Operations (`op`: stats, tasks, requeue, purgeDead), for tools such as the CLI. */
  ADMIN: 'admin',
  /**
   * Client -> broker, answered by a `reply`: what this client can take (`batch: true` + `maxMessageSize`); the reply's
   * `result.batch` says whether the broker will send it batches (and accepts them from it).
   */
  FEATURES: 'features',
  /** Either way, between peers that agreed on it (`features`): several broker messages in one frame, in order. */
  BATCH: 'batch',
  // broker -> client
  REPLY: 'reply',
  DELIVER: 'deliver',
  OUTCOME: 'outcome',
  CALL: 'call',
  CANCEL: 'cancel',
  /**
   * Broker -> worker: a `result` sent without `ref` was refused (`error.code` STALE_DELIVERY); a `result` with `ref`
   * gets a `reply` instead.
   */
  STALE: 'stale',
  /**
   * Broker -> submitter (task, by `taskId`) or caller (RPC, by `ref`): the subscriber returned a future; the outcome
   * follows.
   */
  PENDING: 'pending',
} as const;

/** Subscriber types of `subscribe` / `unsubscribe`. */
export type SubscriberType = 'task' | 'rpc' | 'broadcast';

/** The version of the broker protocol (sent in no message yet; bumped on an incompatible change). */
export const BROKER_PROTOCOL_VERSION = 1;

/** Any broker message (`data` of a socketkit DATA message). */
export type BrokerMessage = Record<string, unknown> & { kind: string };

/** A reply to a client message that carried `ref`. */
export interface ReplyMessage {
  kind: 'reply';
  ref: number;
  ok: boolean;
  result?: unknown;
  error?: WireError;
}

/** Most broker messages one `batch` carries (a sender splits longer runs). */
export const BATCH_MAX = 64;

/** True for a plain object (a msgpack map). */
export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
