/**
 * The broker core's data structures: the ring deque of its ready queue, the
 * delayed (backoff) tasks, the FIFO of kept outcomes, the tasks-per-second
 * window, and the subscriber pick.
 */
import type { Sub, Task } from './core-records.js';

/** A ring deque (the ready queue, the kept-outcome FIFO): O(1) at both ends. */
export class Deque<T> {
  #buf: (T | undefined)[] = new Array(16);
  #head = 0;
  #size = 0;
  get size(): number {
    return this.#size;
  }
  #grow(): void {
    const next: (T | undefined)[] = new Array(this.#buf.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = this.#buf[(this.#head + i) % this.#buf.length];
    this.#buf = next;
    this.#head = 0;
  }
  push(t: T): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#size) % this.#buf.length] = t;
    this.#size++;
  }
  unshift(t: T): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#head = (this.#head - 1 + this.#buf.length) % this.#buf.length;
    this.#buf[this.#head] = t;
    this.#size++;
  }
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#buf[this.#head];
  }
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const t = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#buf.length;
    this.#size--;
    return t;
  }
}

/**
 * Tasks waiting until their `notBefore` (a rejected task's backoff), earliest first, with one timer (unref'd) for the
 * earliest. When it fires, every due task goes to `due` (in `notBefore` order), then `afterDue` runs once.
 */
export class DelayedTasks {
  #delayed: Task[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #due: (t: Task) => void;
  readonly #afterDue: () => void;
  readonly #closed: () => boolean;

  /** A delay queue that hands due tasks to `due`, then calls `afterDue`; it arms no timer once `closed()`. */
  constructor(due: (t: Task) => void, afterDue: () => void, closed: () => boolean) {
    this.#due = due;
    this.#afterDue = afterDue;
    this.#closed = closed;
  }

  /** Adds `t` (due at `t.notBefore`). */
  add(t: Task): void {
    this.#delayed.push(t);
    this.#delayed.sort((a, b) => a.notBefore - b.notBefore);
    this.#arm();
  }

  /** Stops the timer (at close). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const first = this.#delayed[0];
    if (first === undefined || this.#closed()) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        const now = Date.now();
        while (this.#delayed.length > 0 && (this.#delayed[0] as Task).notBefore <= now) {
          this.#due(this.#delayed.shift() as Task);
        }
        this.#afterDue();
        this.#arm();
      },
      Math.max(0, first.notBefore - Date.now()),
    );
    this.#timer.unref();
  }
}

/**
 * Finished tasks whose outcome is kept, with the order they finished in: the
 * oldest is found in O(1). (`Map.values().next()` walks over every entry
 * deleted since the map's last rehash: up to thousands per task once
 * `maxKeptResults` is reached.) Order entries of tasks deleted since are
 * skipped lazily.
 */
export class KeptOutcomes {
  readonly #kept = new Map<string, Task>();
  readonly #order = new Deque<Task>();
  /** How many tasks are kept. */
  get size(): number {
    return this.#kept.size;
  }
  /** Keeps `t` (the newest). */
  add(t: Task): void {
    this.#kept.set(t.id, t);
    this.#order.push(t);
  }
  /** Stops keeping the task `id` (if kept). */
  delete(id: string): void {
    this.#kept.delete(id);
  }
  /** The task kept longest (dropping order entries of tasks deleted since). */
  oldest(): Task | undefined {
    for (;;) {
      const t = this.#order.peek();
      if (t === undefined || this.#kept.get(t.id) === t) return t;
      this.#order.shift();
    }
  }
}

/** Tasks finished per second over the last 10 seconds (wall-clock seconds, a ring of 10 counters). */
export class TaskRate {
  readonly #perSecond: number[] = new Array(10).fill(0);
  #secondAt = Math.floor(Date.now() / 1000);
  /** Counts one finished task now. */
  count(): void {
    const now = Math.floor(Date.now() / 1000);
    this.#roll(now);
    this.#perSecond[now % 10] = (this.#perSecond[now % 10] as number) + 1;
  }
  /** The average per second over the last 10 seconds. */
  perSecond(): number {
    this.#roll(Math.floor(Date.now() / 1000));
    return this.#perSecond.reduce((a, b) => a + b, 0) / 10;
  }
  #roll(now: number): void {
    if (now - this.#secondAt >= 10) this.#perSecond.fill(0);
    else for (let s = this.#secondAt + 1; s <= now; s++) this.#perSecond[s % 10] = 0;
    this.#secondAt = Math.max(this.#secondAt, now);
  }
}

/** Whether `s` is a better pick than `than`: fewer deliveries in flight; among equals, the one used last. */
export function preferred(s: Sub, than: Sub | undefined): boolean {
  return (
    than === undefined ||
    s.inflight.size < than.inflight.size ||
    (s.inflight.size === than.inflight.size && s.lastUsed > than.lastUsed)
  );
}

/**
 * Least-loaded subscriber with room; among equals the most recently used (its process is warm: a task at a time
 * goes to the same worker instead of waking a cold one each time). `avoid` (subscribers that rejected the task or
 * lost its lease) only when no other has room.
 */
export function pickSubscriber(subs: readonly Sub[], avoid: Set<string> | undefined): Sub | undefined {
  let best: Sub | undefined;
  let bestAvoided: Sub | undefined;
  for (const s of subs) {
    if (s.inflight.size >= s.prefetch) continue;
    if (avoid?.has(s.key)) {
      if (preferred(s, bestAvoided)) bestAvoided = s;
    } else if (preferred(s, best)) best = s;
  }
  return best ?? bestAvoided;
}
