/**
 * The broker's state machine, independent of any transport: connections
 * come and go, messages (maps with a `kind`) come in, messages go out through
 * {@link CoreHost.send}. `startBroker` drives it from a socketkit server;
 * `LocalCommunicator` drives it in-process.
 */
import { packValue } from '@socketkit/codec';
import { BrokerErrorCode, type WireError } from './errors.js';
import {
  type BrokerLimits,
  type BrokerStats,
  type CoreHost,
  type ResolvedLimits,
  resolveLimits,
  type TaskInfo,
} from './core-limits.js';
import { DelayedTasks, Deque, KeptOutcomes, pickSubscriber, TaskRate } from './core-queues.js';
import {
  broadcastMessage,
  type Conn,
  restoredTask,
  submittedTask,
  type Sub,
  subscriberLoad,
  type Task,
  taskInfo,
} from './core-records.js';
import { adminAnswer } from './core-admin.js';
import { refuse } from './core-refusals.js';
import { type Subscribers, subscribe, unsubscribe } from './core-subscribers.js';
import { RpcRouter } from './core-rpc.js';
import type { StoredTask, TaskState, TaskStore } from './store.js';
import { type BrokerMessage, isMap, Kind } from './wire.js';

export type { BrokerLimits, BrokerStats, CoreHost, SubscriberLoad, TaskInfo } from './core-limits.js';

/** The broker's state machine (see the module notes). */
export class BrokerCore {
  readonly #host: CoreHost;
  readonly #store: TaskStore;
  readonly #o: ResolvedLimits;
  readonly #conns = new Map<string, Conn>();
  readonly #tasks = new Map<string, Task>();
  readonly #ready = new Deque<Task>();
  /** Rejected tasks waiting out their backoff; due ones go back to the ready queue, then dispatch runs. */
  readonly #delayed = new DelayedTasks(
    (t) => {
      if (t.state === 'pending' && !t.queued) {
        t.queued = true;
        this.#ready.push(t);
      }
    },
    () => this.#dispatch(),
    () => this.#closed,
  );
  readonly #subs: Sub[] = [];
  /** RPC identifiers and calls in flight. */
  readonly #rpcs: RpcRouter;
  /** What subscribe/unsubscribe change beyond the connection (set in the constructor, after the limits). */
  readonly #subscribers: Subscribers;
  /** Finished tasks whose outcome is kept, oldest first. */
  readonly #kept = new KeptOutcomes();
  readonly #dead = new Map<string, Task>();
  #unfinished = 0;
  #unfinishedBytes = 0;
  #inflight = 0;
  #seq = 0;
  #useSeq = 0;
  #closed = false;
  readonly #sweep: NodeJS.Timeout;
  readonly #rate = new TaskRate();
  readonly #totals: BrokerStats['totals'] = {
    submitted: 0,
    completed: 0,
    failed: 0,
    redelivered: 0,
    rejected: 0,
    deadLettered: 0,
    staleRefused: 0,
    refused: 0,
    rpcCalls: 0,
    broadcasts: 0,
  };

  constructor(host: CoreHost, store: TaskStore, limits: BrokerLimits = {}) {
    this.#host = host;
    this.#store = store;
    this.#o = resolveLimits(limits);
    this.#rpcs = new RpcRouter({
      send: (connId, m) => this.#send(connId, m),
      reply: (c, ref, result) => this.#reply(c, ref, result),
      conn: (id) => this.#conn(id),
      peer: (id) => this.#conns.get(id),
      maxPendingCalls: this.#o.maxPendingCalls,
      counted: () => {
        this.#totals.rpcCalls++;
      },
    });
    this.#subscribers = {
      subs: this.#subs,
      routes: this.#rpcs.routes,
      maxSubscribersPerConnection: this.#o.maxSubscribersPerConnection,
      maxPrefetch: this.#o.maxPrefetch,
    };
    this.#restore();
    this.#sweep = setInterval(() => this.#expireResults(), Math.min(1000, this.#o.resultTtlMs));
    this.#sweep.unref();
  }

  /** The effective limits (spelled out, not as `ResolvedLimits`, to keep the published signature). */
  get limits(): Readonly<Required<Omit<BrokerLimits, 'ackTimeoutMs'>> & { ackTimeoutMs: number | undefined }> {
    return this.#o;
  }

  // ---- restart ----

  #restore(): void {
    const now = Date.now();
    for (const rec of this.#store.load()) {
      const t = restoredTask(rec);
      this.#seq = Math.max(this.#seq, t.seq);
      this.#tasks.set(t.id, t);
      if (t.state === 'pending' || t.state === 'inflight') {
        // In flight at the crash: its worker's connection is gone, so it goes back to pending.
        t.state = 'pending';
        this.#unfinished++;
        this.#unfinishedBytes += t.bytes;
        this.#ready.push(t);
        t.queued = true;
      } else if (t.state === 'done') {
        if (now - (t.doneAt ?? 0) > this.#o.resultTtlMs) this.#forget(t);
        else this.#kept.add(t);
      } else if (t.state === 'dead') {
        this.#dead.set(t.id, t);
      }
    }
  }

  // ---- connections ----

  #conn(id: string): Conn {
    let c = this.#conns.get(id);
    if (c === undefined) {
      c = {
        id,
        taskSubs: new Map(),
        rpc: new Set(),
        broadcast: new Set(),
        waiting: new Set(),
        serving: new Set(),
        calling: new Set(),
        batch: false,
      };
      this.#conns.set(id, c);
    }
    return c;
  }

  /** A connection arrived. */
  connected(connId: string): void {
    if (this.#closed) return;
    this.#conn(connId);
  }

  /** Whether the connection asked for `batch` frames and the host writes them (see {@link CoreHost.batchLimit}). */
  acceptsBatches(connId: string): boolean {
    return this.#conns.get(connId)?.batch === true;
  }

  /** A connection went away: its leases end (tasks requeued), its RPC identifiers are freed, its calls fail. */
  disconnected(connId: string): void {
    const c = this.#conns.get(connId);
    if (c === undefined) return;
    this.#conns.delete(connId);
    for (const t of c.waiting) if (t.submitter === connId) t.submitter = undefined;
    this.#rpcs.connectionLost(c);
    for (const sub of c.taskSubs.values()) this.#dropSub(sub, 'its worker connection was lost');
    this.#dispatch();
  }

  #dropSub(sub: Sub, why: string): void {
    const i = this.#subs.indexOf(sub);
    if (i >= 0) this.#subs.splice(i, 1);
    for (const t of [...sub.inflight]) this.#leaseLost(t, why);
  }

  // ---- messages ----

  /** A message from a connection. */
  handle(connId: string, data: unknown): void {
    if (this.#closed || !isMap(data) || typeof data.kind !== 'string') return;
    const c = this.#conn(connId);
    const ref = typeof data.ref === 'number' ? data.ref : undefined;
    try {
      switch (data.kind) {
        case Kind.SUBSCRIBE:
          return this.#reply(c, ref, subscribe(this.#subscribers, c, data));
        case Kind.UNSUBSCRIBE:
          return this.#reply(c, ref, unsubscribe(this.#subscribers, c, data));
        case Kind.TASK:
          return this.#submit(c, ref, data);
        case Kind.ATTACH:
          return this.#reply(c, ref, this.#attach(c, String(data.taskId)));
        case Kind.RESULT: {
          const refused = this.#result(c, data);
          if (ref !== undefined) return this.#reply(c, ref, refused);
          // Without ref the worker wants no reply (PROTOCOL.md): only a refusal is reported, as `stale`.
          if (refused !== undefined) {
            this.#totals.refused++;
            this.#send(c.id, { kind: Kind.STALE, taskId: data.taskId, attempt: data.attempt, error: refused });
          }
          return;
        }
        case Kind.REJECT:
          return this.#reply(c, ref, this.#reject(c, data));
        case Kind.PROGRESS:
          this.#progress(c, data);
          return;
        case Kind.RPC:
          return this.#rpcs.call(c, ref, data);
        case Kind.RPC_REPLY:
          return this.#rpcs.reply(c, data);
        case Kind.BROADCAST:
          return this.#broadcast(data);
        case Kind.ADMIN:
          return this.#admin(c, ref, data);
        case Kind.FEATURES: {
          const limit = this.#host.batchLimit?.();
          const size = data.maxMessageSize;
          c.batch = data.batch === true && limit !== undefined && typeof size === 'number' && size >= limit;
          return this.#reply(c, ref, { ok: { batch: c.batch } });
        }
        case Kind.BATCH:
          // Several messages in one frame, handled in order as if they had come one per frame (no nested batches).
          if (Array.isArray(data.messages))
            for (const m of data.messages) if (isMap(m) && m.kind !== Kind.BATCH) this.handle(connId, m);
          return;
        default:
          return this.#reply(c, ref, refuse.unknownKind(data.kind));
      }
    } finally {
      this.#dispatch();
    }
  }

  #reply(c: Conn, ref: number | undefined, result: WireError | { ok: unknown } | undefined): void {
    if (ref === undefined) return;
    if (result !== undefined && 'code' in result) {
      this.#totals.refused++;
      this.#send(c.id, { kind: Kind.REPLY, ref, ok: false, error: result });
    } else
      this.#send(c.id, { kind: Kind.REPLY, ref, ok: true, ...(result === undefined ? {} : { result: result.ok }) });
  }

  #send(connId: string, m: BrokerMessage): void {
    if (connId === '' || !this.#conns.has(connId)) return;
    this.#host.send(connId, m);
  }

  // ---- tasks ----

  #submit(c: Conn, ref: number | undefined, m: Record<string, unknown>): void {
    const id = m.taskId;
    if (typeof id !== 'string' || id === '' || id.length > 200) {
      return this.#reply(c, ref, refuse.badTaskId());
    }
    const noReply = m.noReply === true;
    const existing = this.#tasks.get(id);
    if (existing !== undefined) {
      // A resend after a reconnect: the same task (taskIds are unique per submitter).
      return this.#reply(c, ref, this.#attach(c, id, noReply));
    }
    let packed: Uint8Array;
    try {
      packed = packValue(m.body);
    } catch (e) {
      return this.#reply(c, ref, refuse.unencodableBody(e as Error));
    }
    if (this.#unfinished >= this.#o.maxPendingTasks) {
      return this.#reply(c, ref, refuse.tooManyTasks(this.#unfinished, this.#o.maxPendingTasks));
    }
    const bytes = packed.length;
    if (this.#unfinishedBytes + bytes > this.#o.maxPendingBytes) {
      return this.#reply(c, ref, refuse.tooManyBytes(this.#unfinishedBytes, bytes, this.#o.maxPendingBytes));
    }
    // A durable store keeps the body on disk only (read back when the task is delivered).
    const t = submittedTask(id, ++this.#seq, this.#store.durable ? undefined : m.body, bytes, noReply);
    if (!noReply) {
      t.submitter = c.id;
      c.waiting.add(t);
    }
    this.#tasks.set(id, t);
    this.#unfinished++;
    this.#unfinishedBytes += bytes;
    this.#totals.submitted++;
    const accept = (): void => {
      if (this.#closed || this.#tasks.get(id) !== t) return;
      this.#reply(c, ref, undefined);
      if (t.state === 'pending' && !t.queued) {
        t.queued = true;
        this.#ready.push(t);
        this.#dispatch();
      }
    };
    if (!this.#store.durable) return accept();
    this.#store.add(t, packed, m.body).then(accept, (e: Error) => {
      this.#tasks.delete(id);
      this.#unfinished--;
      this.#unfinishedBytes -= bytes;
      c.waiting.delete(t);
      this.#reply(c, ref, refuse.storeFailed(e));
    });
  }

  #attach(c: Conn, id: string, noReply = false): WireError | undefined {
    const t = this.#tasks.get(id);
    if (t === undefined) {
      return refuse.unknownTask(id);
    }
    if (noReply) return undefined;
    if (t.state === 'done' || t.state === 'dead') {
      this.#sendOutcome(c.id, t);
      return undefined;
    }
    t.noReply = false;
    t.submitter = c.id;
    c.waiting.add(t);
    return undefined;
  }

  #current(c: Conn, m: Record<string, unknown>): Task | WireError {
    const t = this.#tasks.get(String(m.taskId));
    if (t === undefined || t.state !== 'inflight' || t.attempt !== m.attempt || t.worker?.connId !== c.id) {
      this.#totals.staleRefused++;
      const now = t === undefined ? 'finished' : t.state === 'inflight' ? `attempt ${t.attempt} elsewhere` : t.state;
      return refuse.staleDelivery(m.taskId, m.attempt, now);
    }
    return t;
  }

  #result(c: Conn, m: Record<string, unknown>): WireError | undefined {
    const t = this.#current(c, m);
    if ('code' in t && !('id' in t)) return t;
    const task = t as Task;
    this.#release(task);
    const ok = m.ok !== false;
    const error = isMap(m.error)
      ? (m.error as unknown as WireError)
      : { code: BrokerErrorCode.REMOTE_EXCEPTION, message: 'the subscriber failed' };
    if (ok) this.#totals.completed++;
    else this.#totals.failed++;
    this.#finish(task, 'done', ok ? { ok: true, result: m.result } : { ok: false, error });
    return undefined;
  }

  #reject(c: Conn, m: Record<string, unknown>): WireError | undefined {
    const t = this.#current(c, m);
    if ('code' in t && !('id' in t)) return t;
    const task = t as Task;
    const sub = task.worker as Sub;
    this.#release(task);
    this.#totals.rejected++;
    task.rejections++;
    (task.avoid ??= new Set()).add(sub.key);
    task.state = 'pending';
    const delay = Math.min(
      this.#o.rejectBackoffMaxMs,
      this.#o.rejectBackoffMs * 2 ** Math.min(task.rejections - 1, 20),
    );
    task.notBefore = Date.now() + delay;
    this.#delayed.add(task);
    this.#persist(task);
    return undefined;
  }

  #progress(c: Conn, m: Record<string, unknown>): void {
    const t = this.#tasks.get(String(m.taskId));
    if (t === undefined || t.state !== 'inflight' || t.attempt !== m.attempt || t.worker?.connId !== c.id) return;
    this.#armAck(t);
    // kiwipy's "the subscriber returned a future": tell the submitter (clients that do not know `pending` ignore it).
    if (m.pending === true && t.submitter !== undefined) this.#send(t.submitter, { kind: Kind.PENDING, taskId: t.id });
  }

  #armAck(t: Task): void {
    if (this.#o.ackTimeoutMs === undefined) return;
    if (t.ackTimer !== undefined) clearTimeout(t.ackTimer);
    t.ackTimer = setTimeout(() => {
      t.ackTimer = undefined;
      if (t.state !== 'inflight' || t.worker === undefined) return;
      const w = t.worker;
      this.#send(w.connId, { kind: Kind.CANCEL, taskId: t.id, attempt: t.attempt });
      this.#leaseLost(t, `no result or progress within ackTimeoutMs (${this.#o.ackTimeoutMs} ms)`);
      this.#dispatch();
    }, this.#o.ackTimeoutMs);
    t.ackTimer.unref();
  }

  /** Ends the current delivery's lease bookkeeping (not the task). */
  #release(t: Task): void {
    if (t.ackTimer !== undefined) clearTimeout(t.ackTimer);
    t.ackTimer = undefined;
    if (t.worker !== undefined) {
      t.worker.inflight.delete(t);
      this.#inflight--;
    }
    t.worker = undefined;
  }

  /** The delivery ended without an outcome: requeue (attempt + 1 on the next delivery) or dead-letter. */
  #leaseLost(t: Task, why: string): void {
    // Its next delivery prefers another subscriber (the tie-break favours the one used last: this one).
    if (t.worker !== undefined) (t.avoid ??= new Set()).add(t.worker.key);
    this.#release(t);
    t.failures++;
    t.lastError = why;
    if (t.failures >= this.#o.maxDeliveries) {
      this.#totals.deadLettered++;
      this.#finish(t, 'dead', {
        ok: false,
        error: {
          code: BrokerErrorCode.DELIVERY_LIMIT_EXCEEDED,
          message:
            `task ${t.id} was delivered ${t.failures} times without an outcome ` +
            `(maxDeliveries ${this.#o.maxDeliveries}; last: ${why}): it is in the dead-letter list`,
          details: { taskId: t.id, deliveries: t.failures },
        },
      });
      return;
    }
    t.state = 'pending';
    t.notBefore = 0;
    if (!t.queued) {
      t.queued = true;
      this.#ready.unshift(t);
    }
    this.#persist(t);
  }

  #finish(t: Task, state: 'done' | 'dead', outcome: NonNullable<StoredTask['outcome']>): void {
    t.state = state;
    t.outcome = outcome;
    t.doneAt = Date.now();
    this.#unfinished--;
    this.#unfinishedBytes -= t.bytes;
    this.#rate.count();
    if (state === 'dead') {
      this.#dead.set(t.id, t);
      while (this.#dead.size > this.#o.maxDeadLetters) this.#forget(this.#dead.values().next().value as Task);
    }
    const submitter = t.submitter;
    if (submitter !== undefined) {
      this.#conns.get(submitter)?.waiting.delete(t);
      this.#sendOutcome(submitter, t);
    }
    if (state === 'done') {
      if (t.noReply) {
        this.#forget(t);
        return;
      }
      t.body = undefined; // the outcome is what is kept
      t.delivered = submitter !== undefined;
      this.#kept.add(t);
      while (this.#kept.size > this.#o.maxKeptResults) this.#forget(this.#kept.oldest() as Task);
    }
    this.#persist(t);
  }

  #sendOutcome(connId: string, t: Task): void {
    const o = t.outcome;
    if (o === undefined) return;
    this.#send(
      connId,
      o.ok
        ? { kind: Kind.OUTCOME, taskId: t.id, ok: true, result: o.result }
        : { kind: Kind.OUTCOME, taskId: t.id, ok: false, error: o.error },
    );
  }

  #forget(t: Task): void {
    this.#tasks.delete(t.id);
    this.#kept.delete(t.id);
    this.#dead.delete(t.id);
    this.#store.delete(t);
  }

  #expireResults(): void {
    const cutoff = Date.now() - this.#o.resultTtlMs;
    for (let t = this.#kept.oldest(); t !== undefined && (t.doneAt ?? 0) <= cutoff; t = this.#kept.oldest())
      this.#forget(t);
  }

  #persist(t: Task): void {
    if (!this.#store.durable || this.#tasks.get(t.id) !== t) return;
    this.#store.update(t);
  }

  #dispatch(): void {
    if (this.#closed) return;
    while (this.#ready.size > 0) {
      const t = this.#ready.peek() as Task;
      if (t.state !== 'pending' || !t.queued) {
        this.#ready.shift();
        continue;
      }
      const sub = pickSubscriber(this.#subs, t.avoid);
      if (sub === undefined) return;
      this.#ready.shift();
      t.queued = false;
      t.state = 'inflight';
      t.attempt++;
      t.worker = sub;
      sub.inflight.add(t);
      sub.delivered++;
      sub.lastUsed = ++this.#useSeq;
      this.#inflight++;
      if (t.attempt > 1) this.#totals.redelivered++;
      this.#armAck(t);
      this.#persist(t);
      this.#send(sub.connId, {
        kind: Kind.DELIVER,
        taskId: t.id,
        attempt: t.attempt,
        identifier: sub.identifier,
        body: this.#store.durable ? this.#store.body(t) : t.body,
      });
    }
  }

  // ---- broadcasts ----

  #broadcast(m: Record<string, unknown>): void {
    this.#totals.broadcasts++;
    const out = broadcastMessage(m);
    for (const c of this.#conns.values()) if (c.broadcast.size > 0) this.#send(c.id, out);
  }

  // ---- operations ----

  #admin(c: Conn, ref: number | undefined, m: Record<string, unknown>): void {
    if (ref === undefined) return;
    this.#reply(c, ref, this.#o.adminOps ? adminAnswer(this, m) : refuse.adminDisabled());
  }

  /** Counts and loads (for `socketkit stats`, metrics, the CLI). */
  stats(): BrokerStats {
    let broadcastConnections = 0;
    for (const c of this.#conns.values()) if (c.broadcast.size > 0) broadcastConnections++;
    return {
      durable: this.#store.durable,
      pending: this.#unfinished - this.#inflight,
      inflight: this.#inflight,
      dead: this.#dead.size,
      keptResults: this.#kept.size,
      pendingBytes: this.#unfinishedBytes,
      connections: this.#conns.size,
      subscribers: this.#subs.map(subscriberLoad),
      rpcSubscribers: [...this.#rpcs.routes.keys()],
      broadcastConnections,
      pendingCalls: this.#rpcs.calls.size,
      tasksPerSecond: this.#rate.perSecond(),
      totals: { ...this.#totals },
    };
  }

  /** Tasks in a state (every unfinished and dead task when `state` is omitted; at most `limit`, default 1000). */
  listTasks(options: { state?: TaskState; limit?: number } = {}): TaskInfo[] {
    const limit = options.limit ?? 1000;
    const out: TaskInfo[] = [];
    for (const t of this.#tasks.values()) {
      if (out.length >= limit) break;
      if (options.state === undefined ? t.state === 'done' : t.state !== options.state) continue;
      out.push(taskInfo(t));
    }
    return out;
  }

  /**
   * Puts a task back in the queue: a dead task (its delivery count starts
   * over; a submitter that re-attaches waits for the new outcome) or an
   * in-flight one (its lease is revoked: the worker gets `cancel`, its result
   * will be refused as stale). Returns false for an unknown, pending or done task.
   */
  requeue(taskId: string): boolean {
    const t = this.#tasks.get(taskId);
    if (t === undefined) return false;
    if (t.state === 'inflight' && t.worker !== undefined) {
      this.#send(t.worker.connId, { kind: Kind.CANCEL, taskId: t.id, attempt: t.attempt });
      (t.avoid ??= new Set()).add(t.worker.key);
      this.#release(t);
      t.state = 'pending';
      t.queued = true;
      this.#ready.unshift(t);
    } else if (t.state === 'dead') {
      this.#dead.delete(t.id);
      t.state = 'pending';
      t.failures = 0;
      t.outcome = undefined;
      t.doneAt = undefined;
      this.#unfinished++;
      this.#unfinishedBytes += t.bytes;
      t.queued = true;
      this.#ready.push(t);
    } else return false;
    this.#persist(t);
    this.#dispatch();
    return true;
  }

  /** Empties the dead-letter list; returns how many tasks were removed. */
  purgeDead(): number {
    const n = this.#dead.size;
    for (const t of [...this.#dead.values()]) this.#forget(t);
    return n;
  }

  /** Stops timers; connections are the host's to close. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#delayed.stop();
    for (const t of this.#tasks.values()) if (t.ackTimer !== undefined) clearTimeout(t.ackTimer);
  }
}
