/**
 * Operating the JetStream backend without a communicator: what
 * `socketkit broker tasks|requeue|purge` and `socketkit stats` call when the
 * backend is JetStream. Each function opens its own NATS connection and closes it.
 */
import {
  type ConsumerInfo,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { unpackValue } from '@socketkit/codec';
import { BrokerError, BrokerErrorCode, BrokerUnavailable, InvalidRequest } from '../errors.js';
import { connectNats, type JetStreamOptions, TaskHeader } from './options.js';
import { type Names, names } from './names.js';

/** Options of the admin functions: where the cluster is and which namespace. */
export type JetStreamAdminOptions = Pick<JetStreamOptions, 'servers' | 'name' | 'nats'>;

/** One task as listed by {@link jetStreamTasks}. */
export interface JetStreamTaskInfo {
  taskId: string;
  state: 'pending' | 'dead';
  /** Stream sequence (in the task stream for pending, the dead-letter stream for dead). */
  seq: number;
  /** Why it is dead (`max-deliveries`, `malformed`). */
  reason?: string;
  /** Deliveries it had (dead tasks). */
  deliveries?: number;
  /** The body, decoded (undefined when it is not msgpack). */
  body?: unknown;
  /** Size of the body. */
  bytes?: number;
  /** When the stream stored it (ms since the epoch). */
  storedAt?: number;
}

/** One durable consumer's figures (the JetStream consumer info). */
export interface JetStreamConsumerFigures {
  /** The stream it reads. */
  stream: string;
  /** The consumer's name (`workers`: the task consumer every task subscriber shares; `dead-letter`: the advisories). */
  name: string;
  /** Messages not delivered yet. */
  pending: number;
  /** Messages delivered and not acked. */
  ackPending: number;
  /** Deliveries after an AckWait or a nak. */
  redelivered: number;
  /** Pull requests waiting (about one per idle subscriber). */
  waiting: number;
  /** Last stream sequence delivered, and the ack floor (every message up to it acked). */
  delivered: number;
  ackFloor: number;
  /** Its AckWait (the lease) in ms and its MaxDeliver (-1: unbounded). */
  ackWaitMs: number;
  maxDeliver: number;
}

/** Stream and consumer figures of one namespace. */
export interface JetStreamStats {
  /** The namespace. */
  name: string;
  /** The task stream's name. */
  stream: string;
  /** Tasks in the task stream (pending and in flight). */
  stored: number;
  /** Tasks not delivered yet. */
  pending: number;
  /** Tasks delivered and not acked. */
  inFlight: number;
  /** Deliveries after an AckWait or a nak (the consumer's `num_redelivered`). */
  redelivered: number;
  /** Tasks in the dead-letter stream. */
  dead: number;
  /** Pull requests waiting at the consumer (about one per idle subscriber). */
  waitingPulls: number;
  /** Bytes in the task stream. */
  bytes: number;
  /** Bytes in the dead-letter stream. */
  deadBytes: number;
  /** Replicas of the task stream, its leader, and the replicas that are current. */
  cluster: { leader?: string; replicas: number; current: number };
  /** Every consumer of the task stream, then the dead-letter advisory consumer. */
  consumers: JetStreamConsumerFigures[];
}

/** The stream does not exist: the namespace was never used on these servers (its first communicator creates it). */
function notFound(n: Names, e: unknown): never {
  if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)
    throw new BrokerError(
      BrokerErrorCode.NAMESPACE_NOT_FOUND,
      `no JetStream namespace "${n.name}" on these servers (stream ${n.taskStream} not found): check --name ` +
        '(the namespace communicators connect with; default socketkit) and --servers',
      { cause: e, details: { name: n.name } },
    );
  throw e;
}

const figures = (c: ConsumerInfo): JetStreamConsumerFigures => ({
  stream: c.stream_name,
  name: c.name,
  pending: c.num_pending,
  ackPending: c.num_ack_pending,
  redelivered: c.num_redelivered,
  waiting: c.num_waiting,
  delivered: c.delivered.stream_seq,
  ackFloor: c.ack_floor.stream_seq,
  ackWaitMs: Math.round((c.config.ack_wait ?? 0) / 1e6),
  maxDeliver: c.config.max_deliver ?? -1,
});

async function withJsm<T>(
  o: JetStreamAdminOptions,
  fn: (jsm: JetStreamManager, n: Names, nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const n = names(o.name ?? 'socketkit');
  let nc: NatsConnection;
  try {
    nc = await connectNats({ ...o, nats: { maxReconnectAttempts: 0, ...o.nats } }, 'socketkit-broker-admin');
  } catch (e) {
    throw new BrokerUnavailable(`cannot reach NATS at ${String(o.servers)}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return await fn(await jetstreamManager(nc, { checkAPI: false }), n, nc);
  } finally {
    await nc.close();
  }
}

const decode = (data: Uint8Array): unknown => {
  try {
    return unpackValue(data);
  } catch {
    return undefined;
  }
};

/** @internal {@link jetStreamStats} on an open connection. */
export async function statsOn(jsm: JetStreamManager, n: Names): Promise<JetStreamStats> {
  const [s, c, d] = await Promise.all([
    jsm.streams.info(n.taskStream),
    jsm.consumers.info(n.taskStream, n.consumer),
    jsm.streams.info(n.deadStream),
  ]).catch((e: unknown) => notFound(n, e));
  const consumers: JetStreamConsumerFigures[] = [];
  for await (const ci of jsm.consumers.list(n.taskStream)) consumers.push(figures(ci));
  const adv = await jsm.consumers.info(n.advisoryStream, n.advisoryConsumer).catch(() => undefined);
  if (adv !== undefined) consumers.push(figures(adv));
  return {
    name: n.name,
    stream: n.taskStream,
    stored: s.state.messages,
    pending: c.num_pending,
    inFlight: c.num_ack_pending,
    redelivered: c.num_redelivered,
    dead: d.state.messages,
    waitingPulls: c.num_waiting,
    bytes: s.state.bytes,
    deadBytes: d.state.bytes,
    cluster: {
      ...(s.cluster?.leader === undefined ? {} : { leader: s.cluster.leader }),
      replicas: s.config.num_replicas,
      current: 1 + (s.cluster?.replicas?.filter((r) => r.current).length ?? 0),
    },
    consumers,
  };
}

/** @internal {@link jetStreamTasks} on an open connection. */
export async function tasksOn(
  jsm: JetStreamManager,
  n: Names,
  state: 'pending' | 'dead',
  limit: number,
): Promise<JetStreamTaskInfo[]> {
  const stream = state === 'dead' ? n.deadStream : n.taskStream;
  const info = await jsm.streams.info(stream).catch((e: unknown) => notFound(n, e));
  const out: JetStreamTaskInfo[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && out.length < limit; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m === null) continue;
    const t: JetStreamTaskInfo = {
      taskId: m.header?.get(TaskHeader.ID) || `seq-${m.seq}`,
      state,
      seq: m.seq,
      body: decode(m.data),
    };
    const reason = m.header?.get(TaskHeader.REASON);
    if (reason) t.reason = reason;
    const deliveries = m.header?.get(TaskHeader.DELIVERIES);
    if (deliveries) t.deliveries = Number(deliveries);
    t.bytes = m.data.length;
    t.storedAt = m.time.getTime();
    out.push(t);
  }
  return out;
}

/** @internal {@link jetStreamRequeue} on an open connection; false when no dead task has that id. */
export async function requeueOn(jsm: JetStreamManager, nc: NatsConnection, n: Names, taskId: string): Promise<boolean> {
  const dead = await tasksOn(jsm, n, 'dead', Number.MAX_SAFE_INTEGER);
  const t = dead.find((x) => x.taskId === taskId);
  if (t === undefined) return false;
  const m = await jsm.streams.getMessage(n.deadStream, { seq: t.seq });
  if (m === null) return false;
  const h = natsHeaders();
  h.set(TaskHeader.ID, taskId);
  const reply = m.header?.get(TaskHeader.REPLY);
  if (reply) h.set(TaskHeader.REPLY, reply);
  await jetstream(nc).publish(n.taskSubject, m.data, { headers: h, msgID: `${taskId}:requeue:${Date.now()}` });
  await jsm.streams.deleteMessage(n.deadStream, t.seq);
  return true;
}

/** Stream and consumer figures (`socketkit stats` for the JetStream backend). */
export function jetStreamStats(o: JetStreamAdminOptions): Promise<JetStreamStats> {
  return withJsm(o, (jsm, n) => statsOn(jsm, n));
}

/** Lists pending or dead tasks, at most `limit` (default 1000), oldest first (`socketkit broker tasks`). */
export function jetStreamTasks(
  o: JetStreamAdminOptions & { state?: 'pending' | 'dead'; limit?: number },
): Promise<JetStreamTaskInfo[]> {
  return withJsm(o, (jsm, n) => tasksOn(jsm, n, o.state ?? 'pending', o.limit ?? 1000));
}

/** Puts a dead task back in the task stream with a fresh delivery count (`socketkit broker requeue <taskId>`). */
export function jetStreamRequeue(o: JetStreamAdminOptions & { taskId: string }): Promise<void> {
  return withJsm(o, async (jsm, n, nc) => {
    if (!(await requeueOn(jsm, nc, n, o.taskId)))
      throw new InvalidRequest(`no dead task ${o.taskId}: list them with socketkit broker tasks --state dead`);
  });
}

/** Empties the dead-letter stream; returns how many tasks were removed (`socketkit broker purge --dead`). */
export function jetStreamPurgeDead(o: JetStreamAdminOptions): Promise<number> {
  return withJsm(o, async (jsm, n) => (await jsm.streams.purge(n.deadStream)).purged);
}

/**
 * The socketkit namespaces on these servers (`socketkit top --jetstream`): every task stream with its namespace's
 * subject, sorted by name.
 */
export function jetStreamNamespaces(o: Omit<JetStreamAdminOptions, 'name'>): Promise<string[]> {
  return withJsm(o, async (jsm) => {
    const found: string[] = [];
    for await (const si of jsm.streams.list()) {
      const m = /^sk\.([A-Za-z0-9_-]{1,64})\.task$/.exec(si.config.subjects?.[0] ?? '');
      if (m !== null && si.config.name === names(m[1] as string).taskStream) found.push(m[1] as string);
    }
    return found.sort();
  });
}
