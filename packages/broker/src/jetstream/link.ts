/**
 * The JetStream link: a {@link Link} that plays the broker's part inside the
 * communicator's own process, on NATS JetStream. The {@link Communicator}
 * logic (subscriber registries, contexts, outcomes, filters, errors) is the
 * same as over a socketkit broker; this file maps its messages onto NATS:
 * - tasks: a work-queue stream and one durable pull consumer shared by every
 *   task subscriber; AckWait is the lease, kept alive by in-progress acks;
 *   MaxDeliver is `maxDeliveries`; the max-deliveries advisory (captured in a
 *   stream) moves a task to the dead-letter stream; outcomes go to the
 *   submitter's reply subject as a request the submitter confirms, and the
 *   task is acked only after that;
 * - RPC: core request/reply on a subject per identifier, identifiers held in a KV bucket;
 * - broadcasts: one subject per kiwipy subject, filters pushed down to wildcards.
 */
import {
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type StreamConfig,
  type ConsumerConfig,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import {
  type ConnectionOptions,
  connect as natsConnect,
  createInbox,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  NoRespondersError,
  nanos,
  nuid,
  PermissionViolationError,
  RequestError,
  type Subscription,
} from '@nats-io/transport-node';
import { packValue, unpackValue } from '@socketkit/codec';
import type { Link, LinkEvents } from '../communicator.js';
import {
  BrokerErrorCode,
  BrokerUnavailable,
  DuplicateSubscriberIdentifier,
  InvalidRequest,
  LimitExceeded,
  type WireError,
} from '../errors.js';
import { type BrokerMessage, Kind } from '../wire.js';
import { requeueOn, statsOn, tasksOn } from './admin.js';
import { broadcastSubject, minimalSubjects, type Names, names, token } from './names.js';

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

const PING = 'sk-ping';
/** Accepted outcomes a submitter remembers, to confirm a retried hand-over whose confirmation was lost. */
const ACCEPTED_KEPT = 10_000;
/**
 * RPC calls one communicator works on at once (the broker's `maxPendingCalls` default); one more is refused with
 * `LimitExceeded`.
 */
const MAX_PENDING_CALLS = 10_000;

interface Required_ {
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

interface TaskSub {
  identifier: string;
  prefetch: number;
  inflight: number;
  /** Tasks asked for in pull requests still out. */
  requested: number;
  stopped: boolean;
  wake: (() => void) | undefined;
  stop: (() => void) | undefined;
  /** Pull requests out, oldest first: tasks still to come from each, and when it was sent. */
  pulls: { left: number; at: number }[];
}

/** How long a pull request waits at the consumer for tasks (ms). */
const PULL_EXPIRES_MS = 5000;

const PULL_BODY = (batch: number): Uint8Array =>
  new TextEncoder().encode(`{"batch":${batch},"expires":${PULL_EXPIRES_MS * 1_000_000}}`);

const ACK = new TextEncoder().encode('+ACK');
const NAK = new TextEncoder().encode('-NAK');
const WPI = new TextEncoder().encode('+WPI');

/**
 * A delivered task message: what the link needs of nats.js's `JsMsg` (ack, nak with delay, in-progress, the delivery
 * count and stream sequence from the ack subject), made from the plain message of the pull inbox.
 */
class TaskMsg {
  readonly seq: number;
  readonly info: { deliveryCount: number; stream: string };
  readonly #nc: NatsConnection;
  readonly #m: Msg;
  readonly #reply: string;
  #done = false;

  constructor(nc: NatsConnection, m: Msg, reply: string) {
    this.#nc = nc;
    this.#m = m;
    this.#reply = reply;
    // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending> (or with <domain>.<account> after ACK)
    const t = reply.split('.');
    if (t.length === 9) t.splice(2, 0, '_', '');
    this.seq = Number(t[7]);
    this.info = { deliveryCount: Number(t[6]), stream: t[4] ?? '' };
  }

  get data(): Uint8Array {
    return this.#m.data;
  }

  get headers(): MsgHdrs | undefined {
    return this.#m.headers;
  }

  ack(): void {
    this.#send(ACK, true);
  }

  nak(millis?: number): void {
    this.#send(
      millis === undefined ? NAK : new TextEncoder().encode(`-NAK ${JSON.stringify({ delay: nanos(millis) })}`),
      true,
    );
  }

  working(): void {
    this.#send(WPI, false);
  }

  #send(data: Uint8Array, final: boolean): void {
    if (this.#done) return;
    if (final) this.#done = true;
    try {
      this.#nc.publish(this.#reply, data);
    } catch {
      // closed: JetStream redelivers after AckWait
    }
  }
}

/** A task message: from the pull inbox ({@link TaskMsg}) or a nats.js `JsMsg`. */
type TaskMessage = Pick<JsMsg, 'seq' | 'data' | 'headers' | 'ack' | 'nak' | 'working'> & {
  info: { deliveryCount: number; stream: string };
};

/** An outcome being handed over: resent by the link's sweep at `next` until confirmed. */
interface Handing {
  next: number;
  send(): void;
  done(verdict: 'ok' | 'stale' | 'gone'): void;
}

interface Delivery {
  msg: TaskMessage;
  taskId: string;
  attempt: number;
  sub: TaskSub;
  /** When it was delivered. */
  since: number;
  released: boolean;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

const wire = (code: string, message: string, details?: Record<string, unknown>): WireError =>
  details ? { code, message, details } : { code, message };

/** An error `Communicator` sorts as "this message cannot be sent". */
function messageError(code: 'FRAME_TOO_LARGE' | 'INVALID_MESSAGE', message: string): Error {
  return Object.assign(new Error(message), { code });
}

const isNoResponders = (e: unknown): boolean =>
  e instanceof NoRespondersError ||
  (e instanceof RequestError && e.isNoResponders()) ||
  (e as Error)?.cause instanceof NoRespondersError;

/** Resolves the defaults of {@link JetStreamOptions}. */
export function jetStreamDefaults(o: Partial<JetStreamOptions>): Required_ {
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

/** Creates (or finds) the task, dead-letter and advisory streams and their consumers of one namespace. */
export async function ensureStreams(jsm: JetStreamManager, n: Names, o: Required_, replicas: number): Promise<void> {
  const storage = o.storage as StreamConfig['storage'];
  const streams: (Partial<StreamConfig> & { name: string })[] = [
    {
      name: n.taskStream,
      subjects: [n.taskSubject],
      retention: 'workqueue' as StreamConfig['retention'],
      storage,
      num_replicas: replicas,
      max_msgs: o.maxPendingTasks,
      max_bytes: o.maxPendingBytes,
      discard: 'new' as StreamConfig['discard'],
      duplicate_window: nanos(o.duplicateWindowMs),
    },
    {
      name: n.deadStream,
      subjects: [n.deadSubject],
      retention: 'limits' as StreamConfig['retention'],
      storage,
      num_replicas: replicas,
      max_msgs: o.maxDeadTasks,
      discard: 'old' as StreamConfig['discard'],
      duplicate_window: nanos(o.duplicateWindowMs),
    },
    {
      name: n.advisoryStream,
      subjects: [n.advisorySubject],
      retention: 'workqueue' as StreamConfig['retention'],
      storage,
      num_replicas: replicas,
      max_msgs: o.maxPendingTasks,
    },
  ];
  // Look first, create only what is missing: a client without the right to create streams (an untrusted worker) only
  // needs to read them, and an existing stream created with other limits is used as it is.
  const missing = (e: unknown): boolean => /not found/i.test(String((e as Error)?.message));
  for (const cfg of streams) {
    try {
      await jsm.streams.info(cfg.name);
    } catch (e) {
      if (!missing(e)) throw e;
      await jsm.streams.add(cfg).catch(async (e2: unknown) => {
        await jsm.streams.info(cfg.name).catch(() => {
          throw e2; // not created by someone else meanwhile either
        });
      });
    }
  }
  const consumers: [string, Partial<ConsumerConfig>][] = [
    [
      n.taskStream,
      {
        durable_name: n.consumer,
        ack_policy: 'explicit' as ConsumerConfig['ack_policy'],
        ack_wait: nanos(o.ackWaitMs),
        max_deliver: o.maxDeliveries,
        max_ack_pending: -1,
        max_waiting: 4096,
        filter_subject: n.taskSubject,
      },
    ],
    [
      n.advisoryStream,
      {
        durable_name: n.advisoryConsumer,
        ack_policy: 'explicit' as ConsumerConfig['ack_policy'],
        ack_wait: nanos(30_000),
        max_ack_pending: -1,
      },
    ],
  ];
  for (const [stream, cfg] of consumers) {
    try {
      await jsm.consumers.info(stream, cfg.durable_name as string);
    } catch (e) {
      if (!missing(e)) throw e;
      await jsm.consumers.add(stream, cfg).catch(async (e2: unknown) => {
        await jsm.consumers.info(stream, cfg.durable_name as string).catch(() => {
          throw e2;
        });
      });
    }
  }
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

/** @internal The link of a `JetStreamCommunicator`. */
export class JetStreamLink implements Link {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: Names;
  readonly options: Required_;
  /** This communicator's id (its outcome subject and KV owner value). */
  readonly id = nuid.next();
  readonly #outSubject: string;
  readonly #confirmSubject: string;
  /** Outcomes handed over and not confirmed yet, by delivery (resent by one sweep: no timer per task). */
  readonly #handing = new Map<string, Handing>();
  #handTimer: NodeJS.Timeout | undefined;
  /**
   * Stream publishes waiting for their PubAck, by number: answered on this link's own inbox (`<inbox>.<n>`), not by
   * a nats.js request each (a timer, a deferred and an Error with a stack per task); one sweep times them out.
   */
  readonly #pubs = new Map<
    number,
    { resolve(seq: number): void; reject(e: Error): void; sent: number; subject: string }
  >();
  #pubSeq = 0;
  #pubInbox = '';
  /** Subjects the server refused this user (permission violations), as they were reported. */
  readonly #denied = new Set<string>();
  /** Confirmations to send at the end of this event-loop turn, by worker subject. */
  readonly #confirms = new Map<string, [string, string][]>();
  #events: LinkEvents | undefined;
  #report: (e: Error) => void = () => undefined;
  #closed = false;
  #downSince: number | undefined;
  /**
   * Tasks this submitter waits an outcome for: taskId -> stream sequence (0 until stored) and since when it left the
   * stream.
   */
  readonly #waiting = new Map<string, { seq: number; goneSince: number | undefined }>();
  #orphanTimer: NodeJS.Timeout | undefined;
  #orphanCursor = 0;
  /** Recently accepted outcomes: taskId -> the delivery that gave it (to confirm a retried hand-over again). */
  readonly #accepted = new Map<string, string>();
  readonly #taskSubs = new Map<string, TaskSub>();
  readonly #deliveries = new Map<string, Delivery>();
  readonly #rpcSubs = new Map<string, { sub: Subscription; key: string; revision: number }>();
  readonly #calls = new Map<number, Msg>();
  #nextCall = 0;
  readonly #bcWanted = new Map<string, string[]>();
  readonly #bcSubs = new Map<string, Subscription>();
  #kv: Promise<KV> | undefined;
  #consumer: Promise<Consumer> | undefined;
  #deadLoop = false;
  #rpcTimer: NodeJS.Timeout | undefined;
  /** Deliveries whose lease this link keeps (running, or handing their outcome over). */
  readonly #leased = new Set<Delivery>();
  #leaseTimer: NodeJS.Timeout | undefined;
  /**
   * Outcomes that reached this submitter for a task it already had an outcome for (a redelivered task that ran twice).
   */
  duplicateOutcomes = 0;
  /** Set by the communicator just before an `rpcSend`: the caller's timeout. */
  nextRpcTimeout: number | undefined;

  constructor(nc: NatsConnection, jsm: JetStreamManager, n: Names, options: Required_) {
    this.nc = nc;
    this.js = jetstream(nc);
    this.jsm = jsm;
    this.names = n;
    this.options = options;
    this.#outSubject = n.outcomes(this.id);
    this.#confirmSubject = n.confirms(this.id);
  }

  /** Connects, creates the streams if needed, and returns the link. */
  static async open(options: JetStreamOptions): Promise<JetStreamLink> {
    const o = jetStreamDefaults(options);
    const n = names(o.name);
    const nc = await connectNats(options, `socketkit-broker-${o.name}`);
    try {
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      const replicas = o.replicas === 'auto' ? autoReplicas(nc) : o.replicas;
      await ensureStreams(jsm, n, o, replicas);
      return new JetStreamLink(nc, jsm, n, o);
    } catch (e) {
      await nc.close().catch(() => undefined);
      throw e;
    }
  }

  /** Binds the communicator's events and starts: the outcome inbox, connection watch, then `up`. */
  start(events: LinkEvents, report: (e: Error) => void, status: (up: boolean, reason: string) => void): void {
    this.#events = events;
    this.#report = report;
    this.nc.subscribe(this.#outSubject, { callback: (_e, m) => this.#onOutcome(m) });
    this.nc.subscribe(this.#confirmSubject, { callback: (_e, m) => this.#onConfirm(m) });
    this.#pubInbox = createInbox((this.nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.nc.subscribe(`${this.#pubInbox}.*`, { callback: (_e, m) => this.#onPubAck(m) });
    // Resends unconfirmed outcome hand-overs and times out unanswered publishes (one timer for all of them).
    this.#handTimer = setInterval(() => this.#sweep(), 250);
    this.#handTimer.unref();
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect') {
          this.#downSince ??= Date.now();
          status(false, `NATS connection lost (${String((s as { server?: string }).server ?? '')})`);
        } else if (s.type === 'reconnect') {
          this.#downSince = undefined;
          status(true, 'reconnected');
        } else if (s.type === 'error') {
          const e = (s as { error?: unknown }).error;
          if (e instanceof PermissionViolationError) {
            this.#denied.add(e.subject);
            // Publishes to a stream the user may not write to fail now, not after the PubAck timeout.
            for (const [n, p] of this.#pubs)
              if (p.subject === e.subject) {
                this.#pubs.delete(n);
                p.reject(e);
              }
            this.#report(
              new BrokerUnavailable(`the NATS server refused this user: ${e.message} (see its permissions)`, {
                cause: e,
              }),
            );
          }
        }
      }
    })().catch(() => undefined);
    this.#rpcTimer = setInterval(() => this.#refreshRpc(), Math.max(100, Math.floor(this.options.rpcTtlMs / 3)));
    this.#rpcTimer.unref();
    const orphanEvery = Math.min(10_000, Math.max(100, Math.floor(this.options.outcomeTtlMs / 2)));
    let checking = false;
    this.#orphanTimer = setInterval(() => {
      if (checking) return;
      checking = true;
      void this.#checkOrphans().finally(() => {
        checking = false;
      });
    }, orphanEvery);
    this.#orphanTimer.unref();
    const every = Math.max(100, Math.floor(this.options.ackWaitMs / 3));
    this.#leaseTimer = setInterval(() => this.#keepLeases(every), every);
    this.#leaseTimer.unref();
    queueMicrotask(() => events.up());
  }

  // ---- Link ----

  send(m: BrokerMessage): unknown {
    if (this.#closed) throw new BrokerUnavailable('the JetStream link is closed');
    switch (m.kind) {
      case Kind.TASK:
        return this.#task(m);
      case Kind.SUBSCRIBE:
        return this.#answer(m, this.#subscribe(m));
      case Kind.UNSUBSCRIBE:
        return this.#answer(m, this.#unsubscribe(m));
      case Kind.RESULT:
      case Kind.REJECT:
        return this.#finish(m);
      case Kind.PROGRESS: {
        const d = this.#deliveries.get(String(m.taskId));
        if (d !== undefined && d.attempt === m.attempt) d.msg.working();
        return undefined;
      }
      case Kind.RPC:
        return this.#rpc(m);
      case Kind.RPC_REPLY:
        return this.#rpcReply(m);
      case Kind.BROADCAST: {
        const b: Record<string, unknown> = { body: m.body };
        for (const k of ['sender', 'subject', 'correlationId']) if (m[k] !== undefined) b[k] = m[k];
        const data = this.#pack(b);
        this.nc.publish(broadcastSubject(this.names.broadcast, m.subject as string | undefined), data);
        return undefined;
      }
      case Kind.ADMIN:
        return this.#answer(m, this.#admin(m));
      case Kind.ATTACH:
        // The link never goes down (NATS reconnects under it): outcomes wait at the worker for the submitter.
        return this.#reply(m.ref, true, null);
      default:
        throw messageError('INVALID_MESSAGE', `unknown message kind ${String(m.kind)}`);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#rpcTimer) clearInterval(this.#rpcTimer);
    if (this.#handTimer) clearInterval(this.#handTimer);
    for (const h of [...this.#handing.values()]) h.done('gone');
    for (const p of [...this.#pubs.values()]) p.reject(new BrokerUnavailable('the communicator closed'));
    this.#pubs.clear();
    for (const s of this.#taskSubs.values()) this.#stopSub(s);
    // Tasks this worker still holds go back to the queue at once (the next delivery is attempt + 1).
    if (this.#leaseTimer) clearInterval(this.#leaseTimer);
    if (this.#orphanTimer) clearInterval(this.#orphanTimer);
    this.#leased.clear();
    for (const d of this.#deliveries.values()) d.msg.nak();
    this.#deliveries.clear();
    if (this.#rpcSubs.size > 0) {
      const kv = await this.#kv;
      await Promise.all(
        [...this.#rpcSubs.values()].map(async (r) => {
          r.sub.unsubscribe();
          await kv?.delete(r.key, { previousSeq: r.revision }).catch(() => undefined);
        }),
      );
    }
    await this.nc.drain().catch(() => this.nc.close());
  }

  /** Allows the broadcast subjects of a subscriber to be set before it subscribes. */
  setBroadcastSubjects(identifier: string, subjects: string[] | undefined): void {
    if (subjects === undefined) this.#bcWanted.delete(identifier);
    else this.#bcWanted.set(identifier, subjects);
  }

  /** Re-subscribes to the union of the broadcast subscribers' subjects. */
  async syncBroadcasts(): Promise<void> {
    const want = minimalSubjects([...this.#bcWanted.values()].flat());
    for (const [s, sub] of this.#bcSubs)
      if (!want.includes(s)) {
        sub.unsubscribe();
        this.#bcSubs.delete(s);
      }
    for (const s of want)
      if (!this.#bcSubs.has(s))
        this.#bcSubs.set(s, this.nc.subscribe(s, { callback: (_e, m) => this.#onBroadcast(m) }));
    await this.nc.flush();
  }

  /** Subjects of this communicator's broadcast subscriptions (for tests and stats). */
  get broadcastSubscriptions(): string[] {
    return [...this.#bcSubs.keys()].sort();
  }

  // ---- helpers ----

  #emit(m: BrokerMessage): void {
    const events = this.#events;
    if (events === undefined || this.#closed) return;
    queueMicrotask(() => events.message(m));
  }

  #reply(ref: unknown, ok: boolean, result: unknown, error?: WireError): undefined {
    if (ref === undefined) return undefined;
    this.#emit(ok ? { kind: Kind.REPLY, ref, ok: true, result } : { kind: Kind.REPLY, ref, ok: false, error });
    return undefined;
  }

  #answer(m: BrokerMessage, work: Promise<unknown>): undefined {
    work.then(
      (result) => this.#reply(m.ref, true, result ?? null),
      (e: unknown) => this.#reply(m.ref, false, undefined, toWire(e)),
    );
    return undefined;
  }

  /** Packs a value for NATS; throws what `Communicator` turns into `InvalidRequest` / `LimitExceeded`. */
  #pack(value: unknown): Uint8Array {
    let data: Uint8Array;
    try {
      data = packValue(value);
    } catch (e) {
      throw messageError('INVALID_MESSAGE', `cannot encode with msgpack: ${(e as Error).message}`);
    }
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
    if (data.length > max - 512)
      throw messageError('FRAME_TOO_LARGE', `${data.length} bytes is over the server's max_payload (${max})`);
    return data;
  }

  // ---- operations (Communicator.brokerStats, listTasks, requeueTask, purgeDead) ----

  async #admin(m: BrokerMessage): Promise<unknown> {
    switch (m.op) {
      case 'stats': {
        const st = await statsOn(this.jsm, this.names);
        const zero = {
          submitted: 0,
          completed: 0,
          failed: 0,
          rejected: 0,
          deadLettered: 0,
          staleRefused: 0,
          refused: 0,
          rpcCalls: 0,
          broadcasts: 0,
        };
        // The BrokerStats shape; what only a broker process counts is 0 here, the JetStream figures are under
        // `jetstream`.
        return {
          durable: this.options.storage === 'file',
          pending: st.pending,
          inflight: st.inFlight,
          dead: st.dead,
          keptResults: 0,
          pendingBytes: st.bytes,
          connections: 0,
          subscribers: [],
          rpcSubscribers: [],
          broadcastConnections: 0,
          pendingCalls: 0,
          tasksPerSecond: 0,
          totals: { ...zero, redelivered: st.redelivered },
          backend: 'jetstream',
          jetstream: st,
        };
      }
      case 'tasks': {
        const limit = typeof m.limit === 'number' ? m.limit : 1000;
        const states: ('pending' | 'dead')[] =
          m.state === undefined ? ['pending', 'dead'] : m.state === 'pending' || m.state === 'dead' ? [m.state] : [];
        const out: Record<string, unknown>[] = [];
        for (const state of states)
          for (const t of await tasksOn(this.jsm, this.names, state, limit - out.length))
            out.push({
              taskId: t.taskId,
              state,
              attempt: t.deliveries ?? 0,
              failures: 0,
              bytes: t.bytes ?? 0,
              createdAt: t.storedAt ?? 0,
            });
        return out; // in-flight tasks cannot be listed one by one on JetStream (stats has their count)
      }
      case 'requeue':
        return requeueOn(this.jsm, this.nc, this.names, String(m.taskId));
      case 'purgeDead':
        return (await this.jsm.streams.purge(this.names.deadStream)).purged;
      default:
        throw new InvalidRequest(`unknown operation ${String(m.op)}`);
    }
  }

  // ---- tasks: submitter ----

  #task(m: BrokerMessage): undefined {
    const taskId = String(m.taskId);
    const data = this.#pack(m.body);
    const h = natsHeaders();
    h.set(TaskHeader.ID, taskId);
    if (m.noReply !== true) {
      h.set(TaskHeader.REPLY, this.#outSubject);
      this.#waiting.set(taskId, { seq: 0, goneSince: undefined });
    }
    this.#publish(this.names.taskSubject, data, h, taskId).then(
      (seq) => {
        const w = this.#waiting.get(taskId);
        if (w !== undefined) w.seq = seq;
        this.#reply(m.ref, true, taskId);
      },
      (e: unknown) => {
        this.#waiting.delete(taskId);
        this.#reply(m.ref, false, undefined, toWire(e));
      },
    );
    return undefined;
  }

  /**
   * Publishes to a stream, retrying (same msgID: stored once) while the cluster elects a leader or the connection is
   * back.
   */
  async #publish(subject: string, data: Uint8Array, headers: MsgHdrs, msgID: string): Promise<number> {
    const deadline = Date.now() + this.options.publishTimeoutMs;
    let wait = 100;
    for (;;) {
      if (this.#closed) throw new BrokerUnavailable('the communicator closed before the task was stored');
      try {
        return await this.#publishOnce(subject, data, headers, msgID);
      } catch (e) {
        const text = String((e as Error).message);
        if (e instanceof PermissionViolationError)
          throw new BrokerUnavailable(`this NATS user may not publish to ${subject} (permissions): ${text}`, {
            cause: e,
          });
        if (/maximum (messages|bytes)/i.test(text))
          throw new LimitExceeded(
            `the task stream is full (${text}): wait for workers or raise maxPendingTasks/maxPendingBytes`,
            {
              details: { limit: /bytes/i.test(text) ? 'maxPendingBytes' : 'maxPendingTasks' },
            },
          );
        if (Date.now() > deadline)
          throw new BrokerUnavailable(
            `JetStream did not store the task within ${this.options.publishTimeoutMs} ms (${text}): is the cluster up?`,
            {
              cause: e,
            },
          );
        await delay(wait);
        wait = Math.min(wait * 2, 2000);
      }
    }
  }

  /** One publish to a stream, resolved with the stored sequence of its PubAck (rejected on an error or 5 s silence). */
  #publishOnce(subject: string, data: Uint8Array, headers: MsgHdrs, msgID: string): Promise<number> {
    headers.set('Nats-Msg-Id', msgID);
    const n = ++this.#pubSeq;
    return new Promise((resolve, reject) => {
      this.#pubs.set(n, { resolve, reject, sent: Date.now(), subject });
      try {
        this.nc.publish(subject, data, { reply: `${this.#pubInbox}.${n}`, headers });
      } catch (e) {
        this.#pubs.delete(n);
        reject(e as Error);
      }
    });
  }

  /** The PubAck (or the server's refusal, or "no responders") of one publish of `#publishOnce`. */
  #onPubAck(m: Msg): void {
    const n = Number(m.subject.slice(this.#pubInbox.length + 1));
    const p = this.#pubs.get(n);
    if (p === undefined) return; // answered after its timeout: the retry has its own number
    this.#pubs.delete(n);
    const code = m.headers?.code ?? 0;
    if (code >= 400) {
      p.reject(new Error(code === 503 ? 'no responders: no stream stored the task' : `status ${code}`));
      return;
    }
    let ack: { seq?: unknown; error?: { description?: unknown } };
    try {
      ack = JSON.parse(new TextDecoder().decode(m.data));
    } catch {
      p.reject(new Error('a malformed PubAck'));
      return;
    }
    if (typeof ack.seq === 'number') p.resolve(ack.seq);
    else p.reject(new Error(String(ack.error?.description ?? 'the stream refused the message')));
  }

  /** Every 250 ms: resends the hand-overs that are due, times out publishes unanswered for 5 s. */
  #sweep(): void {
    const now = Date.now();
    for (const [n, p] of this.#pubs)
      if (now - p.sent > 5000) {
        this.#pubs.delete(n);
        p.reject(new Error('no PubAck within 5000 ms'));
      }
    for (const h of this.#handing.values()) if (h.next <= now) h.send();
    this.#expirePulls(now);
  }

  /**
   * A submitter never waits forever: a task that left the stream (purged by an
   * operator, acked by a forged ack) without its outcome arriving within
   * `outcomeTtlMs` fails with `BrokerUnavailable`. Checks at most 64 tasks a round.
   */
  async #checkOrphans(): Promise<void> {
    const now = Date.now();
    const all = [...this.#waiting].filter(([, w]) => w.seq > 0);
    if (all.length === 0) return;
    const start = this.#orphanCursor % all.length;
    const batch = [...all.slice(start), ...all.slice(0, start)].slice(0, 64);
    this.#orphanCursor = start + batch.length;
    for (const [taskId, w] of batch) {
      if (this.#closed) return;
      if (w.goneSince === undefined) {
        let stored: unknown;
        try {
          stored = await this.jsm.streams.getMessage(this.names.taskStream, { seq: w.seq });
        } catch {
          return; // the cluster is not answering: nothing to conclude now
        }
        if (stored === null) w.goneSince = now;
      } else if (now - w.goneSince > this.options.outcomeTtlMs && this.#waiting.delete(taskId)) {
        this.#emit({
          kind: Kind.OUTCOME,
          taskId,
          ok: false,
          error: wire(
            BrokerErrorCode.BROKER_UNAVAILABLE,
            `task ${taskId} left the task stream without an outcome reaching this submitter (purged, or its worker ` +
              `lost it): it may or may not have run`,
            { taskId },
          ),
        });
      }
    }
  }

  #onOutcome(msg: Msg): void {
    let o: Record<string, unknown>;
    try {
      o = unpackValue(msg.data) as Record<string, unknown>;
      if (typeof o !== 'object' || o === null || typeof o.taskId !== 'string') throw new Error('not an outcome map');
    } catch (e) {
      this.#report(
        new InvalidRequest(`a malformed outcome arrived on ${msg.subject} and was dropped: ${(e as Error).message}`),
      );
      if (msg.reply) msg.respond(packValue('invalid'));
      return;
    }
    const taskId = o.taskId as string;
    const delivery = typeof o.delivery === 'string' ? o.delivery : undefined;
    const first = this.#waiting.delete(taskId);
    // A retry of the hand-over that was accepted (its confirmation was lost) is confirmed again, not counted.
    const again = !first && delivery !== undefined && this.#accepted.get(taskId) === delivery;
    const verdict = first || again ? 'ok' : 'stale';
    if (msg.reply) msg.respond(packValue(verdict));
    if (typeof o.confirm === 'string' && delivery !== undefined && /^[^\s*>]+$/.test(o.confirm))
      this.#confirm(o.confirm, delivery, verdict);
    if (!first) {
      if (!again) this.duplicateOutcomes++;
      return;
    }
    if (delivery !== undefined) {
      this.#accepted.set(taskId, delivery);
      if (this.#accepted.size > ACCEPTED_KEPT) this.#accepted.delete(this.#accepted.keys().next().value as string);
    }
    this.#emit(
      o.ok === true
        ? { kind: Kind.OUTCOME, taskId: o.taskId, ok: true, result: o.result }
        : { kind: Kind.OUTCOME, taskId: o.taskId, ok: false, error: o.error },
    );
  }

  // ---- tasks: worker ----

  async #subscribe(m: BrokerMessage): Promise<unknown> {
    const identifier = String(m.identifier);
    if (m.type === 'task') {
      const prefetch = Number(m.prefetch ?? 1);
      if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 1024)
        throw new InvalidRequest(`prefetch must be an integer from 1 to 1024 (got ${String(m.prefetch)})`);
      this.#consumer ??= this.js.consumers.get(this.names.taskStream, this.names.consumer);
      await this.#consumer.catch((e: unknown) => {
        this.#consumer = undefined;
        throw new BrokerUnavailable(`cannot bind the task consumer: ${(e as Error).message}`, { cause: e });
      });
      const sub: TaskSub = {
        identifier,
        prefetch,
        inflight: 0,
        requested: 0,
        stopped: false,
        wake: undefined,
        stop: undefined,
        pulls: [],
      };
      this.#taskSubs.set(identifier, sub);
      const api = this.#pull(sub);
      // A user without the right to pull (a submitter's permissions) is refused here, not left waiting for tasks.
      // (bounded: a connection that is down now does not hold the subscriber up; it pulls once it is back)
      await Promise.race([this.nc.flush().catch(() => undefined), delay(5000)]);
      await new Promise<void>((r) => setImmediate(r));
      if (this.#denied.has(api)) {
        this.#stopSub(sub);
        this.#taskSubs.delete(identifier);
        throw new BrokerUnavailable(
          `this NATS user may not take tasks: the server refused its pull request on ${api} (permissions)`,
        );
      }
      this.#startDeadLetters();
      return null;
    }
    if (m.type === 'rpc') return this.#holdRpc(identifier);
    if (m.type === 'broadcast') {
      if (!this.#bcWanted.has(identifier)) this.#bcWanted.set(identifier, [`${this.names.broadcast}.>`]);
      await this.syncBroadcasts();
      return null;
    }
    throw new InvalidRequest(`unknown subscriber type ${String(m.type)}`);
  }

  async #unsubscribe(m: BrokerMessage): Promise<unknown> {
    const identifier = String(m.identifier);
    if (m.type === 'task') {
      const s = this.#taskSubs.get(identifier);
      if (s !== undefined) this.#stopSub(s);
      this.#taskSubs.delete(identifier);
    } else if (m.type === 'rpc') {
      const r = this.#rpcSubs.get(identifier);
      if (r !== undefined) {
        this.#rpcSubs.delete(identifier);
        r.sub.unsubscribe();
        const kv = await this.#kv;
        await kv?.delete(r.key, { previousSeq: r.revision }).catch(() => undefined);
      }
    } else if (m.type === 'broadcast') {
      this.#bcWanted.delete(identifier);
      await this.syncBroadcasts();
    }
    return null;
  }

  #stopSub(s: TaskSub): void {
    s.stopped = true;
    s.stop?.();
    s.wake?.();
  }

  /**
   * One subscriber's pull loop: keeps pull requests out for exactly the free
   * prefetch slots (tasks running + tasks asked for <= prefetch), so no more
   * than `prefetch` are delivered to it at once, and a freed slot is asked
   * for at once. The requests go to the consumer's `MSG.NEXT` API with one
   * inbox per subscriber, kept for its life (a nats.js `fetch()` per pull was
   * a subscription, an iterator and timers each time, and a SUB/UNSUB at the
   * server); a request that ends unfilled (408/409 with
   * `Nats-Pending-Messages`) gives its slots back, and one that neither
   * filled nor ended by `PULL_EXPIRES_MS` + 2 s is taken as lost.
   */
  #pull(sub: TaskSub): string {
    const inbox = createInbox((this.nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    const api = `$JS.API.CONSUMER.MSG.NEXT.${this.names.taskStream}.${this.names.consumer}`;
    const natsSub = this.nc.subscribe(inbox, { callback: (_e, m) => onMessage(m) });
    const pulls = sub.pulls;
    // After a refusal (503 no responders while JetStream elects a leader, 409 consumer deleted, ...) the next request
    // waits, 100 ms doubling to 2 s: no hot loop of refused pulls.
    let backoff = 0;
    let holding = false;
    const onMessage = (m: Msg): void => {
      const reply = m.reply;
      if (!reply) {
        // A status: the oldest request ended (408 expired, 409 leadership change, max waiting, ...).
        const code = m.headers?.code ?? 0;
        if (code === 100) return; // heartbeat
        const p = pulls.shift();
        if (p === undefined) return; // already given up on by the sweep
        const pending = Number(m.headers?.get('Nats-Pending-Messages') || Number.NaN);
        sub.requested = Math.max(0, sub.requested - (Number.isFinite(pending) ? pending : p.left));
        if (code === 408 || code === 404 || holding) {
          sub.wake?.();
          return;
        }
        if (backoff === 0)
          this.#report(
            new BrokerUnavailable(
              `pulling tasks: the server answered ${code} ${m.headers?.description ?? ''}; retrying with backoff`,
            ),
          );
        backoff = Math.min(backoff === 0 ? 100 : backoff * 2, 2000);
        holding = true;
        setTimeout(() => {
          holding = false;
          sub.wake?.();
        }, backoff).unref();
        return;
      }
      backoff = 0;
      sub.requested = Math.max(0, sub.requested - 1);
      const p = pulls[0];
      if (p !== undefined && --p.left <= 0) pulls.shift();
      const msg = new TaskMsg(this.nc, m, reply);
      if (sub.stopped || this.#closed) msg.nak();
      else this.#deliver(sub, msg);
    };
    sub.stop = () => natsSub.unsubscribe();
    const ask = (): void => {
      if (sub.stopped || this.#closed || holding) return;
      const free = sub.prefetch - sub.inflight - sub.requested;
      // Like consume()'s threshold: while a pull is out, ask again only for a quarter of the prefetch or more.
      if (free <= 0 || (sub.requested > 0 && free < Math.ceil(sub.prefetch / 4))) return;
      sub.requested += free;
      pulls.push({ left: free, at: Date.now() });
      try {
        this.nc.publish(api, PULL_BODY(free), { reply: inbox });
      } catch (e) {
        // closed or draining; a reconnect keeps the subscription and the sweep gives the slots back
        this.#report(new BrokerUnavailable(`pulling tasks failed, retrying: ${(e as Error).message}`, { cause: e }));
      }
    };
    // Asked again when a slot frees or a request ends, once per event-loop turn (freed slots add up).
    let queued = false;
    sub.wake = () => {
      if (queued) return;
      queued = true;
      setImmediate(() => {
        queued = false;
        ask();
      });
    };
    ask();
    return api;
  }

  /** Pull requests out longer than they can live: their slots are asked for again (the sweep, every 250 ms). */
  #expirePulls(now: number): void {
    for (const sub of this.#taskSubs.values()) {
      let lost = 0;
      while (sub.pulls.length > 0 && now - (sub.pulls[0] as { at: number }).at > PULL_EXPIRES_MS + 2000)
        lost += (sub.pulls.shift() as { left: number }).left;
      if (lost > 0 || (sub.pulls.length === 0 && sub.requested > 0)) {
        sub.requested = Math.max(0, sub.requested - lost);
        if (sub.pulls.length === 0) sub.requested = 0;
        sub.wake?.();
      }
    }
  }

  #deliver(sub: TaskSub, msg: TaskMessage): void {
    let body: unknown;
    try {
      body = unpackValue(msg.data);
    } catch (e) {
      void this.#deadLetter(msg, 'malformed', `the body is not msgpack: ${(e as Error).message}`);
      return;
    }
    const taskId = msg.headers?.get(TaskHeader.ID) || `seq-${msg.seq}`;
    const attempt = msg.info.deliveryCount;
    const held = this.#deliveries.get(taskId);
    if (held !== undefined) {
      if (held.msg.seq !== msg.seq) {
        // Another stream message with the same task id (not published by taskSend): refuse it.
        void this.#deadLetter(msg, 'malformed', `a second message with task id ${taskId} while the first is running`);
        return;
      }
      // This worker holds an older delivery of the same message (its lease ran out): that one is stale now.
      this.#drop(held);
      this.#emit({ kind: Kind.CANCEL, taskId, attempt: held.attempt });
    }
    sub.inflight++;
    const d: Delivery = { msg, taskId, attempt, sub, released: false, since: Date.now() };
    this.#leased.add(d);
    this.#deliveries.set(taskId, d);
    this.#emit({ kind: Kind.DELIVER, taskId, attempt, identifier: sub.identifier, body });
  }

  /**
   * The lease: an in-progress ack for every delivery held, each third of
   * AckWait (one timer for all). Disconnected for longer than AckWait,
   * JetStream has handed the tasks on: their handlers see their signal aborted.
   */
  #keepLeases(every: number): void {
    const now = Date.now();
    const lost = this.#downSince !== undefined && now - this.#downSince > this.options.ackWaitMs;
    for (const d of this.#leased) {
      if (lost) {
        this.#leased.delete(d);
        if (this.#deliveries.get(d.taskId) === d) {
          this.#drop(d);
          this.#emit({ kind: Kind.CANCEL, taskId: d.taskId, attempt: d.attempt });
        }
        continue;
      }
      if (now - d.since >= every / 2) d.msg.working();
    }
  }

  /** Frees a delivery's prefetch slot and stops its in-progress acks. */
  #drop(d: Delivery): void {
    this.#leased.delete(d);
    if (this.#deliveries.get(d.taskId) === d) this.#deliveries.delete(d.taskId);
    if (!d.released) {
      d.released = true;
      d.sub.inflight--;
      d.sub.wake?.();
    }
  }

  #finish(m: BrokerMessage): undefined {
    const taskId = String(m.taskId);
    const d = this.#deliveries.get(taskId);
    if (d === undefined || d.attempt !== m.attempt)
      return this.#reply(
        m.ref,
        false,
        undefined,
        wire(
          BrokerErrorCode.STALE_DELIVERY,
          `delivery ${String(m.attempt)} of task ${taskId} is no longer current (its lease ran out)`,
        ),
      );
    if (m.kind === Kind.REJECT) {
      this.#drop(d);
      d.msg.nak(Math.min(5000, 50 * 2 ** (d.attempt - 1)));
      return this.#reply(m.ref, true, null);
    }
    const delivery = `${this.id}:${d.msg.seq}:${d.attempt}`;
    const outcome =
      m.ok === true
        ? { taskId, delivery, ok: true, result: m.result }
        : { taskId, delivery, ok: false, error: m.error };
    const replyTo = d.msg.headers?.get(TaskHeader.REPLY);
    // Packed before anything changes: a result that cannot travel throws, and the communicator makes that the outcome.
    const data = this.#pack(replyTo ? { ...outcome, confirm: this.#confirmSubject } : outcome);
    // The handler is done: its prefetch slot is free; the lease is kept (in-progress) until the outcome is handed over.
    this.#deliveries.delete(taskId);
    if (!d.released) {
      d.released = true;
      d.sub.inflight--;
      d.sub.wake?.();
    }
    const settle = (verdict: 'ok' | 'stale' | 'gone'): void => {
      if (this.#closed) return;
      this.#leased.delete(d);
      d.msg.ack();
      if (verdict === 'stale')
        this.#reply(
          m.ref,
          false,
          undefined,
          wire(BrokerErrorCode.STALE_DELIVERY, `task ${taskId} already had its outcome (this was a second run)`),
        );
      else this.#reply(m.ref, true, null);
    };
    if (replyTo) this.#handOver(replyTo, delivery, data, settle);
    else settle('ok');
    return undefined;
  }

  /**
   * Hands an outcome to its submitter: published to its outcome subject with
   * this link's confirmation subject; the submitter confirms (in batches,
   * once per event-loop turn) with `ok` or `stale`. Resent while
   * unconfirmed (the submitter may be reconnecting to another node), with
   * backoff from 1 s, for up to `outcomeTtlMs`.
   */
  #handOver(
    subject: string,
    delivery: string,
    data: Uint8Array,
    settle: (verdict: 'ok' | 'stale' | 'gone') => void,
  ): void {
    const deadline = Date.now() + this.options.outcomeTtlMs;
    let wait = 1000;
    const h: Handing = {
      next: 0,
      done: (verdict) => {
        if (this.#handing.get(delivery) !== h) return;
        this.#handing.delete(delivery);
        settle(verdict);
      },
      send: () => {
        if (this.#closed) return h.done('gone');
        const now = Date.now();
        if (now > deadline) {
          this.#report(
            new BrokerUnavailable(
              `the submitter at ${subject} did not take its outcome within ${this.options.outcomeTtlMs} ms: dropped`,
            ),
          );
          return h.done('gone');
        }
        try {
          this.nc.publish(subject, data);
        } catch {
          // closed or draining: the next round decides
        }
        h.next = now + wait;
        wait = Math.min(wait * 2, 5000);
      },
    };
    this.#handing.set(delivery, h);
    h.send();
  }

  #onConfirm(msg: Msg): void {
    let list: unknown;
    try {
      list = unpackValue(msg.data);
    } catch {
      list = undefined;
    }
    if (!Array.isArray(list)) {
      this.#report(new InvalidRequest(`a malformed outcome confirmation on ${msg.subject} was dropped`));
      return;
    }
    for (const item of list) {
      if (!Array.isArray(item)) continue;
      this.#handing.get(String(item[0]))?.done(item[1] === 'stale' ? 'stale' : 'ok');
    }
  }

  /** Queues a confirmation for a worker; all of one event-loop turn go in one message per worker. */
  #confirm(subject: string, delivery: string, verdict: string): void {
    let batch = this.#confirms.get(subject);
    if (batch === undefined) {
      batch = [];
      this.#confirms.set(subject, batch);
    }
    batch.push([delivery, verdict]);
    if (this.#confirms.size === 1 && batch.length === 1)
      setImmediate(() => {
        for (const [to, items] of this.#confirms) {
          try {
            this.nc.publish(to, packValue(items));
          } catch {
            // closed: the worker resends and gets its answer from whoever is left
          }
        }
        this.#confirms.clear();
      });
  }

  /** Moves a message to the dead-letter stream and removes it from the task stream (`term`). */
  async #deadLetter(msg: TaskMessage, reason: string, why: string): Promise<void> {
    this.#report(
      new InvalidRequest(`task message ${msg.seq} refused (${reason}): ${why}; it is in the dead-letter stream`),
    );
    const h = natsHeaders();
    h.set(TaskHeader.REASON, reason);
    h.set(TaskHeader.DELIVERIES, String(msg.info.deliveryCount));
    for (const k of [TaskHeader.ID, TaskHeader.REPLY]) {
      const v = msg.headers?.get(k);
      if (v) h.set(k, v);
    }
    try {
      await this.#publish(this.names.deadSubject, msg.data, h, `dead-${msg.info.stream}-${msg.seq}`);
      // it is in the dead-letter stream now (a term does not remove it from a work queue on every server version)
      msg.ack();
    } catch (e) {
      this.#report(e as Error);
      msg.nak(1000);
    }
  }

  /** Consumes the captured max-deliveries advisories: dead-letters the task and tells its submitter. */
  #startDeadLetters(): void {
    if (this.#deadLoop) return;
    this.#deadLoop = true;
    void (async () => {
      let wait = 100;
      while (!this.#closed) {
        try {
          const c = await this.js.consumers.get(this.names.advisoryStream, this.names.advisoryConsumer);
          while (!this.#closed) {
            const iter = await c.fetch({ max_messages: 16, expires: 5000 });
            for await (const a of iter) await this.#onAdvisory(a);
          }
        } catch {
          await delay(wait);
          wait = Math.min(wait * 2, 2000);
        }
      }
    })();
  }

  async #onAdvisory(a: JsMsg): Promise<void> {
    let seq: number;
    let deliveries: number;
    try {
      const adv = JSON.parse(new TextDecoder().decode(a.data)) as { stream_seq?: number; deliveries?: number };
      seq = Number(adv.stream_seq);
      deliveries = Number(adv.deliveries ?? this.options.maxDeliveries);
      if (!Number.isInteger(seq)) throw new Error('no stream_seq');
    } catch {
      a.term();
      return;
    }
    const stored = await this.jsm.streams.getMessage(this.names.taskStream, { seq }).catch(() => null);
    if (stored === null) {
      a.ack(); // already gone (acked at the last moment, or handled by another communicator)
      return;
    }
    const taskId = stored.header?.get(TaskHeader.ID) || `seq-${seq}`;
    const replyTo = stored.header?.get(TaskHeader.REPLY);
    const h = natsHeaders();
    h.set(TaskHeader.ID, taskId);
    h.set(TaskHeader.REASON, 'max-deliveries');
    h.set(TaskHeader.DELIVERIES, String(deliveries));
    if (replyTo) h.set(TaskHeader.REPLY, replyTo);
    await this.#publish(this.names.deadSubject, stored.data, h, `dead-${this.names.taskStream}-${seq}`);
    await this.jsm.streams.deleteMessage(this.names.taskStream, seq, false).catch(() => undefined);
    a.ack();
    if (replyTo) {
      const outcome = {
        taskId,
        delivery: `dead:${seq}`,
        ok: false,
        error: wire(
          BrokerErrorCode.DELIVERY_LIMIT_EXCEEDED,
          `task ${taskId} was delivered ${deliveries} times without an outcome: it is in the dead-letter stream ` +
            `${this.names.deadStream}`,
          { taskId, deliveries },
        ),
      };
      const data = packValue({ ...outcome, confirm: this.#confirmSubject });
      this.#handOver(replyTo, outcome.delivery, data, () => undefined);
    }
  }

  // ---- RPC ----

  #kvBucket(): Promise<KV> {
    this.#kv ??= new Kvm(this.js).create(this.names.rpcBucket, {
      ttl: this.options.rpcTtlMs,
      history: 1,
      replicas: this.options.replicas === 'auto' ? autoReplicas(this.nc) : this.options.replicas,
      storage: this.options.storage as never,
    });
    return this.#kv.catch((e: unknown) => {
      this.#kv = undefined;
      throw new BrokerUnavailable(
        `cannot open the RPC identifier bucket ${this.names.rpcBucket}: ${(e as Error).message}`,
        { cause: e },
      );
    });
  }

  async #holdRpc(identifier: string): Promise<unknown> {
    const kv = await this.#kvBucket();
    const key = token(identifier);
    let revision: number;
    try {
      revision = await kv.create(key, this.id);
    } catch (e) {
      const entry = await kv.get(key).catch(() => null);
      if (entry === null || entry.operation !== 'PUT')
        throw new BrokerUnavailable(`cannot register RPC identifier "${identifier}": ${(e as Error).message}`, {
          cause: e,
        });
      if (entry.string() !== this.id) {
        throw new DuplicateSubscriberIdentifier(
          `RPC identifier "${identifier}" is held by another communicator in the cluster: choose another identifier`,
          {
            cause: e,
            details: { identifier },
          },
        );
      }
      revision = entry.revision;
    }
    const sub = this.nc.subscribe(this.names.rpc(identifier), { callback: (_e, msg) => this.#onCall(identifier, msg) });
    this.#rpcSubs.set(identifier, { sub, key, revision });
    await this.nc.flush();
    return null;
  }

  #refreshRpc(): void {
    if (this.#closed || this.#rpcSubs.size === 0) return;
    void this.#kvBucket().then(
      (kv) => {
        for (const [identifier, r] of this.#rpcSubs)
          kv.update(r.key, this.id, r.revision).then(
            (rev) => {
              r.revision = rev;
            },
            (e: Error) => {
              if (!/wrong last sequence/i.test(e.message)) return; // a timeout: next round
              // Our entry expired (we were away longer than rpcTtlMs) and someone else took the identifier.
              this.#rpcSubs.delete(identifier);
              r.sub.unsubscribe();
              this.#report(
                new BrokerUnavailable(
                  `lost RPC identifier "${identifier}": it expired while this communicator was away and is held ` +
                    `elsewhere`,
                ),
              );
            },
          );
      },
      () => undefined,
    );
  }

  #onCall(identifier: string, msg: Msg): void {
    if (!msg.reply) {
      this.#report(new InvalidRequest(`a message without reply subject on RPC subject ${msg.subject} was ignored`));
      return;
    }
    if (msg.headers?.get(PING)) {
      msg.respond();
      return;
    }
    let body: unknown;
    try {
      const m = unpackValue(msg.data) as { body?: unknown };
      if (typeof m !== 'object' || m === null) throw new Error('not a map');
      body = m.body;
    } catch (e) {
      msg.respond(
        packValue({
          ok: false,
          error: wire(BrokerErrorCode.INVALID_REQUEST, `malformed RPC request: ${(e as Error).message}`),
        }),
      );
      this.#report(new InvalidRequest(`a malformed RPC request for "${identifier}" was refused`));
      return;
    }
    if (this.#calls.size >= MAX_PENDING_CALLS) {
      msg.respond(
        packValue({
          ok: false,
          error: wire(
            BrokerErrorCode.LIMIT_EXCEEDED,
            `RPC subscriber "${identifier}" has ${MAX_PENDING_CALLS} calls in flight: try again later`,
            {
              limit: 'maxPendingCalls',
            },
          ),
        }),
      );
      return;
    }
    const callId = ++this.#nextCall;
    this.#calls.set(callId, msg);
    this.#emit({ kind: Kind.CALL, identifier, callId, body });
  }

  #rpcReply(m: BrokerMessage): undefined {
    const msg = this.#calls.get(Number(m.callId));
    if (msg === undefined) return undefined;
    const data = this.#pack(m.ok === true ? { ok: true, result: m.result } : { ok: false, error: m.error });
    this.#calls.delete(Number(m.callId));
    msg.respond(data);
    return undefined;
  }

  #rpc(m: BrokerMessage): undefined {
    const recipient = String(m.recipient);
    const subject = this.names.rpc(recipient);
    const data = this.#pack({ body: m.body });
    const timeout = this.nextRpcTimeout === undefined ? 24 * 3600_000 : this.nextRpcTimeout + 1000;
    let done = false;
    const finish = (ok: boolean, result: unknown, error?: WireError): void => {
      if (done) return;
      done = true;
      clearInterval(ping);
      this.#reply(m.ref, ok, result, error);
    };
    const h = natsHeaders();
    h.set(PING, '1');
    const ping = setInterval(() => {
      this.nc.request(subject, undefined, { timeout: this.options.rpcPingMs, headers: h }).catch((e: unknown) => {
        if (isNoResponders(e))
          finish(
            false,
            undefined,
            wire(
              BrokerErrorCode.RECIPIENT_LOST,
              `RPC subscriber "${recipient}" went away before it answered: the call may or may not have run`,
            ),
          );
      });
    }, this.options.rpcPingMs);
    ping.unref();
    this.nc.request(subject, data, { timeout }).then(
      (r) => {
        try {
          const a = unpackValue(r.data) as { ok?: boolean; result?: unknown; error?: WireError };
          if (a.ok === true) finish(true, a.result ?? null);
          else finish(false, undefined, a.error ?? wire(BrokerErrorCode.REMOTE_EXCEPTION, 'the RPC subscriber failed'));
        } catch (e) {
          finish(
            false,
            undefined,
            wire(BrokerErrorCode.INVALID_REQUEST, `malformed RPC answer: ${(e as Error).message}`),
          );
        }
      },
      (e: unknown) => {
        if (isNoResponders(e))
          finish(
            false,
            undefined,
            wire(BrokerErrorCode.UNROUTABLE, `no RPC subscriber "${recipient}" in the cluster`, { recipient }),
          );
        else
          finish(
            false,
            undefined,
            wire(BrokerErrorCode.BROKER_UNAVAILABLE, `the RPC call failed: ${(e as Error).message}`),
          );
      },
    );
    return undefined;
  }

  // ---- broadcasts ----

  #onBroadcast(msg: Msg): void {
    let m: Record<string, unknown>;
    try {
      m = unpackValue(msg.data) as Record<string, unknown>;
      if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new Error('not a map');
    } catch (e) {
      this.#report(new InvalidRequest(`a malformed broadcast on ${msg.subject} was dropped: ${(e as Error).message}`));
      return;
    }
    const out: BrokerMessage = { kind: Kind.BROADCAST, body: m.body };
    for (const k of ['sender', 'subject', 'correlationId']) if (typeof m[k] === 'string') out[k] = m[k];
    this.#emit(out);
  }
}

/** The wire form of an error thrown inside the link. */
function toWire(e: unknown): WireError {
  const code = (e as { code?: unknown }).code;
  const details = (e as { details?: Record<string, unknown> }).details;
  return typeof code === 'string' && code in BrokerErrorCode
    ? wire(code, (e as Error).message, details)
    : wire(BrokerErrorCode.BROKER_UNAVAILABLE, String((e as Error)?.message ?? e));
}
