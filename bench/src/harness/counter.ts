import { hrNow } from './stats.js';
import type { CountResult } from './types.js';

/**
 * Counts arriving messages and resolves once an armed number arrived, with
 * the times of the first and the last one. Used by every server and client
 * of the bench (socketkit and raw alike), so all measure the same way.
 */
export class ArrivalCounter {
  #count = 0;
  #target = Number.POSITIVE_INFINITY;
  #tFirst = 0;
  #waiter: ((r: CountResult) => void) | undefined;

  /** Resets the count and expects `total` messages. */
  arm(total: number): void {
    this.#count = 0;
    this.#target = total;
    this.#waiter = undefined;
  }

  /** Records one arrival. */
  hit(): void {
    if (this.#count++ === 0) this.#tFirst = hrNow();
    if (this.#count === this.#target) this.#waiter?.({ tFirst: this.#tFirst, tLast: hrNow(), count: this.#count });
  }

  /** Resolves when the armed number of messages arrived. */
  wait(): Promise<CountResult> {
    if (this.#count >= this.#target)
      return Promise.resolve({ tFirst: this.#tFirst, tLast: hrNow(), count: this.#count });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }
}
