/**
 * Liveness of one peer, shared by server and client. The owner calls
 * `seen()` whenever any byte arrives from the peer; every `intervalMs` the
 * heartbeat either declares the peer dead (silent for more than `timeoutMs`)
 * or asks the owner to send a ping. The owner decides *whether* a peer is
 * heartbeat-checked at all (only peers that did the handshake are: a Python
 * peer never answers pings, so its silence means nothing).
 *
 * Timers come through a small port so tests can drive them with fake timers
 * or by hand; the default uses the global timers, unref'd so a heartbeat
 * never keeps a process alive.
 */

/** The timer functions a {@link Heartbeat} uses (the globals by default). */
export interface HeartbeatTimers {
  /** Monotonic-enough clock in milliseconds. */
  now(): number;
  /** Starts a repeating timer; returns a handle for `clear`. */
  every(ms: number, fn: () => void): unknown;
  /** Stops a timer started by `every`. */
  clear(handle: unknown): void;
}

/** Options of a {@link Heartbeat}. */
export interface HeartbeatOptions {
  /** How often to check and ping, in ms; 0 turns the heartbeat off. */
  intervalMs: number;
  /** Silence after which the peer is declared dead, in ms (> intervalMs). */
  timeoutMs: number;
  /** Sends one ping to the peer. */
  ping(): void;
  /** Called once when the peer has been silent for longer than `timeoutMs`. */
  dead(silentMs: number): void;
  /** Timer port (defaults to the global timers). */
  timers?: HeartbeatTimers;
}

/** The global timers, unref'd. */
export const GLOBAL_TIMERS: HeartbeatTimers = {
  now: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref?.();
    return t;
  },
  clear(handle) {
    clearInterval(handle as NodeJS.Timeout);
  },
};

/** Ping/timeout bookkeeping for one peer (see the file comment). */
export class Heartbeat {
  readonly #o: Required<HeartbeatOptions>;
  #lastSeen = 0;
  #timer: unknown;

  constructor(options: HeartbeatOptions) {
    this.#o = { timers: GLOBAL_TIMERS, ...options };
  }

  /** Whether the heartbeat is running. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Milliseconds since the peer was last heard from (0 before `start`). */
  get silentFor(): number {
    return this.#timer === undefined ? 0 : this.#o.timers.now() - this.#lastSeen;
  }

  /** Starts checking (idempotent; does nothing when `intervalMs` is 0). */
  start(): void {
    if (this.#o.intervalMs <= 0 || this.#timer !== undefined) return;
    this.#lastSeen = this.#o.timers.now();
    this.#timer = this.#o.timers.every(this.#o.intervalMs, () => this.#tick());
  }

  /** Records traffic from the peer. */
  seen(): void {
    this.#lastSeen = this.#o.timers.now();
  }

  /** Stops checking (idempotent). */
  stop(): void {
    if (this.#timer === undefined) return;
    this.#o.timers.clear(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const silent = this.#o.timers.now() - this.#lastSeen;
    if (silent > this.#o.timeoutMs) {
      this.stop();
      this.#o.dead(silent);
      return;
    }
    this.#o.ping();
  }
}
