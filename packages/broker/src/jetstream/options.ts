/**
 * The JetStream backend's options, their defaults, the streams and consumers of a namespace, and the NATS
 * connection policy: what a {@link JetStreamLink} and the admin functions share before any task moves.
 */
import type { ConsumerConfig, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { type ConnectionOptions, connect as natsConnect, type NatsConnection, nanos } from '@nats-io/transport-node';
import type { Names } from './names.js';

/** Options of the JetStream backend (`connect({ transport: 'jetstream', servers, ... })`). */
export interface JetStreamOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222` or every node of the cluster. */
  servers: string | string[];
  /**
   * Namespace of streams, consumer, subjects and KV bucket (default `socketkit`): communicators of one namespace share
   * tasks, RPC and broadcasts.
   */
  name?: string;
  /**
   * Stream replicas (default `'auto'`: 3 when the server reports a cluster of 3 or more nodes, else the cluster size, 1
   * for a single server).
   */
  replicas?: number | 'auto';
  /** Stream storage (default `file`). */
  storage?: 'file' | 'memory';
  /** The lease: AckWait in ms (default 30,000). Running tasks are kept leased by in-progress acks every third of it. */
  ackWaitMs?: number;
  /** MaxDeliver: deliveries before a task goes to the dead-letter stream (default 5). */
  maxDeliveries?: number;
  /** Most tasks in the task stream (default 100,000); one more is refused with `LimitExceeded`. */
  maxPendingTasks?: number;
  /** Most bytes in the task stream (default 256 MiB). */
  maxPendingBytes?: number;
  /** Most tasks in the dead-letter stream (default 100,000; the oldest go first). */
  maxDeadTasks?: number;
  /**
   * How long a worker keeps trying to hand an outcome to a submitter that is away (default 60,000 ms); the task is
   * acked after.
   */
  outcomeTtlMs?: number;
  /**
   * How long a submitter keeps retrying a publish the cluster does not acknowledge (default 30,000 ms) before
   * `BrokerUnavailable`.
   */
  publishTimeoutMs?: number;
  /** JetStream duplicate window for task ids (default 120,000 ms): a retried publish within it is stored once. */
  duplicateWindowMs?: number;
  /** TTL of an RPC identifier's KV entry (default 10,000 ms), refreshed every third of it while its holder lives. */
  rpcTtlMs?: number;
  /**
   * Interval of the liveness probe of an RPC call's recipient (default 1,000 ms): `RecipientLost` when it has no
   * responder.
   */
  rpcPingMs?: number;
  /** Extra `@nats-io/transport-node` connection options (user/pass, token, tls, ...). */
  nats?: Partial<ConnectionOptions>;
}

/** Headers of a task message (documented in docs/broker.md for clients in other languages). */
export const TaskHeader = {
  /** The task id (also the JetStream `Nats-Msg-Id`). */
  ID: 'sk-id',
  /** The submitter's outcome subject (absent with `noReply`). */
  REPLY: 'sk-reply',
  /** Why a task is in the dead-letter stream (`max-deliveries`, `malformed`). */
  REASON: 'sk-reason',
  /** Deliveries a dead task had. */
  DELIVERIES: 'sk-deliveries',
} as const;

/** {@link JetStreamOptions} with every default resolved (see {@link jetStreamDefaults}). */
export interface JetStreamSettings {
  name: string;
  replicas: number | 'auto';
  storage: 'file' | 'memory';
  ackWaitMs: number;
  maxDeliveries: number;
  maxPendingTasks: number;
  maxPendingBytes: number;
  maxDeadTasks: number;
  outcomeTtlMs: number;
  publishTimeoutMs: number;
  duplicateWindowMs: number;
  rpcTtlMs: number;
  rpcPingMs: number;
}

/** Resolves the defaults of {@link JetStreamOptions}. */
export function jetStreamDefaults(o: Partial<JetStreamOptions>): JetStreamSettings {
  return {
    name: o.name ?? 'socketkit',
    replicas: o.replicas ?? 'auto',
    storage: o.storage ?? 'file',
    ackWaitMs: o.ackWaitMs ?? 30_000,
    maxDeliveries: o.maxDeliveries ?? 5,
    maxPendingTasks: o.maxPendingTasks ?? 100_000,
    maxPendingBytes: o.maxPendingBytes ?? 256 * 1024 * 1024,
    maxDeadTasks: o.maxDeadTasks ?? 100_000,
    outcomeTtlMs: o.outcomeTtlMs ?? 60_000,
    publishTimeoutMs: o.publishTimeoutMs ?? 30_000,
    duplicateWindowMs: o.duplicateWindowMs ?? 120_000,
    rpcTtlMs: o.rpcTtlMs ?? 10_000,
    rpcPingMs: o.rpcPingMs ?? 1000,
  };
}

/** Replicas for `'auto'`: the cluster size the server reports, at most 3. */
export function autoReplicas(nc: NatsConnection): number {
  const info = nc.info;
  const nodes = info?.cluster === undefined ? 1 : Math.max(1, info.connect_urls?.length ?? 1);
  return Math.min(3, nodes);
}

/**
 * Looks first and creates only what is missing: a client without the right to create streams (an untrusted worker)
 * only needs to read them, and an existing stream or consumer created with other limits is used as it is. A creation
 * that fails is forgiven when someone else created the same meanwhile.
 */
async function findOrCreate(info: () => Promise<unknown>, add: () => Promise<unknown>): Promise<void> {
  try {
    await info();
  } catch (e) {
    if (!/not found/i.test(String((e as Error)?.message))) throw e;
    await add().catch(async (e2: unknown) => {
      await info().catch(() => {
        throw e2; // not created by someone else meanwhile either
      });
    });
  }
}

/** Creates (or finds) the task, dead-letter and advisory streams and their consumers of one namespace. */
export async function ensureStreams(
  jsm: JetStreamManager,
  n: Names,
  o: JetStreamSettings,
  replicas: number,
): Promise<void> {
  const stream = (
    name: string,
    subject: string,
    retention: string,
    limits: Partial<StreamConfig>,
  ): Partial<StreamConfig> & { name: string } => ({
    name,
    subjects: [subject],
    retention: retention as StreamConfig['retention'],
    storage: o.storage as StreamConfig['storage'],
    num_replicas: replicas,
    ...limits,
  });
  const streams = [
    stream(n.taskStream, n.taskSubject, 'workqueue', {
      max_msgs: o.maxPendingTasks,
      max_bytes: o.maxPendingBytes,
      discard: 'new' as StreamConfig['discard'],
      duplicate_window: nanos(o.duplicateWindowMs),
    }),
    stream(n.deadStream, n.deadSubject, 'limits', {
      max_msgs: o.maxDeadTasks,
      discard: 'old' as StreamConfig['discard'],
      duplicate_window: nanos(o.duplicateWindowMs),
    }),
    stream(n.advisoryStream, n.advisorySubject, 'workqueue', { max_msgs: o.maxPendingTasks }),
  ];
  for (const cfg of streams)
    await findOrCreate(
      () => jsm.streams.info(cfg.name),
      () => jsm.streams.add(cfg),
    );
  const explicit = 'explicit' as ConsumerConfig['ack_policy'];
  const consumers: [string, Partial<ConsumerConfig> & { durable_name: string }][] = [
    [
      n.taskStream,
      {
        durable_name: n.consumer,
        ack_policy: explicit,
        ack_wait: nanos(o.ackWaitMs),
        max_deliver: o.maxDeliveries,
        max_ack_pending: -1,
        max_waiting: 4096,
        filter_subject: n.taskSubject,
      },
    ],
    [
      n.advisoryStream,
      { durable_name: n.advisoryConsumer, ack_policy: explicit, ack_wait: nanos(30_000), max_ack_pending: -1 },
    ],
  ];
  for (const [name, cfg] of consumers)
    await findOrCreate(
      () => jsm.consumers.info(name, cfg.durable_name),
      () => jsm.consumers.add(name, cfg),
    );
}

/** Connects to NATS with the backend's reconnect policy (forever, 250 ms apart). */
export function connectNats(options: JetStreamOptions, name: string): Promise<NatsConnection> {
  return natsConnect({
    servers: options.servers,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    waitOnFirstConnect: false,
    // nats.js otherwise builds two Error objects (with stacks) per request, a publish to a stream included: a fifth of
    // the CPU.
    noAsyncTraces: true,
    ...options.nats,
  });
}
