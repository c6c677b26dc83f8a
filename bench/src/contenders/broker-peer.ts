/**
 * Issue 25's broker bench: what every task-queue contender (socketkit's broker, amqplib + RabbitMQ,
 * BullMQ + Redis) offers the bench worker processes. The loops that time them live once, in
 * `scenarios/broker-worker.ts`, so every contender is measured the same way.
 */

/** The contenders, in table order. */
export type BrokerImpl = 'socketkit-broker' | 'rabbitmq' | 'bullmq';

/** Every contender, in table order. */
export const BROKER_IMPLS: readonly BrokerImpl[] = ['socketkit-broker', 'rabbitmq', 'bullmq'];

/**
 * `memory`: nothing survives a broker restart (socketkit without a store, a non-durable RabbitMQ queue
 * with transient messages, Redis without RDB or AOF). `durable`: a task is stored before it is
 * accepted (socketkit with `store`, a durable queue with persistent messages and publisher confirms,
 * Redis with the append-only file).
 */
export type BrokerMode = 'memory' | 'durable';

/** Where a contender's broker listens: plain data, sent to the worker processes over the fork IPC channel. */
export type BrokerEndpoint =
  | { impl: 'socketkit-broker'; mode: BrokerMode; socketDir: string; name: string; storePath?: string }
  | { impl: 'rabbitmq'; mode: BrokerMode; url: string; queue: string }
  | { impl: 'bullmq'; mode: BrokerMode; host: string; port: number; queue: string };

/** The body of one no-op task (about 100 bytes of msgpack or JSON). */
export interface TaskBody {
  /** Submitter's sequence number. */
  n: number;
  /** Padding, so the body is about the size of the other scenarios' 100-byte messages. */
  pad: string;
}

/** A no-op task's result. */
export interface TaskResult {
  n: number;
  ok: true;
}

/** One connection of a contender in a bench worker process (a submitter, a task worker or both). */
export interface BrokerPeer {
  /**
   * Consumes tasks with at most `prefetch` in flight on this connection; each task is a no-op that
   * returns `{ n, ok: true }`, and `onTask` is called once per execution.
   */
  serveTasks(prefetch: number, onTask: () => void): Promise<void>;
  /** Answers RPC calls to `name` with the request body. Throws when the contender has no RPC. */
  serveRpc(name: string): Promise<void>;
  /** Submits one task and resolves with its outcome (the worker's result) once it came back. */
  submit(body: TaskBody): Promise<unknown>;
  /** One RPC round trip to `name`. */
  rpc(name: string, body: TaskBody): Promise<unknown>;
  /** Closes the connection (and whatever the contender opened for it). */
  close(): Promise<void>;
}
