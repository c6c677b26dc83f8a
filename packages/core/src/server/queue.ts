import type { SocketLogger } from '../ops/logger.js';
import type { ServerSettings } from './options.js';
import type { ServerPeer } from './peer.js';

/** A frame of the no-client queue, numbered in queue order. */
interface QueuedFrame {
  readonly seq: number;
  readonly frame: Buffer;
  /** Peers awaiting registration whose fan-out dropped it (they take it from the queue). */
  readonly droppedFor: readonly ServerPeer[] | undefined;
}

/**
 * The no-client queue: broadcasts sent while no client is registered, kept
 * for the next client to register (at most `messageQueueSize`, the oldest
 * dropped first, each drop reported through `overflow`). A queued frame
 * reaches a peer once: a peer awaiting registration (no token) got the
 * frames queued since its first fan-out by fan-out already, so it takes from
 * the queue only the older ones, and those its fan-out dropped
 * (`slowConsumerPolicy: 'drop'`).
 */
export class NoClientQueue {
  readonly #settings: ServerSettings;
  readonly #log: SocketLogger;
  readonly #overflow: (dropped: number) => void;
  readonly #entries: QueuedFrame[] = [];
  /** Number of the last frame queued. */
  #seq = 0;
  /** For each peer that got queued frames by fan-out, the number of the first one. */
  readonly #fannedOutFrom = new WeakMap<ServerPeer, number>();
  /** Frames dropped since start (queue full, or `messageQueueSize` 0). */
  dropped = 0;

  constructor(settings: ServerSettings, log: SocketLogger, overflow: (dropped: number) => void) {
    this.#settings = settings;
    this.#log = log;
    this.#overflow = overflow;
  }

  /** Frames queued now. */
  get length(): number {
    return this.#entries.length;
  }

  /** The number the next frame queued will have (see {@link NoClientQueue.fannedOut}). */
  get next(): number {
    return this.#seq + 1;
  }

  /** Frame number `seq`, about to be queued, went to `peer` (awaiting registration) by fan-out. */
  fannedOut(peer: ServerPeer, seq: number): void {
    if (!this.#fannedOutFrom.has(peer)) this.#fannedOutFrom.set(peer, seq);
  }

  /** Queues a broadcast no client was registered for (`droppedFor`: see {@link NoClientQueue.take}). */
  push(frame: Buffer, droppedFor?: readonly ServerPeer[]): void {
    const seq = ++this.#seq;
    const capacity = this.#settings.messageQueueSize;
    if (capacity <= 0) {
      this.dropped++;
      this.#overflow(this.dropped);
      return;
    }
    this.#entries.push({ seq, frame, droppedFor });
    if (this.#entries.length > capacity) {
      this.#entries.shift();
      this.dropped++;
      this.#log.debug(`queue full (${capacity}): dropped the oldest message`);
      this.#overflow(this.dropped);
    }
  }

  /**
   * Empties the queue for the peer registering now: the frames it did not
   * get by fan-out (queued before its first one, or dropped for it).
   */
  take(peer: ServerPeer): Uint8Array[] {
    if (this.#entries.length === 0) return [];
    const entries = this.#entries.splice(0);
    const before = this.#fannedOutFrom.get(peer) ?? Number.POSITIVE_INFINITY;
    this.#log.debug(`delivering ${entries.length} queued messages to ${peer.id}`);
    const missed = (q: QueuedFrame): boolean => q.seq < before || q.droppedFor?.includes(peer) === true;
    return entries.filter(missed).map((q) => q.frame);
  }
}
