import { TimeoutError } from '@socketkit/protocol';

/** Options of an {@link Inbox}. */
export interface InboxOptions {
  /** Bound in items. */
  maxItems: number;
  /** Bound in bytes (as reported by `offer`). */
  maxBytes: number;
  /** Called once when the inbox becomes full: the owner stops reading its source. */
  onFull(): void;
  /** Called once when a full inbox has drained to half of both bounds: the owner reads again. */
  onRoom(): void;
}

interface Waiter<T> {
  resolve(item: T | undefined): void;
  reject(error: Error): void;
}

interface Entry<T> {
  item: T;
  bytes: number;
}

/**
 * A receive buffer bounded by items AND bytes, with waiters (`next()` with a
 * timeout) and an end state. It never drops: when full it asks its owner to
 * pause the source (`onFull`), and to resume once it is half empty (`onRoom`),
 * so back-pressure reaches the sender instead of memory growing. A bound can
 * be passed by at most what the source delivers between `onFull` and the
 * pause taking effect (one read chunk).
 */
export class Inbox<T> {
  readonly #o: InboxOptions;
  #entries: Entry<T>[] = [];
  #head = 0;
  #bytes = 0;
  readonly #waiters: Waiter<T>[] = [];
  #full = false;
  #ended: { error: Error | undefined } | undefined;

  constructor(options: InboxOptions) {
    this.#o = options;
  }

  /** Items waiting. */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** Bytes of the items waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True between `onFull` and `onRoom`. */
  get full(): boolean {
    return this.#full;
  }

  /** Readers waiting in `next()`. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Hands `item` to the oldest waiter, or keeps it. With `dropOldest` a full
   * inbox makes room by dropping its oldest items (returned count) instead
   * of asking the owner to pause.
   */
  offer(item: T, bytes: number, dropOldest = false): number {
    const w = this.#waiters.shift();
    if (w !== undefined) {
      w.resolve(item);
      return 0;
    }
    let dropped = 0;
    if (dropOldest) {
      while (this.size > 0 && (this.size >= this.#o.maxItems || this.#bytes + bytes > this.#o.maxBytes)) {
        this.#take();
        dropped++;
      }
    }
    this.#entries.push({ item, bytes });
    this.#bytes += bytes;
    if (!dropOldest && !this.#full && (this.size >= this.#o.maxItems || this.#bytes >= this.#o.maxBytes)) {
      this.#full = true;
      this.#o.onFull();
    }
    return dropped;
  }

  /** Leaves the full state without taking anything (the owner switched to dropping the oldest). */
  release(): void {
    if (!this.#full) return;
    this.#full = false;
    this.#o.onRoom();
  }

  /**
   * The next item; `undefined` once the inbox has ended cleanly and is empty.
   * Rejects with the end error, or with TimeoutError after `timeoutMs`
   * (`Infinity`: wait for ever).
   */
  next(timeoutMs: number, timeoutText: () => string): Promise<T | undefined> {
    const item = this.#take();
    if (item !== undefined) return Promise.resolve(item.item);
    if (this.#ended !== undefined) return this.#ended.error === undefined ? Promise.resolve(undefined) : Promise.reject(this.#ended.error);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter<T> = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new TimeoutError(timeoutText(), { details: { timeout: timeoutMs } }));
        }, timeoutMs);
      }
      this.#waiters.push(waiter);
    });
  }

  /** Ends the inbox: waiters get `undefined` (clean) or `error`; items already in it stay readable. */
  end(error?: Error): void {
    this.#ended = { error };
    for (const w of this.#waiters.splice(0)) {
      if (error === undefined) w.resolve(undefined);
      else w.reject(error);
    }
  }

  /** Reopens an ended inbox (a new connect()). */
  reopen(): void {
    this.#ended = undefined;
  }

  #take(): Entry<T> | undefined {
    if (this.#head >= this.#entries.length) return undefined;
    const e = this.#entries[this.#head] as Entry<T>;
    this.#entries[this.#head] = undefined as unknown as Entry<T>;
    this.#head++;
    // Compact now and then so the array does not grow for ever (amortised O(1) shift).
    if (this.#head >= 1024 && this.#head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    this.#bytes -= e.bytes;
    if (this.#full && this.size <= this.#o.maxItems / 2 && this.#bytes <= this.#o.maxBytes / 2) {
      this.#full = false;
      this.#o.onRoom();
    }
    return e;
  }
}
