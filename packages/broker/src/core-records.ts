/**
 * The broker core's in-memory records (subscribers, task records, connections, RPC calls)
 * and the small data structures and helpers its handlers share.
 */
import type { SubscriberLoad, TaskInfo } from './core-limits.js';
import type { WireError } from './errors.js';
import type { StoredTask } from './store.js';
import { type BrokerMessage, Kind } from './wire.js';

/** A task subscriber: one `subscribe` of one connection (`key` is unique in the broker). */
export interface Sub {
  key: string;
  connId: string;
  identifier: string;
  prefetch: number;
  inflight: Set<Task>;
  delivered: number;
  lastUsed: number;
}

/** A task record: the stored task plus its in-memory delivery state. */
export interface Task extends StoredTask {
  submitter?: string;
  worker?: Sub;
  queued: boolean;
  notBefore: number;
  rejections: number;
  /** Subscribers (keys) that rejected the task or lost its lease: the next delivery prefers others. */
  avoid?: Set<string>;
  ackTimer?: NodeJS.Timeout;
  delivered?: boolean;
}

/** A client connection and everything it holds. */
export interface Conn {
  id: string;
  taskSubs: Map<string, Sub>;
  rpc: Set<string>;
  broadcast: Set<string>;
  /** Tasks whose outcome this connection waits for. */
  waiting: Set<Task>;
  /** RPC calls this connection is serving. */
  serving: Set<number>;
  /** RPC calls this connection made. */
  calling: Set<number>;
  /** The client asked for `batch` frames (`features`) and the host writes them. */
  batch: boolean;
}

/** An RPC call in flight, from `caller` (its `ref`) to `recipient`. */
export interface Call {
  id: number;
  caller: string;
  ref: number;
  recipient: string;
  identifier: string;
}

/** A wire error with an optional `details` map. */
export const err = (code: string, message: string, details?: Record<string, unknown>): WireError =>
  details === undefined ? { code, message } : { code, message, details };

/** The task record of a task just submitted (pending, not yet queued). */
export function submittedTask(id: string, seq: number, body: unknown, bytes: number, noReply: boolean): Task {
  return {
    id,
    seq,
    body,
    bytes,
    state: 'pending',
    attempt: 0,
    failures: 0,
    noReply,
    createdAt: Date.now(),
    queued: false,
    notBefore: 0,
    rejections: 0,
  };
}

/**
 * The task record of a task read back from the store at a restart: the same shape as {@link submittedTask}'s
 * (a spread of the record would make a bigger object per task). Its body stays in the store.
 */
export function restoredTask(rec: StoredTask): Task {
  const t: Task = {
    id: rec.id,
    seq: rec.seq,
    body: undefined,
    bytes: rec.bytes,
    state: rec.state,
    attempt: rec.attempt,
    failures: rec.failures,
    noReply: rec.noReply,
    createdAt: rec.createdAt,
    queued: false,
    notBefore: 0,
    rejections: 0,
  };
  if (rec.doneAt !== undefined) t.doneAt = rec.doneAt;
  if (rec.outcome !== undefined) t.outcome = rec.outcome;
  if (rec.lastError !== undefined) t.lastError = rec.lastError;
  return t;
}

/** What `listTasks` shows of a task record. */
export function taskInfo(t: Task): TaskInfo {
  const info: TaskInfo = {
    taskId: t.id,
    state: t.state,
    attempt: t.attempt,
    failures: t.failures,
    bytes: t.bytes,
    createdAt: t.createdAt,
  };
  if (t.doneAt !== undefined) info.doneAt = t.doneAt;
  if (t.worker !== undefined) info.worker = { connId: t.worker.connId, identifier: t.worker.identifier };
  if (t.lastError !== undefined) info.lastError = t.lastError;
  return info;
}

/** What `stats` shows of a task subscriber. */
export function subscriberLoad(s: Sub): SubscriberLoad {
  return {
    connId: s.connId,
    identifier: s.identifier,
    prefetch: s.prefetch,
    inflight: s.inflight.size,
    delivered: s.delivered,
  };
}

/** The `broadcast` sent to subscribed connections for a received one (null and absent fields left out). */
export function broadcastMessage(m: Record<string, unknown>): BrokerMessage {
  const out: BrokerMessage = { kind: Kind.BROADCAST, body: m.body };
  if (m.sender !== undefined && m.sender !== null) out.sender = m.sender;
  if (m.subject !== undefined && m.subject !== null) out.subject = m.subject;
  if (m.correlationId !== undefined && m.correlationId !== null) out.correlationId = m.correlationId;
  return out;
}
