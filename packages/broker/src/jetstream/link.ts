/**
 * The JetStream link: a {@link Link} that plays the broker's part inside the
 * communicator's own process, on NATS JetStream. The {@link Communicator}
 * logic (subscriber registries, contexts, outcomes, filters, errors) is the
 * same as over a socketkit broker; the link maps its messages onto NATS:
 * - tasks: a work-queue stream and one durable pull consumer shared by every
 *   task subscriber; AckWait is the lease, kept alive by in-progress acks;
 *   MaxDeliver is `maxDeliveries`; the max-deliveries advisory (captured in a
 *   stream) moves a task to the dead-letter stream; outcomes go to the
 *   submitter's reply subject as a request the submitter confirms, and the
 *   task is acked only after that ({@link Submitter}, {@link TaskWorkers} with
 *   the pull loop of `pull.ts`, {@link OutcomeHandOver}, {@link DeadLetters});
 * - RPC: core request/reply on a subject per identifier, identifiers held in a KV bucket ({@link RpcSide});
 * - broadcasts: one subject per kiwipy subject, filters pushed down to wildcards (here).
 *
 * This file holds the connection and the link's state (open, start, close, the connection watch, the one sweep and
 * the timers), dispatches the communicator's messages to the parts, and answers the admin operations.
 */
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  type Msg,
  type NatsConnection,
  nuid,
  PermissionViolationError,
  type Subscription,
} from '@nats-io/transport-node';
import { unpackValue } from '@socketkit/codec';
import type { Link, LinkEvents } from '../communicator.js';
import { BrokerUnavailable, InvalidRequest, type WireError } from '../errors.js';
import { type BrokerMessage, Kind } from '../wire.js';
import { requeueOn, statsOn, tasksOn } from './admin.js';
import { type LinkContext, messageError, packFor, toWire } from './context.js';
import { DeadLetters } from './dead-letters.js';
import { OutcomeHandOver } from './handover.js';
import { broadcastSubject, minimalSubjects, type Names, names } from './names.js';
import {
  autoReplicas,
  connectNats,
  ensureStreams,
  type JetStreamOptions,
  type JetStreamSettings,
  jetStreamDefaults,
} from './options.js';
import { RpcSide } from './rpc.js';
import { Submitter } from './submitter.js';
import { TaskWorkers } from './worker.js';

/** @internal The link of a `JetStreamCommunicator`. */
export class JetStreamLink implements Link {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: Names;
  readonly options: JetStreamSettings;
  /** This communicator's id (its outcome subject and KV owner value). */
  readonly id = nuid.next();
  /** Subjects the server refused this user (permission violations), as they were reported. */
  readonly #denied = new Set<string>();
  #events: LinkEvents | undefined;
  #report: (e: Error) => void = () => undefined;
  #closed = false;
  #downSince: number | undefined;
  readonly #submitter: Submitter;
  readonly #handOver: OutcomeHandOver;
  readonly #workers: TaskWorkers;
  readonly #rpc: RpcSide;
  readonly #bcWanted = new Map<string, string[]>();
  readonly #bcSubs = new Map<string, Subscription>();
  /** Resends hand-overs, times out publishes and pull requests (one timer for all of them). */
  #sweepTimer: NodeJS.Timeout | undefined;
  #rpcTimer: NodeJS.Timeout | undefined;
  #orphanTimer: NodeJS.Timeout | undefined;
  #leaseTimer: NodeJS.Timeout | undefined;
  /** Set by the communicator just before an `rpcSend`: the caller's timeout. */
  nextRpcTimeout: number | undefined;

  constructor(nc: NatsConnection, jsm: JetStreamManager, n: Names, options: JetStreamSettings) {
    this.nc = nc;
    this.js = jetstream(nc);
    this.jsm = jsm;
    this.names = n;
    this.options = options;
    const link = this;
    const ctx: LinkContext = {
      nc,
      js: this.js,
      jsm,
      names: n,
      options,
      id: this.id,
      get closed() {
        return link.#closed;
      },
      get downSince() {
        return link.#downSince;
      },
      denied: this.#denied,
      emit: (m) => this.#emit(m),
      reply: (ref, ok, result, error) => this.#reply(ref, ok, result, error),
      report: (e) => this.#report(e),
      pack: (value) => packFor(nc, value),
      publish: (subject, data, headers, msgID) => this.#submitter.publish(subject, data, headers, msgID),
    };
    this.#submitter = new Submitter(ctx);
    this.#handOver = new OutcomeHandOver(ctx);
    this.#workers = new TaskWorkers(ctx, this.#handOver, new DeadLetters(ctx, this.#handOver));
    this.#rpc = new RpcSide(ctx);
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

  /**
   * Outcomes that reached this submitter for a task it already had an outcome for (a redelivered task that ran twice).
   */
  get duplicateOutcomes(): number {
    return this.#submitter.duplicateOutcomes;
  }

  /** Binds the communicator's events and starts: the outcome inbox, connection watch, then `up`. */
  start(events: LinkEvents, report: (e: Error) => void, status: (up: boolean, reason: string) => void): void {
    this.#events = events;
    this.#report = report;
    this.nc.subscribe(this.#submitter.subject, { callback: (_e, m) => this.#submitter.onOutcome(m) });
    this.nc.subscribe(this.#handOver.subject, { callback: (_e, m) => this.#handOver.onConfirm(m) });
    this.#submitter.listenPubAcks();
    // Resends unconfirmed outcome hand-overs and times out unanswered publishes (one timer for all of them).
    this.#sweepTimer = setInterval(() => this.#sweep(), 250);
    this.#sweepTimer.unref();
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
            this.#submitter.refuse(e.subject, e);
            this.#report(
              new BrokerUnavailable(`the NATS server refused this user: ${e.message} (see its permissions)`, {
                cause: e,
              }),
            );
          }
        }
      }
    })().catch(() => undefined);
    this.#rpcTimer = setInterval(() => this.#rpc.refresh(), Math.max(100, Math.floor(this.options.rpcTtlMs / 3)));
    this.#rpcTimer.unref();
    const orphanEvery = Math.min(10_000, Math.max(100, Math.floor(this.options.outcomeTtlMs / 2)));
    let checking = false;
    this.#orphanTimer = setInterval(() => {
      if (checking) return;
      checking = true;
      void this.#submitter.checkOrphans().finally(() => {
        checking = false;
      });
    }, orphanEvery);
    this.#orphanTimer.unref();
    const every = Math.max(100, Math.floor(this.options.ackWaitMs / 3));
    this.#leaseTimer = setInterval(() => this.#workers.keepLeases(every), every);
    this.#leaseTimer.unref();
    queueMicrotask(() => events.up());
  }

  // ---- Link ----

  /** Carries one message of the communicator (see {@link Link.send}). */
  send(m: BrokerMessage): unknown {
    if (this.#closed) throw new BrokerUnavailable('the JetStream link is closed');
    switch (m.kind) {
      case Kind.TASK:
        return this.#submitter.task(m);
      case Kind.SUBSCRIBE:
        return this.#answer(m, this.#subscribe(m));
      case Kind.UNSUBSCRIBE:
        return this.#answer(m, this.#unsubscribe(m));
      case Kind.RESULT:
      case Kind.REJECT:
        return this.#workers.finish(m);
      case Kind.PROGRESS:
        this.#workers.progress(m);
        return undefined;
      case Kind.RPC:
        return this.#rpc.call(m, this.nextRpcTimeout);
      case Kind.RPC_REPLY:
        return this.#rpc.reply(m);
      case Kind.BROADCAST: {
        const b: Record<string, unknown> = { body: m.body };
        for (const k of ['sender', 'subject', 'correlationId']) if (m[k] !== undefined) b[k] = m[k];
        const data = packFor(this.nc, b);
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

  /** Closes: pending work fails or goes back to the queue, RPC identifiers are given up, the connection drains. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#rpcTimer) clearInterval(this.#rpcTimer);
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#handOver.close();
    this.#submitter.close();
    if (this.#leaseTimer) clearInterval(this.#leaseTimer);
    if (this.#orphanTimer) clearInterval(this.#orphanTimer);
    // Tasks this worker still holds go back to the queue at once (the next delivery is attempt + 1).
    this.#workers.close();
    await this.#rpc.close();
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

  /** Every 250 ms: times out publishes unanswered for 5 s, resends the hand-overs that are due, re-asks lost pulls. */
  #sweep(): void {
    const now = Date.now();
    this.#submitter.timeOutPublishes(now);
    this.#handOver.resendDue(now);
    this.#workers.expirePulls(now);
  }

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

  async #subscribe(m: BrokerMessage): Promise<unknown> {
    const identifier = String(m.identifier);
    if (m.type === 'task') return this.#workers.subscribe(identifier, m.prefetch);
    if (m.type === 'rpc') return this.#rpc.hold(identifier);
    if (m.type === 'broadcast') {
      if (!this.#bcWanted.has(identifier)) this.#bcWanted.set(identifier, [`${this.names.broadcast}.>`]);
      await this.syncBroadcasts();
      return null;
    }
    throw new InvalidRequest(`unknown subscriber type ${String(m.type)}`);
  }

  async #unsubscribe(m: BrokerMessage): Promise<unknown> {
    const identifier = String(m.identifier);
    if (m.type === 'task') this.#workers.unsubscribe(identifier);
    else if (m.type === 'rpc') await this.#rpc.release(identifier);
    else if (m.type === 'broadcast') {
      this.#bcWanted.delete(identifier);
      await this.syncBroadcasts();
    }
    return null;
  }

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
}
