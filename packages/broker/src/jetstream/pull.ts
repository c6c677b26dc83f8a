/**
 * The worker pull loop: task subscribers take tasks from the shared durable consumer by pull requests on one inbox
 * each ({@link startPull}), never more than their prefetch at once; the delivered messages are {@link TaskMsg}s.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { type Msg, type MsgHdrs, type NatsConnection, nanos } from '@nats-io/transport-node';
import { BrokerUnavailable } from '../errors.js';
import { type LinkContext, newInbox } from './context.js';

/** A task subscriber of this link: its prefetch slots and its pull requests. */
export interface TaskSub {
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
export class TaskMsg {
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
export type TaskMessage = Pick<JsMsg, 'seq' | 'data' | 'headers' | 'ack' | 'nak' | 'working'> & {
  info: { deliveryCount: number; stream: string };
};

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
export function startPull(ctx: LinkContext, sub: TaskSub, deliver: (sub: TaskSub, msg: TaskMessage) => void): string {
  const inbox = newInbox(ctx.nc);
  const api = `$JS.API.CONSUMER.MSG.NEXT.${ctx.names.taskStream}.${ctx.names.consumer}`;
  const natsSub = ctx.nc.subscribe(inbox, { callback: (_e, m) => onMessage(m) });
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
        ctx.report(
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
    const msg = new TaskMsg(ctx.nc, m, reply);
    if (sub.stopped || ctx.closed) msg.nak();
    else deliver(sub, msg);
  };
  sub.stop = () => natsSub.unsubscribe();
  const ask = (): void => {
    if (sub.stopped || ctx.closed || holding) return;
    const free = sub.prefetch - sub.inflight - sub.requested;
    // Like consume()'s threshold: while a pull is out, ask again only for a quarter of the prefetch or more.
    if (free <= 0 || (sub.requested > 0 && free < Math.ceil(sub.prefetch / 4))) return;
    sub.requested += free;
    pulls.push({ left: free, at: Date.now() });
    try {
      ctx.nc.publish(api, PULL_BODY(free), { reply: inbox });
    } catch (e) {
      // closed or draining; a reconnect keeps the subscription and the sweep gives the slots back
      ctx.report(new BrokerUnavailable(`pulling tasks failed, retrying: ${(e as Error).message}`, { cause: e }));
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
export function expirePulls(subs: Iterable<TaskSub>, now: number): void {
  for (const sub of subs) {
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
