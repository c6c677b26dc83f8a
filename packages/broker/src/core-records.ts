/**
 * The broker core's in-memory records (subscribers, task records, connections, RPC calls)
 * and the small data structures and helpers its handlers share.
 */
import type { WireError } from './errors.js';
import type { StoredTask } from './store.js';

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
