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

/** One interval of {@link sharedTimers}: its timer, and the callbacks it runs, in slices. */
interface TimerGroup {
  readonly timer: NodeJS.Timeout;
  readonly slices: Array<Set<() => void>>;
  /** Callbacks in all slices. */
  size: number;
  /** The slice the next tick runs. */
  at: number;
}

/** Slices of a shared interval (see {@link sharedTimers}). */
export const HEARTBEAT_SLICES = 8;

/**
 * Timers for the heartbeats of many peers (a server's): every heartbeat of the same interval runs off one
 * repeating timer (unref'd), started with the first and stopped with the last, instead of one timer per peer.
 * The peers are dealt into {@link HEARTBEAT_SLICES} slices and the timer runs one slice every interval ÷ slices,
 * so each heartbeat still runs once per interval and 10,000 pings never go out in one burst. A heartbeat that
 * starts between two runs of its slice is first checked sooner than its interval, never later; its silence is
 * still measured from its own peer's last frame.
 */
export function sharedTimers(): HeartbeatTimers {
  const groups = new Map<number, TimerGroup>();
  let dealt = 0;
  return {
    now: () => Date.now(),
    every(ms, fn) {
      let group = groups.get(ms);
      if (group === undefined) {
        const n = ms >= HEARTBEAT_SLICES ? HEARTBEAT_SLICES : 1;
        const slices = Array.from({ length: n }, () => new Set<() => void>());
        const g: TimerGroup = {
          slices,
          size: 0,
          at: 0,
          // A copy of the slice: a heartbeat started by a callback of this tick waits for its slice's next turn.
          timer: setInterval(
            () => {
              const slice = slices[g.at] as Set<() => void>;
              g.at = (g.at + 1) % slices.length;
              for (const f of [...slice]) if (slice.has(f)) f();
            },
            Math.floor(ms / n),
          ),
        };
        g.timer.unref?.();
        group = g;
        groups.set(ms, group);
      }
      const handle = (): void => fn();
      const slice = group.slices[dealt++ % group.slices.length] as Set<() => void>;
      slice.add(handle);
      group.size++;
      return { ms, slice, handle };
    },
    clear(h) {
      const { ms, slice, handle } = h as { ms: number; slice: Set<() => void>; handle: () => void };
      const group = groups.get(ms);
      if (group === undefined || !slice.delete(handle) || --group.size > 0) return;
      clearInterval(group.timer);
      groups.delete(ms);
    },
  };
}

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
