/**
 * The dead-letter path: a malformed task message, or one the captured max-deliveries advisory names, is moved to the
 * dead-letter stream, and its submitter is told (`DELIVERY_LIMIT_EXCEEDED`) through an outcome hand-over.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { packValue } from '@socketkit/codec';
import { BrokerErrorCode, InvalidRequest } from '../errors.js';
import { delay, type LinkContext, wire } from './context.js';
import type { OutcomeHandOver } from './handover.js';
import { TaskHeader } from './options.js';
import type { TaskMessage } from './pull.js';

/** Moves tasks to the dead-letter stream: refused ones at once, over-delivered ones from the advisories. */
export class DeadLetters {
  readonly #ctx: LinkContext;
  readonly #handOver: OutcomeHandOver;
  #running = false;

  constructor(ctx: LinkContext, handOver: OutcomeHandOver) {
    this.#ctx = ctx;
    this.#handOver = handOver;
  }

  /** Moves a message to the dead-letter stream and removes it from the task stream (`term`). */
  async deadLetter(msg: TaskMessage, reason: string, why: string): Promise<void> {
    const ctx = this.#ctx;
    ctx.report(
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
      await ctx.publish(ctx.names.deadSubject, msg.data, h, `dead-${msg.info.stream}-${msg.seq}`);
      // it is in the dead-letter stream now (a term does not remove it from a work queue on every server version)
      msg.ack();
    } catch (e) {
      ctx.report(e as Error);
      msg.nak(1000);
    }
  }

  /** Consumes the captured max-deliveries advisories (once per link, from its first task subscriber on). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const ctx = this.#ctx;
    void (async () => {
      let wait = 100;
      while (!ctx.closed) {
        try {
          const c = await ctx.js.consumers.get(ctx.names.advisoryStream, ctx.names.advisoryConsumer);
          while (!ctx.closed) {
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

  /** One max-deliveries advisory: dead-letters the task and tells its submitter. */
  async #onAdvisory(a: JsMsg): Promise<void> {
    const ctx = this.#ctx;
    const names = ctx.names;
    let seq: number;
    let deliveries: number;
    try {
      const adv = JSON.parse(new TextDecoder().decode(a.data)) as { stream_seq?: number; deliveries?: number };
      seq = Number(adv.stream_seq);
      deliveries = Number(adv.deliveries ?? ctx.options.maxDeliveries);
      if (!Number.isInteger(seq)) throw new Error('no stream_seq');
    } catch {
      a.term();
      return;
    }
    const stored = await ctx.jsm.streams.getMessage(names.taskStream, { seq }).catch(() => null);
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
    await ctx.publish(names.deadSubject, stored.data, h, `dead-${names.taskStream}-${seq}`);
    await ctx.jsm.streams.deleteMessage(names.taskStream, seq, false).catch(() => undefined);
    a.ack();
    if (replyTo) {
      const outcome = {
        taskId,
        delivery: `dead:${seq}`,
        ok: false,
        error: wire(
          BrokerErrorCode.DELIVERY_LIMIT_EXCEEDED,
          `task ${taskId} was delivered ${deliveries} times without an outcome: it is in the dead-letter stream ` +
            `${names.deadStream}`,
          { taskId, deliveries },
        ),
      };
      const data = packValue({ ...outcome, confirm: this.#handOver.subject });
      this.#handOver.handOver(replyTo, outcome.delivery, data, () => undefined);
    }
  }
}
