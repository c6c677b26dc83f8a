/**
 * The worker's side of an outcome: handed to its submitter's outcome subject and resent until the submitter confirms
 * it on this link's confirmation subject (one sweep resends every due hand-over: no timer per task).
 */
import type { Msg } from '@nats-io/transport-node';
import { unpackValue } from '@socketkit/codec';
import { BrokerUnavailable, InvalidRequest } from '../errors.js';
import type { LinkContext } from './context.js';

/** How a hand-over ended: accepted, refused as a second outcome, or given up (closed, or the submitter away). */
export type HandOverVerdict = 'ok' | 'stale' | 'gone';

/** An outcome being handed over: resent by the sweep at `next` until confirmed. */
interface Handing {
  next: number;
  send(): void;
  done(verdict: HandOverVerdict): void;
}

/** The outcomes this link hands over to submitters, and their confirmations. */
export class OutcomeHandOver {
  /** This link's confirmation subject (submitters answer hand-overs there). */
  readonly subject: string;
  readonly #ctx: LinkContext;
  /** Outcomes handed over and not confirmed yet, by delivery. */
  readonly #handing = new Map<string, Handing>();

  constructor(ctx: LinkContext) {
    this.#ctx = ctx;
    this.subject = ctx.names.confirms(ctx.id);
  }

  /**
   * Hands an outcome to its submitter: published to its outcome subject with
   * this link's confirmation subject; the submitter confirms (in batches,
   * once per event-loop turn) with `ok` or `stale`. Resent while
   * unconfirmed (the submitter may be reconnecting to another node), with
   * backoff from 1 s, for up to `outcomeTtlMs`.
   */
  handOver(subject: string, delivery: string, data: Uint8Array, settle: (verdict: HandOverVerdict) => void): void {
    const ctx = this.#ctx;
    const deadline = Date.now() + ctx.options.outcomeTtlMs;
    let wait = 1000;
    const h: Handing = {
      next: 0,
      done: (verdict) => {
        if (this.#handing.get(delivery) !== h) return;
        this.#handing.delete(delivery);
        settle(verdict);
      },
      send: () => {
        if (ctx.closed) return h.done('gone');
        const now = Date.now();
        if (now > deadline) {
          ctx.report(
            new BrokerUnavailable(
              `the submitter at ${subject} did not take its outcome within ${ctx.options.outcomeTtlMs} ms: dropped`,
            ),
          );
          return h.done('gone');
        }
        try {
          ctx.nc.publish(subject, data);
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

  /** A submitter's confirmations (a list of `[delivery, verdict]`). */
  onConfirm(msg: Msg): void {
    let list: unknown;
    try {
      list = unpackValue(msg.data);
    } catch {
      list = undefined;
    }
    if (!Array.isArray(list)) {
      this.#ctx.report(new InvalidRequest(`a malformed outcome confirmation on ${msg.subject} was dropped`));
      return;
    }
    for (const item of list) {
      if (!Array.isArray(item)) continue;
      this.#handing.get(String(item[0]))?.done(item[1] === 'stale' ? 'stale' : 'ok');
    }
  }

  /** The sweep: resends the hand-overs that are due at `now`. */
  resendDue(now: number): void {
    for (const h of this.#handing.values()) if (h.next <= now) h.send();
  }

  /** The link closes: every hand-over ends `gone`. */
  close(): void {
    for (const h of [...this.#handing.values()]) h.done('gone');
  }
}
