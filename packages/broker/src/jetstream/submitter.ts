/**
 * The submitter side of tasks: a task is published to the task stream and acknowledged by its PubAck on this link's
 * own inbox; its outcome comes back on this link's outcome subject and is confirmed to the worker that handed it
 * over; a task that leaves the stream without an outcome fails after `outcomeTtlMs`.
 */
import { type Msg, type MsgHdrs, headers as natsHeaders, PermissionViolationError } from '@nats-io/transport-node';
import { packValue, unpackValue } from '@socketkit/codec';
import { BrokerErrorCode, BrokerUnavailable, InvalidRequest, LimitExceeded } from '../errors.js';
import { type BrokerMessage, Kind } from '../wire.js';
import { delay, type LinkContext, newInbox, toWire, wire } from './context.js';
import { TaskHeader } from './options.js';

/** Accepted outcomes a submitter remembers, to confirm a retried hand-over whose confirmation was lost. */
const ACCEPTED_KEPT = 10_000;

/** A stream publish waiting for its PubAck. */
interface PendingPublish {
  resolve(seq: number): void;
  reject(e: Error): void;
  sent: number;
  subject: string;
}

/** The tasks this link submits: their publishes, the outcomes awaited and the confirmations owed. */
export class Submitter {
  /** This link's outcome subject (workers hand outcomes over there). */
  readonly subject: string;
  /**
   * Outcomes that reached this submitter for a task it already had an outcome for (a redelivered task that ran twice).
   */
  duplicateOutcomes = 0;
  readonly #ctx: LinkContext;
  /**
   * Stream publishes waiting for their PubAck, by number: answered on this link's own inbox (`<inbox>.<n>`), not by
   * a nats.js request each (a timer, a deferred and an Error with a stack per task); one sweep times them out.
   */
  readonly #pubs = new Map<number, PendingPublish>();
  #pubSeq = 0;
  #pubInbox = '';
  /**
   * Tasks this submitter waits an outcome for: taskId -> stream sequence (0 until stored) and since when it left the
   * stream.
   */
  readonly #waiting = new Map<string, { seq: number; goneSince: number | undefined }>();
  #orphanCursor = 0;
  /** Recently accepted outcomes: taskId -> the delivery that gave it (to confirm a retried hand-over again). */
  readonly #accepted = new Map<string, string>();
  /** Confirmations to send at the end of this event-loop turn, by worker subject. */
  readonly #confirms = new Map<string, [string, string][]>();

  constructor(ctx: LinkContext) {
    this.#ctx = ctx;
    this.subject = ctx.names.outcomes(ctx.id);
  }

  /** Subscribes the PubAck inbox (`<inbox>.*`). */
  listenPubAcks(): void {
    this.#pubInbox = newInbox(this.#ctx.nc);
    this.#ctx.nc.subscribe(`${this.#pubInbox}.*`, { callback: (_e, m) => this.#onPubAck(m) });
  }

  /** A `TASK` of the communicator: published, answered with the task id once stored. */
  task(m: BrokerMessage): undefined {
    const ctx = this.#ctx;
    const taskId = String(m.taskId);
    const data = ctx.pack(m.body);
    const h = natsHeaders();
    h.set(TaskHeader.ID, taskId);
    if (m.noReply !== true) {
      h.set(TaskHeader.REPLY, this.subject);
      this.#waiting.set(taskId, { seq: 0, goneSince: undefined });
    }
    this.publish(ctx.names.taskSubject, data, h, taskId).then(
      (seq) => {
        const w = this.#waiting.get(taskId);
        if (w !== undefined) w.seq = seq;
        ctx.reply(m.ref, true, taskId);
      },
      (e: unknown) => {
        this.#waiting.delete(taskId);
        ctx.reply(m.ref, false, undefined, toWire(e));
      },
    );
    return undefined;
  }

  /**
   * Publishes to a stream, retrying (same msgID: stored once) while the cluster elects a leader or the connection is
   * back.
   */
  async publish(subject: string, data: Uint8Array, headers: MsgHdrs, msgID: string): Promise<number> {
    const ctx = this.#ctx;
    const deadline = Date.now() + ctx.options.publishTimeoutMs;
    let wait = 100;
    for (;;) {
      if (ctx.closed) throw new BrokerUnavailable('the communicator closed before the task was stored');
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
            `JetStream did not store the task within ${ctx.options.publishTimeoutMs} ms (${text}): is the cluster up?`,
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
        this.#ctx.nc.publish(subject, data, { reply: `${this.#pubInbox}.${n}`, headers });
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

  /** The sweep: publishes unanswered for 5 s fail (their retry gets a new number). */
  timeOutPublishes(now: number): void {
    for (const [n, p] of this.#pubs)
      if (now - p.sent > 5000) {
        this.#pubs.delete(n);
        p.reject(new Error('no PubAck within 5000 ms'));
      }
  }

  /** The server refused this user `subject`: publishes to it fail now, not after the PubAck timeout. */
  refuse(subject: string, e: Error): void {
    for (const [n, p] of this.#pubs)
      if (p.subject === subject) {
        this.#pubs.delete(n);
        p.reject(e);
      }
  }

  /** The link closes: every publish waiting for its PubAck fails. */
  close(): void {
    for (const p of [...this.#pubs.values()]) p.reject(new BrokerUnavailable('the communicator closed'));
    this.#pubs.clear();
  }

  /**
   * A submitter never waits forever: a task that left the stream (purged by an
   * operator, acked by a forged ack) without its outcome arriving within
   * `outcomeTtlMs` fails with `BrokerUnavailable`. Checks at most 64 tasks a round.
   */
  async checkOrphans(): Promise<void> {
    const ctx = this.#ctx;
    const now = Date.now();
    const all = [...this.#waiting].filter(([, w]) => w.seq > 0);
    if (all.length === 0) return;
    const start = this.#orphanCursor % all.length;
    const batch = [...all.slice(start), ...all.slice(0, start)].slice(0, 64);
    this.#orphanCursor = start + batch.length;
    for (const [taskId, w] of batch) {
      if (ctx.closed) return;
      if (w.goneSince === undefined) {
        let stored: unknown;
        try {
          stored = await ctx.jsm.streams.getMessage(ctx.names.taskStream, { seq: w.seq });
        } catch {
          return; // the cluster is not answering: nothing to conclude now
        }
        if (stored === null) w.goneSince = now;
      } else if (now - w.goneSince > ctx.options.outcomeTtlMs && this.#waiting.delete(taskId)) {
        ctx.emit({
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

  /** An outcome handed over by a worker: the first one counts; the worker is told `ok` or `stale`. */
  onOutcome(msg: Msg): void {
    const ctx = this.#ctx;
    let o: Record<string, unknown>;
    try {
      o = unpackValue(msg.data) as Record<string, unknown>;
      if (typeof o !== 'object' || o === null || typeof o.taskId !== 'string') throw new Error('not an outcome map');
    } catch (e) {
      ctx.report(
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
    ctx.emit(
      o.ok === true
        ? { kind: Kind.OUTCOME, taskId: o.taskId, ok: true, result: o.result }
        : { kind: Kind.OUTCOME, taskId: o.taskId, ok: false, error: o.error },
    );
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
            this.#ctx.nc.publish(to, packValue(items));
          } catch {
            // closed: the worker resends and gets its answer from whoever is left
          }
        }
        this.#confirms.clear();
      });
  }
}
