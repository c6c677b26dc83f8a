/**
 * The broker core's public types (limits, host, statistics, task listings) and the
 * resolution of {@link BrokerLimits} against their defaults. Re-exported by `core.ts`.
 */
import type { TaskState } from './store.js';
import type { BrokerMessage } from './wire.js';

/** Bounds and policies of a broker (every one has a default). */
export interface BrokerLimits {
  /**
   * Deliveries that may end without an outcome (lost worker, ack timeout) before a task is dead-lettered (default 5).
   */
  maxDeliveries?: number;
  /** Most tasks pending or in flight (default 100000). */
  maxPendingTasks?: number;
  /** Most bytes of task bodies pending or in flight (default 256 MiB). */
  maxPendingBytes?: number;
  /** How long an outcome is kept for a submitter that reconnects, in ms (default 60000). */
  resultTtlMs?: number;
  /** Most outcomes kept (default 10000; the oldest goes first). */
  maxKeptResults?: number;
  /** Most tasks in the dead-letter list (default 10000; the oldest is dropped first). */
  maxDeadLetters?: number;
  /** Most subscribers (task + RPC + broadcast) on one connection (default 64). */
  maxSubscribersPerConnection?: number;
  /** Largest `prefetch` a task subscriber may ask for (default 1024). */
  maxPrefetch?: number;
  /** Most RPC calls in flight through the broker (default 10000). */
  maxPendingCalls?: number;
  /**
   * Optional wall-clock lease: a delivery without result, rejection or
   * `progress()` for this long is taken back and redelivered. Default: none
   * (the lease lasts as long as the worker's connection).
   */
  ackTimeoutMs?: number;
  /**
   * First delay before a rejected task is offered again, in ms (default 50; doubles per rejection up to
   * `rejectBackoffMaxMs`).
   */
  rejectBackoffMs?: number;
  /** Longest delay before a rejected task is offered again (default 5000). */
  rejectBackoffMaxMs?: number;
  /**
   * Answer `admin` messages (stats, list, requeue, purge) from any connection (default true: every connection
   * is already trusted, by the socket directory's permissions or the token, to submit and work tasks).
   */
  adminOps?: boolean;
}

/** How the core sends to a connection. Must not throw for a connection that just went away. */
export interface CoreHost {
  /** Sends `message` to the connection `connId` (dropped silently when it is gone). */
  send(connId: string, message: BrokerMessage): void;
  /**
   * The largest frame the host writes, when it can put several messages of one connection into a `batch` frame
   * (`startBroker`): a client that announces batches and takes frames at least this large gets them. Absent: the
   * host sends one message per frame (clients are told `batch: false`).
   */
  batchLimit?(): number;
}

/** One task subscriber as reported in {@link BrokerStats}. */
export interface SubscriberLoad {
  connId: string;
  identifier: string;
  prefetch: number;
  inflight: number;
  delivered: number;
}

/** What {@link BrokerCore.stats} reports. */
export interface BrokerStats {
  /** True when tasks survive a restart (durable store). */
  durable: boolean;
  /** Tasks waiting for a subscriber (including rejected ones in their backoff). */
  pending: number;
  /** Tasks delivered and not yet finished. */
  inflight: number;
  /** Tasks in the dead-letter list. */
  dead: number;
  /** Outcomes kept for submitters. */
  keptResults: number;
  /** Bytes of bodies pending or in flight. */
  pendingBytes: number;
  /** Connections known to the broker. */
  connections: number;
  /** Every task subscriber and its load. */
  subscribers: SubscriberLoad[];
  /** RPC identifiers held. */
  rpcSubscribers: string[];
  /** Connections with at least one broadcast subscriber. */
  broadcastConnections: number;
  /** RPC calls in flight. */
  pendingCalls: number;
  /** Tasks finished per second, over the last 10 s. */
  tasksPerSecond: number;
  /** Counters since start. */
  totals: {
    submitted: number;
    completed: number;
    failed: number;
    redelivered: number;
    rejected: number;
    deadLettered: number;
    staleRefused: number;
    refused: number;
    rpcCalls: number;
    broadcasts: number;
  };
}

/** A task as listed by {@link BrokerCore.listTasks}. */
export interface TaskInfo {
  taskId: string;
  state: TaskState;
  attempt: number;
  failures: number;
  bytes: number;
  createdAt: number;
  doneAt?: number;
  /** The worker's connection and subscriber, while in flight. */
  worker?: { connId: string; identifier: string };
  lastError?: string;
}

/** {@link BrokerLimits} with every default applied (`ackTimeoutMs` stays optional: no default). */
export type ResolvedLimits = Required<Omit<BrokerLimits, 'ackTimeoutMs'>> & { ackTimeoutMs: number | undefined };

/** The default of every limit but `ackTimeoutMs`. */
export const DEFAULTS: Required<Omit<BrokerLimits, 'ackTimeoutMs'>> = {
  adminOps: true,
  maxDeliveries: 5,
  maxPendingTasks: 100_000,
  maxPendingBytes: 256 * 1024 * 1024,
  resultTtlMs: 60_000,
  maxKeptResults: 10_000,
  maxDeadLetters: 10_000,
  maxSubscribersPerConnection: 64,
  maxPrefetch: 1024,
  maxPendingCalls: 10_000,
  rejectBackoffMs: 50,
  rejectBackoffMaxMs: 5000,
};

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v > 0)) throw new TypeError(`${name} must be a positive number, got ${String(v)}`);
  return v;
}

/**
 * Validates `limits` and fills in the defaults.
 *
 * @throws TypeError when a numeric limit is not a positive number.
 */
export function resolveLimits(limits: BrokerLimits): ResolvedLimits {
  return {
    maxDeliveries: positive('maxDeliveries', limits.maxDeliveries, DEFAULTS.maxDeliveries),
    maxPendingTasks: positive('maxPendingTasks', limits.maxPendingTasks, DEFAULTS.maxPendingTasks),
    maxPendingBytes: positive('maxPendingBytes', limits.maxPendingBytes, DEFAULTS.maxPendingBytes),
    resultTtlMs: positive('resultTtlMs', limits.resultTtlMs, DEFAULTS.resultTtlMs),
    maxKeptResults: positive('maxKeptResults', limits.maxKeptResults, DEFAULTS.maxKeptResults),
    maxDeadLetters: positive('maxDeadLetters', limits.maxDeadLetters, DEFAULTS.maxDeadLetters),
    maxSubscribersPerConnection: positive(
      'maxSubscribersPerConnection',
      limits.maxSubscribersPerConnection,
      DEFAULTS.maxSubscribersPerConnection,
    ),
    maxPrefetch: positive('maxPrefetch', limits.maxPrefetch, DEFAULTS.maxPrefetch),
    maxPendingCalls: positive('maxPendingCalls', limits.maxPendingCalls, DEFAULTS.maxPendingCalls),
    rejectBackoffMs: positive('rejectBackoffMs', limits.rejectBackoffMs, DEFAULTS.rejectBackoffMs),
    rejectBackoffMaxMs: positive('rejectBackoffMaxMs', limits.rejectBackoffMaxMs, DEFAULTS.rejectBackoffMaxMs),
    ackTimeoutMs: limits.ackTimeoutMs === undefined ? undefined : positive('ackTimeoutMs', limits.ackTimeoutMs, 0),
    adminOps: limits.adminOps !== false,
  };
}
