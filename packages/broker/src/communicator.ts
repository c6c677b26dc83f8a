/**
 * The `Communicator`: kiwipy's contract (tasks, RPC, broadcasts) over one
 * link to a broker. The link is a socketkit client (`connect()`) or an
 * in-process broker (`LocalCommunicator`); the logic here is the same for both.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  BrokerError,
  BrokerErrorCode,
  BrokerUnavailable,
  CommunicatorClosed,
  DuplicateSubscriberIdentifier,
  errorFromWire,
  InvalidRequest,
  LimitExceeded,
  RpcTimeout,
  TaskRejected,
  UnknownSubscriber,
  remoteToWire,
  type WireError,
} from './errors.js';
import type { BrokerStats, TaskInfo } from './core.js';
import { BroadcastFilter, type BroadcastInfo, type BroadcastSubscriber } from './filter.js';
import type { TaskState } from './store.js';
import { BATCH_MAX, type BrokerMessage, isMap, Kind, type SubscriberType } from './wire.js';

/** What a task subscriber gets besides the body. */
export interface TaskContext {
  /** The task's id. */
  taskId: string;
  /** Which delivery this is (1 for the first). */
  attempt: number;
  /** True when an earlier delivery of this task ended without an outcome (`attempt > 1`). */
  redelivered: boolean;
  /**
   * Aborted when the lease is lost (connection to the broker lost, ack timeout, requeued by an operator, communicator
   * closed).
   */
  signal: AbortSignal;
  /** Tells the broker the task is alive: extends the lease when the broker has an `ackTimeoutMs`. */
  progress(): void;
}

/**
 * A task subscriber: its return value (or resolved promise) is the result; a throw is a `RemoteException` outcome;
 * `TaskRejected` hands the task on.
 */
export type TaskSubscriber = (body: unknown, ctx: TaskContext) => unknown;

/**
 * An RPC subscriber: its return value (or resolved promise) is the answer; a throw is a `RemoteException` for the
 * caller.
 */
export type RpcSubscriber = (body: unknown, ctx: { identifier: string }) => unknown;

/** Options of `addTaskSubscriber`. */
export interface TaskSubscriberOptions {
  /** Identifier, unique on this communicator (default: a random one). */
  identifier?: string;
  /** Most tasks in flight to this subscriber at once (default 1). */
  prefetch?: number;
}

/** Options of `taskSend`. */
export interface TaskSendOptions {
  /**
   * Resolve (with the taskId) once the broker accepted the task (stored, in durable mode), without waiting for the
   * outcome.
   */
  noReply?: boolean;
}

/** Options of `rpcSend`. */
export interface RpcSendOptions {
  /** The caller's timeout in ms (default: none; the call fails at once if the recipient is unknown or disconnects). */
  timeoutMs?: number;
}

/** Options of `broadcastSend`. */
export interface BroadcastSendOptions {
  sender?: string;
  subject?: string;
  correlationId?: string;
}

/** The link to a broker under a {@link Communicator}. */
export interface Link {
  /**
   * Sends one broker message. Throws (or returns a promise that rejects)
   * when it cannot: a message error (too large, not encodable) fails the
   * call; a connection error is left to the replay on the next connection.
   */
  send(message: BrokerMessage): unknown;
  /** Closes the link. */
  close(): Promise<void>;
  /**
   * The far end answers a `result` without `ref` only when it is refused (a `stale` message; PROTOCOL.md): results
   * are then sent without `ref` and without waiting for a reply. Default false: every result carries `ref`.
   */
  readonly resultsWithoutRef?: boolean;
  /**
   * The link can carry `batch` frames (several broker messages in one socketkit message): on every connection the
   * communicator offers them (`features`, with the largest frame this end takes) and, when the broker agrees, sends
   * what it writes in one tick as one frame. Absent: one message per frame.
   */
  readonly batches?: { maxMessageSize: number };
}

/** Events the link reports to its communicator. */
export interface LinkEvents {
  /** The link is (again) ready: the broker knows this connection. */
  up(): void;
  /** The link dropped; it may come back. */
  down(reason: string): void;
  /** The link is gone for good (gave up reconnecting). */
  failed(error: Error): void;
  /** A message from the broker. */
  message(data: unknown): void;
}

interface Pending {
  message: BrokerMessage;
  /** Link generation it was written on. */
  gen: number;
  /** Resend on a new connection (idempotent messages only). */
  replay: boolean;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

interface Submitted {
  taskId: string;
  accepted: boolean;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/**
 * One delivery to a task subscriber, and the subscriber's {@link TaskContext} (one object per task; the
 * AbortController is made only when someone looks at `signal` or the lease is lost).
 */
class Delivery implements TaskContext {
  readonly taskId: string;
  readonly attempt: number;
  readonly gen: number;
  #abort: AbortController | undefined;
  #reason: unknown;
  #aborted = false;
  readonly #progress: (d: Delivery) => void;

  constructor(taskId: string, attempt: number, gen: number, progress: (d: Delivery) => void) {
    this.taskId = taskId;
    this.attempt = attempt;
    this.gen = gen;
    this.#progress = progress;
  }

  get redelivered(): boolean {
    return this.attempt > 1;
  }

  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#aborted) this.#abort.abort(this.#reason);
    }
    return this.#abort.signal;
  }

  progress(): void {
    this.#progress(this);
  }

  /** Aborts the signal (now, or when it is first looked at). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#abort?.abort(reason);
  }
}

/**
 * The typed error of a message the link could not send because of the message itself (too large, not encodable);
 * undefined for a connection problem (left to the replay on the next connection).
 */
function messageError(e: unknown): Error | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (code === 'FRAME_TOO_LARGE') {
    return new LimitExceeded(
      `the message is larger than maxMessageSize: send smaller bodies (or raise maxMessageSize on broker and ` +
        `clients): ${(e as Error).message}`,
      {
        cause: e,
        details: { limit: 'maxMessageSize' },
      },
    );
  }
  if (code === 'INVALID_MESSAGE' || !(e instanceof Error) || code === undefined)
    return new InvalidRequest(`the message cannot be sent: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  return undefined;
}

/** With ref-free results (`Link.resultsWithoutRef`), one result in this many carries ref (see `#unconfirmed`). */
const CONFIRM_EVERY = 32;

/** Events of a {@link Communicator}. */
export interface CommunicatorEvents {
  /** Connected (again) to the broker, subscriptions registered. */
  connected: [];
  /** Lost the broker; reconnecting. */
  disconnected: [reason: string];
  /** A result, rejection or report the broker refused as stale (its lease was lost). */
  staleDelivery: [taskId: string, attempt: number];
  /**
   * A problem that did not end the communicator (a subscriber that failed to re-register, a handler error for a
   * broadcast).
   */
  error: [error: Error];
}

/**
 * Submits and works tasks, answers and makes RPC calls, sends and listens to
 * broadcasts, all over one link to a broker. Create one with `connect()` or
 * `new LocalCommunicator()`.
 */
export class Communicator extends EventEmitter<CommunicatorEvents> {
  #link: Link | undefined;
  #closed = false;
  #failed: Error | undefined;
  #up = false;
  #gen = 0;
  #ref = 0;
  readonly #pending = new Map<number, Pending>();
  readonly #submitted = new Map<string, Submitted>();
  readonly #taskSubs = new Map<string, { fn: TaskSubscriber; prefetch: number }>();
  readonly #rpcSubs = new Map<string, RpcSubscriber>();
  readonly #broadcastSubs = new Map<string, BroadcastSubscriber | BroadcastFilter>();
  readonly #deliveries = new Map<string, Delivery>();
  #staleCount = 0;
  /**
   * Results sent without ref on the current connection that no later reply has confirmed yet (at most
   * {@link CONFIRM_EVERY}): if the connection drops they are sent again with ref, so a result lost with its
   * connection is reported (`staleDelivery`) like one the broker refused.
   */
  #unconfirmed: BrokerMessage[] = [];
  /** The broker agreed to `batch` frames on the current connection. */
  #batching = false;
  /** Messages written in this tick while batching (sent together in a `process.nextTick`), and their onFail. */
  #outMessages: BrokerMessage[] = [];
  #outFails: (((e: Error) => void) | undefined)[] = [];
  #outScheduled = false;

  /** @internal Use `connect()` or `LocalCommunicator`. */
  protected attach(link: Link): LinkEvents {
    this.#link = link;
    return {
      up: () => this.#onUp(),
      down: (reason) => this.#onDown(reason),
      failed: (error) => this.#onFailed(error),
      message: (data) => this.#onMessage(data),
    };
  }

  /** Results, rejections and reports refused as stale so far. */
  get staleDeliveries(): number {
    return this.#staleCount;
  }

  /** True once `close()` was called. */
  isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Closes: pending sends and calls reject with `CommunicatorClosed`, running task subscribers see their signal
   * aborted. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const e = new CommunicatorClosed('the communicator was closed while this was pending');
    this.#rejectAll(e);
    for (const d of this.#deliveries.values()) d.abort(e);
    this.#deliveries.clear();
    await this.#link?.close();
  }

  // ---- tasks ----

  /**
   * Adds a task subscriber. Resolves with its identifier once the broker registered it.
   * @throws DuplicateSubscriberIdentifier, LimitExceeded (subscribers per connection, prefetch), CommunicatorClosed.
   */
  async addTaskSubscriber(fn: TaskSubscriber, options: TaskSubscriberOptions = {}): Promise<string> {
    this.#check();
    if (typeof fn !== 'function') throw new InvalidRequest('addTaskSubscriber needs a function');
    const identifier = options.identifier ?? randomUUID();
    if (this.#taskSubs.has(identifier))
      throw new DuplicateSubscriberIdentifier(
        `task subscriber "${identifier}" already exists on this communicator: choose another identifier`,
      );
    const prefetch = options.prefetch ?? 1;
    this.#taskSubs.set(identifier, { fn, prefetch });
    try {
      await this.#request({ kind: Kind.SUBSCRIBE, type: 'task', identifier, prefetch }, false);
    } catch (e) {
      this.#taskSubs.delete(identifier);
      throw e;
    }
    return identifier;
  }

  /** Removes a task subscriber (deliveries it is working on still finish). @throws UnknownSubscriber. */
  async removeTaskSubscriber(identifier: string): Promise<void> {
    this.#check();
    if (!this.#taskSubs.delete(identifier))
      throw new UnknownSubscriber(`no task subscriber "${identifier}" on this communicator`);
    await this.#unsubscribe('task', identifier);
  }

  /**
   * Sends a task. Resolves with its outcome (the subscriber's result), or
   * with `noReply` with the taskId once the broker accepted it (stored, in
   * durable mode). Survives reconnects: the pending outcome re-attaches by taskId.
   * @throws RemoteException (the subscriber threw), DeliveryLimitExceeded
   *   (dead-lettered), BrokerUnavailable (the broker is gone or forgot the
   *   task), LimitExceeded (a broker bound), CommunicatorClosed.
   */
  taskSend(body: unknown, options: TaskSendOptions = {}): Promise<unknown> {
    try {
      this.#check();
    } catch (e) {
      return Promise.reject(e);
    }
    const taskId = randomUUID();
    const noReply = options.noReply === true;
    const message: BrokerMessage = { kind: Kind.TASK, taskId, body, noReply };
    if (noReply) return this.#request(message, true).then(() => taskId);
    return new Promise((resolve, reject) => {
      const s: Submitted = { taskId, accepted: false, resolve, reject };
      this.#submitted.set(taskId, s);
      this.#requestWith(
        message,
        true,
        () => {
          s.accepted = true;
        },
        (e: Error) => {
          this.#submitted.delete(taskId);
          reject(e);
        },
      );
    });
  }

  // ---- RPC ----

  /**
   * Adds an RPC subscriber under `identifier` (unique across every
   * connection of the broker). Resolves with the identifier.
   * @throws DuplicateSubscriberIdentifier, LimitExceeded, CommunicatorClosed.
   */
  async addRpcSubscriber(fn: RpcSubscriber, identifier: string = randomUUID()): Promise<string> {
    this.#check();
    if (typeof fn !== 'function') throw new InvalidRequest('addRpcSubscriber needs a function');
    if (this.#rpcSubs.has(identifier))
      throw new DuplicateSubscriberIdentifier(
        `RPC subscriber "${identifier}" already exists on this communicator: choose another identifier`,
      );
    this.#rpcSubs.set(identifier, fn);
    try {
      await this.#request({ kind: Kind.SUBSCRIBE, type: 'rpc', identifier }, false);
    } catch (e) {
      this.#rpcSubs.delete(identifier);
      throw e;
    }
    return identifier;
  }

  /** Removes an RPC subscriber. @throws UnknownSubscriber. */
  async removeRpcSubscriber(identifier: string): Promise<void> {
    this.#check();
    if (!this.#rpcSubs.delete(identifier))
      throw new UnknownSubscriber(`no RPC subscriber "${identifier}" on this communicator`);
    await this.#unsubscribe('rpc', identifier);
  }

  /**
   * Calls the RPC subscriber `recipient` (at most once).
   * @throws UnroutableError at once when nobody holds `recipient`;
   *   RecipientLost at once when it disconnects before answering;
   *   RemoteException when its handler threw; RpcTimeout after `timeoutMs`;
   *   BrokerUnavailable when the connection to the broker drops during the call.
   */
  rpcSend(recipient: string, body: unknown, options: RpcSendOptions = {}): Promise<unknown> {
    try {
      this.#check();
    } catch (e) {
      return Promise.reject(e);
    }
    const call = this.#request({ kind: Kind.RPC, recipient, body }, false);
    const timeoutMs = options.timeoutMs;
    if (timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY) return call;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new RpcTimeout(
              `no answer from RPC subscriber "${recipient}" within ${timeoutMs} ms: raise timeoutMs for slow handlers`,
            ),
          ),
        timeoutMs,
      );
      call.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  // ---- broadcasts ----

  /** Adds a broadcast subscriber (a function or a {@link BroadcastFilter}). Resolves with its identifier. */
  async addBroadcastSubscriber(
    fn: BroadcastSubscriber | BroadcastFilter,
    identifier: string = randomUUID(),
  ): Promise<string> {
    this.#check();
    if (typeof fn !== 'function' && !(fn instanceof BroadcastFilter))
      throw new InvalidRequest('addBroadcastSubscriber needs a function or a BroadcastFilter');
    if (this.#broadcastSubs.has(identifier))
      throw new DuplicateSubscriberIdentifier(
        `broadcast subscriber "${identifier}" already exists on this communicator: choose another identifier`,
      );
    this.#broadcastSubs.set(identifier, fn);
    try {
      await this.#request({ kind: Kind.SUBSCRIBE, type: 'broadcast', identifier }, false);
    } catch (e) {
      this.#broadcastSubs.delete(identifier);
      throw e;
    }
    return identifier;
  }

  /** Removes a broadcast subscriber. @throws UnknownSubscriber. */
  async removeBroadcastSubscriber(identifier: string): Promise<void> {
    this.#check();
    if (!this.#broadcastSubs.delete(identifier))
      throw new UnknownSubscriber(`no broadcast subscriber "${identifier}" on this communicator`);
    await this.#unsubscribe('broadcast', identifier);
  }

  /**
   * Sends a broadcast to every connection with a broadcast subscriber (this
   * one included), at most once, fire and forget.
   * @throws CommunicatorClosed; LimitExceeded when the message is too large.
   */
  broadcastSend(body: unknown, options: BroadcastSendOptions = {}): void {
    this.#check();
    const m: BrokerMessage = { kind: Kind.BROADCAST, body };
    if (options.sender !== undefined) m.sender = options.sender;
    if (options.subject !== undefined) m.subject = options.subject;
    if (options.correlationId !== undefined) m.correlationId = options.correlationId;
    if (!this.#up) return; // at most once: nobody hears a broadcast sent while the broker is away
    this.#write(m, (e) => this.#report(e));
  }

  // ---- operations (for tools such as the CLI) ----

  /** The broker's {@link BrokerStats} (refused `ADMIN_DISABLED` by a broker started with `adminOps: false`). */
  brokerStats(): Promise<BrokerStats> {
    return this.#admin({ op: 'stats' }) as Promise<BrokerStats>;
  }

  /** The broker's tasks in a state (all but done ones without `state`; at most `limit`, default 1000). */
  listTasks(options: { state?: TaskState; limit?: number } = {}): Promise<TaskInfo[]> {
    const m: BrokerMessage = { kind: Kind.ADMIN, op: 'tasks' };
    if (options.state !== undefined) m.state = options.state;
    if (options.limit !== undefined) m.limit = options.limit;
    return this.#admin(m) as Promise<TaskInfo[]>;
  }

  /** Puts a dead or in-flight task back in the broker's queue; resolves false for an unknown, pending or done task. */
  requeueTask(taskId: string): Promise<boolean> {
    return this.#admin({ op: 'requeue', taskId }) as Promise<boolean>;
  }

  /** Empties the broker's dead-letter list; resolves with how many tasks were removed. */
  purgeDead(): Promise<number> {
    return this.#admin({ op: 'purgeDead' }) as Promise<number>;
  }

  #admin(m: Record<string, unknown>): Promise<unknown> {
    try {
      this.#check();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#request({ ...m, kind: Kind.ADMIN } as BrokerMessage, false);
  }

  // ---- internals ----

  #check(): void {
    if (this.#closed) throw new CommunicatorClosed();
    if (this.#failed !== undefined)
      throw new BrokerUnavailable(`the broker is unavailable: ${this.#failed.message}`, { cause: this.#failed });
  }

  #write(m: BrokerMessage, onFail?: (e: Error) => void): void {
    if (this.#batching) {
      this.#outMessages.push(m);
      this.#outFails.push(onFail);
      if (!this.#outScheduled) {
        this.#outScheduled = true;
        process.nextTick(this.#flushOut);
      }
      return;
    }
    this.#writeOne(m, onFail);
  }

  /** Sends the messages written in this tick: up to BATCH_MAX per `batch` frame. */
  readonly #flushOut = (): void => {
    this.#outScheduled = false;
    const messages = this.#outMessages;
    const fails = this.#outFails;
    this.#outMessages = [];
    this.#outFails = [];
    if (!this.#batching) return; // the connection dropped since: what was written on it waits for the replay
    for (let i = 0; i < messages.length; i += BATCH_MAX) {
      const n = Math.min(BATCH_MAX, messages.length - i);
      if (n === 1) {
        this.#writeOne(messages[i] as BrokerMessage, fails[i]);
        continue;
      }
      const part = n === messages.length ? messages : messages.slice(i, i + n);
      // A batch that cannot be sent (too large together, or one message not encodable) goes one message per frame,
      // each failing on its own as without batches. The fallback runs before anything written later is sent (the
      // rejection's handler is a microtask of this tick; the next flush is a later nextTick).
      const fallback = (e: unknown): void => {
        if (messageError(e) !== undefined)
          for (let k = 0; k < n; k++) this.#writeOne(part[k] as BrokerMessage, fails[i + k]);
      };
      let sent: unknown;
      try {
        sent = (this.#link as Link).send({ kind: Kind.BATCH, messages: part });
      } catch (e) {
        fallback(e);
        continue;
      }
      if (sent instanceof Promise) sent.catch(fallback);
    }
  };

  #writeOne(m: BrokerMessage, onFail?: (e: Error) => void): void {
    let sent: unknown;
    try {
      sent = (this.#link as Link).send(m);
    } catch (e) {
      this.#writeFailed(m, e, onFail);
      return;
    }
    if (sent instanceof Promise) sent.catch((e: unknown) => this.#writeFailed(m, e, onFail));
  }

  /** A message could not be written: a message problem fails its call; a connection problem waits for the replay. */
  #writeFailed(m: BrokerMessage, e: unknown, onFail?: (e: Error) => void): void {
    const typed = messageError(e);
    if (typed === undefined) return;
    if (onFail !== undefined) {
      onFail(typed);
      return;
    }
    const ref = m.ref as number | undefined;
    const p = ref === undefined ? undefined : this.#pending.get(ref);
    if (p === undefined) {
      this.#report(typed);
      return;
    }
    this.#pending.delete(ref as number);
    p.reject(typed);
    if (m.kind === Kind.TASK) {
      const s = this.#submitted.get(String(m.taskId));
      if (s !== undefined && this.#submitted.delete(s.taskId)) s.reject(typed);
    }
  }

  async #unsubscribe(type: SubscriberType, identifier: string): Promise<void> {
    try {
      await this.#request({ kind: Kind.UNSUBSCRIBE, type, identifier }, false);
    } catch (e) {
      // Gone already (e.g. the connection was replaced): nothing to remove at the broker.
      if (!(e instanceof BrokerError) || e.code !== BrokerErrorCode.UNKNOWN_SUBSCRIBER) throw e;
    }
  }

  #request(message: BrokerMessage, replay: boolean): Promise<unknown> {
    return new Promise((resolve, reject) => this.#requestWith(message, replay, resolve, reject));
  }

  /** Sends `message` (a fresh object: it gets the `ref`) and calls `resolve` / `reject` with the broker's reply. */
  #requestWith(
    message: BrokerMessage,
    replay: boolean,
    resolve: (result: unknown) => void,
    reject: (error: Error) => void,
  ): void {
    const ref = ++this.#ref;
    message.ref = ref;
    this.#pending.set(ref, { message, gen: this.#gen, replay, resolve, reject });
    if (this.#up) this.#write(message); // otherwise sent when the link is up
  }

  #onUp(): void {
    if (this.#closed) return;
    this.#up = true;
    const gen = this.#gen;
    const backlog = [...this.#pending.values()];
    const batches = this.#link?.batches;
    if (batches !== undefined) {
      // Offer batches; an older broker refuses the unknown kind (INVALID_REQUEST) and gets one message per frame.
      this.#request({ kind: Kind.FEATURES, batch: true, maxMessageSize: batches.maxMessageSize }, false).then(
        (r) => {
          if (this.#up && this.#gen === gen && isMap(r) && r.batch === true) this.#batching = true;
        },
        () => undefined,
      );
    }
    // Register the subscribers again (a new connection knows none of them).
    const again: [SubscriberType, string, number | undefined][] = [
      ...[...this.#taskSubs].map(([id, s]): [SubscriberType, string, number | undefined] => ['task', id, s.prefetch]),
      ...[...this.#rpcSubs.keys()].map((id): [SubscriberType, string, number | undefined] => ['rpc', id, undefined]),
      ...[...this.#broadcastSubs.keys()].map((id): [SubscriberType, string, number | undefined] => [
        'broadcast',
        id,
        undefined,
      ]),
    ];
    const subscribing = new Set<string>();
    for (const p of this.#pending.values())
      if (p.message.kind === Kind.SUBSCRIBE)
        subscribing.add(`${String(p.message.type)}\u0000${String(p.message.identifier)}`);
    for (const [type, identifier, prefetch] of again) {
      if (subscribing.has(`${type}\u0000${identifier}`)) continue;
      const m: BrokerMessage = { kind: Kind.SUBSCRIBE, type, identifier };
      if (prefetch !== undefined) m.prefetch = prefetch;
      this.#request(m, false).catch((e: Error) => this.#report(e));
    }
    // Re-attach to the outcomes of accepted tasks (an attach still pending from a connection that dropped is resent
    // below).
    const attaching = new Set<string>();
    for (const p of backlog) if (p.message.kind === Kind.ATTACH) attaching.add(String(p.message.taskId));
    for (const s of this.#submitted.values()) {
      if (!s.accepted || attaching.has(s.taskId)) continue;
      this.#request({ kind: Kind.ATTACH, taskId: s.taskId }, true).catch((e: Error) => {
        if (this.#submitted.delete(s.taskId)) s.reject(e);
      });
    }
    // Messages queued while the link was down, and idempotent ones written on a connection that dropped.
    for (const p of backlog) {
      p.gen = gen;
      this.#write(p.message);
    }
    this.emit('connected');
  }

  #onDown(reason: string): void {
    if (!this.#up) return;
    this.#up = false;
    this.#batching = false; // what is queued for the flush waits for the replay, like a write that failed
    const old = this.#gen++;
    // Results that may not have reached the broker: resent with ref on the next connection (refused as stale there).
    const unconfirmed = this.#unconfirmed;
    this.#unconfirmed = [];
    for (const m of unconfirmed) this.#resultWithRef(String(m.taskId), Number(m.attempt), m);
    // The leases of this connection are gone.
    for (const d of this.#deliveries.values())
      if (d.gen === old) d.abort(new BrokerUnavailable(`lease lost: the connection to the broker dropped (${reason})`));
    // Calls that cannot be resent fail now (an RPC may or may not have run; a subscribe is redone on up).
    for (const [ref, p] of [...this.#pending]) {
      if (p.gen !== old || p.replay) continue;
      this.#pending.delete(ref);
      if (p.message.kind === Kind.SUBSCRIBE || p.message.kind === Kind.UNSUBSCRIBE) {
        p.resolve(undefined); // subscriptions are re-registered from the communicator's own lists on up
        continue;
      }
      p.reject(
        new BrokerUnavailable(
          `the connection to the broker dropped during the call (${reason}): it may or may not have run`,
        ),
      );
    }
    this.emit('disconnected', reason);
  }

  #onFailed(error: Error): void {
    this.#up = false;
    this.#batching = false;
    this.#failed = error;
    for (const d of this.#deliveries.values()) d.abort(error);
    this.#rejectAll(
      new BrokerUnavailable(`the broker is unavailable (${error.message}): nothing more will arrive`, { cause: error }),
    );
  }

  #rejectAll(e: Error): void {
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
    for (const s of this.#submitted.values()) s.reject(e);
    this.#submitted.clear();
  }

  #report(e: Error): void {
    if (this.#closed) return;
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  #onMessage(data: unknown): void {
    if (this.#closed || !isMap(data)) return;
    switch (data.kind) {
      case Kind.BATCH:
        // Several messages in one frame, in order (no nested batches).
        if (Array.isArray(data.messages))
          for (const m of data.messages) if (isMap(m) && m.kind !== Kind.BATCH) this.#onMessage(m);
        return;
      case Kind.REPLY: {
        const p = this.#pending.get(Number(data.ref));
        if (p === undefined) return;
        this.#pending.delete(Number(data.ref));
        if (data.ok === true) p.resolve(data.result);
        else
          p.reject(
            errorFromWire(
              isMap(data.error) ? (data.error as unknown as WireError) : { code: 'UNKNOWN', message: 'refused' },
            ),
          );
        return;
      }
      case Kind.OUTCOME: {
        const s = this.#submitted.get(String(data.taskId));
        if (s === undefined) return;
        this.#submitted.delete(s.taskId);
        if (data.ok === true) s.resolve(data.result);
        else
          s.reject(
            errorFromWire(
              isMap(data.error) ? (data.error as unknown as WireError) : { code: 'UNKNOWN', message: 'failed' },
            ),
          );
        return;
      }
      case Kind.DELIVER:
        this.#runTask(data);
        return;
      case Kind.CANCEL: {
        const d = this.#deliveries.get(String(data.taskId));
        if (d !== undefined && d.attempt === data.attempt)
          d.abort(new BrokerUnavailable('lease revoked by the broker (ack timeout or requeued)'));
        return;
      }
      case Kind.STALE:
        // The refusal of a result sent without ref.
        this.#stale(String(data.taskId), Number(data.attempt));
        return;
      case Kind.CALL:
        this.#runCall(data);
        return;
      case Kind.BROADCAST:
        this.#runBroadcast(data);
        return;
    }
  }

  #stale(taskId: string, attempt: number): void {
    this.#staleCount++;
    this.emit('staleDelivery', taskId, attempt);
  }

  readonly #progressOf = (d: Delivery): void => {
    if (this.#up && this.#gen === d.gen && !this.#closed)
      this.#write({ kind: Kind.PROGRESS, taskId: d.taskId, attempt: d.attempt });
  };

  /** Sends the end of a delivery: `result` (with `ok`, `result` / `error`) or `reject`. */
  #finishTask(d: Delivery, message: BrokerMessage): void {
    if (this.#closed) return;
    const { taskId, attempt } = d;
    if (this.#deliveries.get(taskId) === d) this.#deliveries.delete(taskId);
    message.taskId = taskId;
    message.attempt = attempt;
    if (message.kind === Kind.RESULT && this.#link?.resultsWithoutRef === true && this.#up && this.#gen === d.gen) {
      const unconfirmed = this.#unconfirmed;
      if (unconfirmed.length < CONFIRM_EVERY) {
        // No reply wanted: the broker answers only a refusal (`stale`).
        unconfirmed.push(message);
        this.#write(message, (e) => {
          const i = unconfirmed.indexOf(message);
          if (i >= 0) unconfirmed.splice(i, 1);
          this.#unsendable(d, message, e);
        });
        return;
      }
      // Every CONFIRM_EVERY-th result carries ref: its reply confirms the ones before it (one connection, in order).
      const last = unconfirmed[unconfirmed.length - 1];
      const confirm = (): void => {
        // Everything up to the last one sent before this result (later ones are not confirmed by its reply).
        const i = last === undefined ? -1 : unconfirmed.indexOf(last);
        if (i >= 0) unconfirmed.splice(0, i + 1);
      };
      this.#resultWithRef(taskId, attempt, message, d).then(confirm, confirm);
      return;
    }
    // A connection that dropped since the delivery (or a link without ref-free results): with ref, replayed on the
    // next connection, where it is refused as stale.
    void this.#resultWithRef(taskId, attempt, message, d);
  }

  /** Sends a result or rejection with ref (replayed after a reconnect); settles once answered or given up. */
  #resultWithRef(taskId: string, attempt: number, message: BrokerMessage, d?: Delivery): Promise<unknown> {
    return this.#request(message, true).catch((e: Error) => {
      if (e instanceof BrokerError && e.code === BrokerErrorCode.STALE_DELIVERY) this.#stale(taskId, attempt);
      else if (d !== undefined) this.#unsendable(d, message, e);
      else this.#report(e);
    });
  }

  /** A result that cannot travel (too large, not encodable) becomes a RemoteException outcome. */
  #unsendable(d: Delivery, message: BrokerMessage, e: Error): void {
    if (
      message.kind === Kind.RESULT &&
      message.ok === true &&
      (e instanceof InvalidRequest || e instanceof LimitExceeded)
    ) {
      this.#finishTask(d, {
        kind: Kind.RESULT,
        ok: false,
        error: { code: BrokerErrorCode.REMOTE_EXCEPTION, remoteCode: e.code, message: e.message },
      });
    } else this.#report(e);
  }

  #subscriberFailed(d: Delivery, e: unknown): void {
    this.#finishTask(
      d,
      e instanceof TaskRejected ? { kind: Kind.REJECT } : { kind: Kind.RESULT, ok: false, error: remoteToWire(e) },
    );
  }

  #runTask(m: Record<string, unknown>): void {
    const d = new Delivery(String(m.taskId), Number(m.attempt), this.#gen, this.#progressOf);
    const sub = this.#taskSubs.get(String(m.identifier));
    if (sub === undefined) {
      this.#finishTask(d, { kind: Kind.REJECT });
      return;
    }
    this.#deliveries.set(d.taskId, d);
    let result: unknown;
    try {
      result = sub.fn(m.body, d);
    } catch (e) {
      this.#subscriberFailed(d, e);
      return;
    }
    Promise.resolve(result).then(
      (value) => this.#finishTask(d, { kind: Kind.RESULT, ok: true, result: value ?? null }),
      (e: unknown) => this.#subscriberFailed(d, e),
    );
  }

  #runCall(m: Record<string, unknown>): void {
    const identifier = String(m.identifier);
    const fn = this.#rpcSubs.get(identifier);
    const gen = this.#gen;
    const answer = (reply: BrokerMessage): void => {
      if (this.#closed || !this.#up || this.#gen !== gen) return; // the call died with its connection
      this.#write({ ...reply, callId: m.callId }, (e) => {
        if (reply.ok !== false)
          answer({
            kind: Kind.RPC_REPLY,
            ok: false,
            error: { code: BrokerErrorCode.REMOTE_EXCEPTION, remoteCode: (e as BrokerError).code, message: e.message },
          });
      });
    };
    if (fn === undefined) {
      answer({
        kind: Kind.RPC_REPLY,
        ok: false,
        error: { code: BrokerErrorCode.UNROUTABLE, message: `RPC subscriber "${identifier}" was removed` },
      });
      return;
    }
    let result: unknown;
    try {
      result = fn(m.body, { identifier });
    } catch (e) {
      answer({ kind: Kind.RPC_REPLY, ok: false, error: remoteToWire(e) });
      return;
    }
    Promise.resolve(result).then(
      (value) => answer({ kind: Kind.RPC_REPLY, ok: true, result: value ?? null }),
      (e: unknown) => answer({ kind: Kind.RPC_REPLY, ok: false, error: remoteToWire(e) }),
    );
  }

  #runBroadcast(m: Record<string, unknown>): void {
    const info: BroadcastInfo = {};
    if (typeof m.sender === 'string') info.sender = m.sender;
    if (typeof m.subject === 'string') info.subject = m.subject;
    if (typeof m.correlationId === 'string') info.correlationId = m.correlationId;
    for (const fn of this.#broadcastSubs.values()) {
      try {
        const r = fn instanceof BroadcastFilter ? fn.call(m.body, info) : fn(m.body, info);
        if (r instanceof Promise) r.catch((e: Error) => this.#report(e));
      } catch (e) {
        this.#report(e as Error);
      }
    }
  }
}
