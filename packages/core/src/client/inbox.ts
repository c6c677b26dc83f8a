import { TimeoutError } from '@socketkit/protocol';

/** Options of an {@link Inbox}. */
export interface InboxOptions<T> {
  /** Bound in items. */
  maxItems: number;
  /** Bound in bytes (the encoded size of the items kept). */
  maxBytes: number;
  /**
   * Rebuilds an item from the bytes it was offered with (they were valid when offered). The bytes are a view
   * into a segment that later offers overwrite: the item must not keep a view into them.
   */
  decode(bytes: Uint8Array): T;
  /** Called once when the inbox becomes full: the owner stops reading its source. */
  onFull(): void;
  /** Called once when a full inbox has drained to half of both bounds: the owner reads again. */
  onRoom(): void;
}

interface Waiter<T> {
  resolve(item: T | undefined): void;
  reject(error: Error): void;
}

/**
 * Size of every segment of a {@link ByteQueue} (64 KiB); an entry runs on
 * into the next segment when it does not fit.
 */
export const BYTE_QUEUE_SEGMENT = 64 * 1024;

/**
 * A FIFO of byte strings copied into 64 KiB segments: a kept entry costs a
 * copy and no JavaScript object, so thousands of waiting messages put no
 * load on the garbage collector (keeping decoded messages did: each one
 * survived to the old generation, a large share of a busy client's CPU), and
 * never pin the larger buffer they were read from. An entry (a 4-byte length,
 * then its bytes) fills the rest of a segment and runs on into the next one,
 * so memory is the bytes kept, plus 4 bytes each, plus fewer than 4 bytes
 * per segment, plus at most a partly used segment at each end and one spare
 * (whatever the entry sizes; an empty queue holds at most two segments).
 */
export class ByteQueue {
  #segments: Buffer[] = [];
  /** Read offset in the first segment. */
  #readAt = 0;
  /** Write offset in the last segment. */
  #writeAt = 0;
  #count = 0;
  #spare: Buffer | undefined;

  /** Entries kept. */
  get length(): number {
    return this.#count;
  }

  /** Bytes of the segments held (the spare one included). */
  get heldBytes(): number {
    return (this.#segments.length + (this.#spare === undefined ? 0 : 1)) * BYTE_QUEUE_SEGMENT;
  }

  /** Appends a copy of `bytes`. */
  push(bytes: Uint8Array): void {
    if (this.#count === 0) this.#readAt = 0;
    let seg = this.#segments[this.#segments.length - 1];
    // A length is never split: fewer than 4 bytes left at the end of a segment stay unused.
    if (seg === undefined || BYTE_QUEUE_SEGMENT - this.#writeAt < 4) seg = this.#addSegment();
    const len = bytes.length;
    // Byte stores, not writeUInt32BE: its argument checks showed in the profile of a busy listener client.
    const w = this.#writeAt;
    seg[w] = len >>> 24;
    seg[w + 1] = (len >>> 16) & 0xff;
    seg[w + 2] = (len >>> 8) & 0xff;
    seg[w + 3] = len & 0xff;
    this.#writeAt = w + 4;
    let off = 0;
    while (off < len) {
      if (this.#writeAt === BYTE_QUEUE_SEGMENT) seg = this.#addSegment();
      const n = Math.min(BYTE_QUEUE_SEGMENT - this.#writeAt, len - off);
      seg.set(n === len ? bytes : bytes.subarray(off, off + n), this.#writeAt);
      this.#writeAt += n;
      off += n;
    }
    this.#count++;
  }

  /**
   * Removes the oldest entry and returns it: a view valid until the next
   * `push` (an entry that runs over two or more segments is copied out).
   */
  shift(): Uint8Array | undefined {
    if (this.#count === 0) return undefined;
    const len = this.#openEntry();
    let seg = this.#segments[0] as Buffer;
    let out: Uint8Array;
    if (this.#readAt + len <= BYTE_QUEUE_SEGMENT) {
      out = seg.subarray(this.#readAt, this.#readAt + len);
      this.#readAt += len;
    } else {
      out = Buffer.allocUnsafe(len);
      let off = 0;
      while (off < len) {
        if (this.#readAt === BYTE_QUEUE_SEGMENT) {
          this.#dropFirst();
          seg = this.#segments[0] as Buffer;
        }
        const n = Math.min(BYTE_QUEUE_SEGMENT - this.#readAt, len - off);
        out.set(seg.subarray(this.#readAt, this.#readAt + n), off);
        this.#readAt += n;
        off += n;
      }
    }
    // Empty (so this is the only segment): the next push starts over at 0;
    // the entry's bytes stay where they are until then.
    if (--this.#count === 0) this.#writeAt = 0;
    return out;
  }

  /** Removes the oldest entry without looking at it; returns its length (-1 when empty). */
  drop(): number {
    if (this.#count === 0) return -1;
    const len = this.#openEntry();
    // The entry's bytes run on from segment to segment.
    let at = this.#readAt + len;
    while (at > BYTE_QUEUE_SEGMENT) {
      this.#dropFirst();
      at -= BYTE_QUEUE_SEGMENT;
    }
    this.#readAt = at;
    if (--this.#count === 0) this.#writeAt = 0;
    return len;
  }

  /** Reads the oldest entry's 4-byte length (skipping a segment end too short to hold one) and steps past it. */
  #openEntry(): number {
    if (BYTE_QUEUE_SEGMENT - this.#readAt < 4) this.#dropFirst();
    const seg = this.#segments[0] as Buffer;
    const r = this.#readAt;
    this.#readAt = r + 4;
    return (
      (seg[r] as number) * 0x1000000 +
      ((seg[r + 1] as number) << 16) +
      (((seg[r + 2] as number) << 8) | (seg[r + 3] as number))
    );
  }

  #addSegment(): Buffer {
    const seg = this.#spare ?? Buffer.allocUnsafeSlow(BYTE_QUEUE_SEGMENT);
    this.#spare = undefined;
    this.#segments.push(seg);
    this.#writeAt = 0;
    return seg;
  }

  #dropFirst(): void {
    this.#spare = this.#segments.shift() as Buffer;
    this.#readAt = 0;
  }
}

/**
 * A receive buffer bounded by items AND bytes, with waiters (`next()` with a
 * timeout) and an end state. An item offered while a reader waits goes to
 * it as it is; otherwise the bytes it was decoded from are kept (a copy, see
 * {@link ByteQueue}) and decoded again when read, so a reader gets the item
 * as it arrived even if a listener changed the one it was shown.
 * It never drops on its own: when full it asks its owner to pause the
 * source (`onFull`), and to resume once it is half empty (`onRoom`), so
 * back-pressure reaches the sender instead of memory growing. A bound can
 * be passed by at most what the source delivers between `onFull` and the
 * pause taking effect (one read chunk).
 */
export class Inbox<T> {
  readonly #o: InboxOptions<T>;
  readonly #queue = new ByteQueue();
  #bytes = 0;
  readonly #waiters: Waiter<T>[] = [];
  #full = false;
  #ended: { error: Error | undefined } | undefined;

  constructor(options: InboxOptions<T>) {
    this.#o = options;
  }

  /** Items waiting. */
  get size(): number {
    return this.#queue.length;
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
   * Hands `item` to the oldest waiter, or keeps a copy of `bytes` (its
   * encoded form). `item` undefined: it was shown to someone who may have
   * changed it, so a waiter gets a fresh decode of `bytes`. With
   * `dropOldest` a full inbox makes room by dropping its oldest items
   * (returned count) instead of asking the owner to pause.
   */
  offer(item: T | undefined, bytes: Uint8Array, dropOldest = false): number {
    const w = this.#waiters.shift();
    if (w !== undefined) {
      if (item !== undefined) w.resolve(item);
      else {
        try {
          w.resolve(this.#o.decode(bytes));
        } catch (err) {
          w.reject(err as Error);
        }
      }
      return 0;
    }
    const size = bytes.length;
    let dropped = 0;
    if (dropOldest) {
      const q = this.#queue;
      const { maxItems, maxBytes } = this.#o;
      while (q.length > 0 && (q.length >= maxItems || this.#bytes + size > maxBytes)) {
        this.#bytes -= q.drop();
        dropped++;
      }
    }
    this.#queue.push(bytes);
    this.#bytes += size;
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
    const bytes = this.#take();
    if (bytes !== undefined) {
      try {
        return Promise.resolve(this.#o.decode(bytes));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.#ended !== undefined)
      return this.#ended.error === undefined ? Promise.resolve(undefined) : Promise.reject(this.#ended.error);
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

  #take(): Uint8Array | undefined {
    const bytes = this.#queue.shift();
    if (bytes === undefined) return undefined;
    this.#bytes -= bytes.length;
    if (this.#full && this.size <= this.#o.maxItems / 2 && this.#bytes <= this.#o.maxBytes / 2) {
      this.#full = false;
      this.#o.onRoom();
    }
    return bytes;
  }
}
