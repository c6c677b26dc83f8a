/**
 * The worker side of tasks: task subscribers, their deliveries and leases (in-progress acks), and the end of a
 * delivery (a result or failure handed over to the submitter, a reject sent back to the queue with backoff).
 */
import type { Consumer } from '@nats-io/jetstream';
import { unpackValue } from '@socketkit/codec';
import { BrokerErrorCode, BrokerUnavailable, InvalidRequest } from '../errors.js';
import { type BrokerMessage, Kind } from '../wire.js';
import { delay, type LinkContext, wire } from './context.js';
import type { DeadLetters } from './dead-letters.js';
import type { HandOverVerdict, OutcomeHandOver } from './handover.js';
import { TaskHeader } from './options.js';
import { expirePulls, startPull, type TaskMessage, type TaskSub } from './pull.js';

/** A task delivered to a subscriber of this link. */
interface Delivery {
  msg: TaskMessage;
  taskId: string;
  attempt: number;
  sub: TaskSub;
  /** When it was delivered. */
  since: number;
  released: boolean;
}

/** The task subscribers of one link and the deliveries they hold. */
export class TaskWorkers {
  readonly #ctx: LinkContext;
  readonly #handOver: OutcomeHandOver;
  readonly #deadLetters: DeadLetters;
  readonly #subs = new Map<string, TaskSub>();
  readonly #deliveries = new Map<string, Delivery>();
  /** Deliveries whose lease this link keeps (running, or handing their outcome over). */
  readonly #leased = new Set<Delivery>();
  #consumer: Promise<Consumer> | undefined;

  constructor(ctx: LinkContext, handOver: OutcomeHandOver, deadLetters: DeadLetters) {
    this.#ctx = ctx;
    this.#handOver = handOver;
    this.#deadLetters = deadLetters;
  }

  /**
   * Adds a task subscriber: binds the shared consumer, starts its pull loop, and refuses it when the server refuses
   * this user's pull requests.
   */
  async subscribe(identifier: string, prefetchOption: unknown): Promise<unknown> {
    const ctx = this.#ctx;
    const prefetch = Number(prefetchOption ?? 1);
    if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 1024)
      throw new InvalidRequest(`prefetch must be an integer from 1 to 1024 (got ${String(prefetchOption)})`);
    this.#consumer ??= ctx.js.consumers.get(ctx.names.taskStream, ctx.names.consumer);
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
    this.#subs.set(identifier, sub);
    const api = startPull(ctx, sub, (s, msg) => this.#deliver(s, msg));
    // A user without the right to pull (a submitter's permissions) is refused here, not left waiting for tasks.
    // (bounded: a connection that is down now does not hold the subscriber up; it pulls once it is back)
    await Promise.race([ctx.nc.flush().catch(() => undefined), delay(5000)]);
    await new Promise<void>((r) => setImmediate(r));
    if (ctx.denied.has(api)) {
      stopSub(sub);
      this.#subs.delete(identifier);
      throw new BrokerUnavailable(
        `this NATS user may not take tasks: the server refused its pull request on ${api} (permissions)`,
      );
    }
    this.#deadLetters.start();
    return null;
  }

  /** Removes a task subscriber (its pull loop stops; tasks it holds run on). */
  unsubscribe(identifier: string): void {
    const s = this.#subs.get(identifier);
    if (s !== undefined) stopSub(s);
    this.#subs.delete(identifier);
  }

  /** A handler's progress: an in-progress ack for the current delivery. */
  progress(m: BrokerMessage): void {
    const d = this.#deliveries.get(String(m.taskId));
    if (d !== undefined && d.attempt === m.attempt) d.msg.working();
  }

  /** The sweep: pull requests out longer than they can live are asked for again. */
  expirePulls(now: number): void {
    expirePulls(this.#subs.values(), now);
  }

  /** Stops every pull loop and sends the tasks held back to the queue at once (the next delivery is attempt + 1). */
  close(): void {
    for (const s of this.#subs.values()) stopSub(s);
    this.#leased.clear();
    for (const d of this.#deliveries.values()) d.msg.nak();
    this.#deliveries.clear();
  }

  #deliver(sub: TaskSub, msg: TaskMessage): void {
    let body: unknown;
    try {
      body = unpackValue(msg.data);
    } catch (e) {
      void this.#deadLetters.deadLetter(msg, 'malformed', `the body is not msgpack: ${(e as Error).message}`);
      return;
    }
    const taskId = msg.headers?.get(TaskHeader.ID) || `seq-${msg.seq}`;
    const attempt = msg.info.deliveryCount;
    const held = this.#deliveries.get(taskId);
    if (held !== undefined) {
      if (held.msg.seq !== msg.seq) {
        // Another stream message with the same task id (not published by taskSend): refuse it.
        void this.#deadLetters.deadLetter(
          msg,
          'malformed',
          `a second message with task id ${taskId} while the first is running`,
        );
        return;
      }
      // This worker holds an older delivery of the same message (its lease ran out): that one is stale now.
      this.#drop(held);
      this.#ctx.emit({ kind: Kind.CANCEL, taskId, attempt: held.attempt });
    }
    sub.inflight++;
    const d: Delivery = { msg, taskId, attempt, sub, released: false, since: Date.now() };
    this.#leased.add(d);
    this.#deliveries.set(taskId, d);
    this.#ctx.emit({ kind: Kind.DELIVER, taskId, attempt, identifier: sub.identifier, body });
  }

  /**
   * The lease: an in-progress ack for every delivery held, each third of
   * AckWait (one timer for all). Disconnected for longer than AckWait,
   * JetStream has handed the tasks on: their handlers see their signal aborted.
   */
  keepLeases(every: number): void {
    const now = Date.now();
    const downSince = this.#ctx.downSince;
    const lost = downSince !== undefined && now - downSince > this.#ctx.options.ackWaitMs;
    for (const d of this.#leased) {
      if (lost) {
        this.#leased.delete(d);
        if (this.#deliveries.get(d.taskId) === d) {
          this.#drop(d);
          this.#ctx.emit({ kind: Kind.CANCEL, taskId: d.taskId, attempt: d.attempt });
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
    release(d);
  }

  /**
   * The end of a delivery (`RESULT` or `REJECT`): a reject goes back to the queue with backoff; a result or failure
   * is handed over to its submitter, and the task is acked once the submitter confirmed it (or right away with
   * `noReply`).
   */
  finish(m: BrokerMessage): undefined {
    const ctx = this.#ctx;
    const taskId = String(m.taskId);
    const d = this.#deliveries.get(taskId);
    if (d === undefined || d.attempt !== m.attempt)
      return ctx.reply(
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
      return ctx.reply(m.ref, true, null);
    }
    const delivery = `${ctx.id}:${d.msg.seq}:${d.attempt}`;
    const outcome =
      m.ok === true
        ? { taskId, delivery, ok: true, result: m.result }
        : { taskId, delivery, ok: false, error: m.error };
    const replyTo = d.msg.headers?.get(TaskHeader.REPLY);
    // Packed before anything changes: a result that cannot travel throws, and the communicator makes that the outcome.
    const data = ctx.pack(replyTo ? { ...outcome, confirm: this.#handOver.subject } : outcome);
    // The handler is done: its prefetch slot is free; the lease is kept (in-progress) until the outcome is handed over.
    this.#deliveries.delete(taskId);
    release(d);
    const settle = (verdict: HandOverVerdict): void => {
      if (ctx.closed) return;
      this.#leased.delete(d);
      d.msg.ack();
      if (verdict === 'stale')
        ctx.reply(
          m.ref,
          false,
          undefined,
          wire(BrokerErrorCode.STALE_DELIVERY, `task ${taskId} already had its outcome (this was a second run)`),
        );
      else ctx.reply(m.ref, true, null);
    };
    if (replyTo) this.#handOver.handOver(replyTo, delivery, data, settle);
    else settle('ok');
    return undefined;
  }
}

/** Stops a subscriber's pull loop. */
function stopSub(s: TaskSub): void {
  s.stopped = true;
  s.stop?.();
  s.wake?.();
}

/** Gives a delivery's prefetch slot back to its subscriber (once). */
function release(d: Delivery): void {
  if (!d.released) {
    d.released = true;
    d.sub.inflight--;
    d.sub.wake?.();
  }
}
