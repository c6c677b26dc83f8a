import type { SocketLogger } from './logger.js';

/** Default interval of a {@link LogLimiter}: at most one line per key per second. */
export const LOG_LIMIT_INTERVAL_MS = 1000;
/** Most keys a {@link LogLimiter} tracks at once; lines for more keys share one overflow key. */
export const LOG_LIMIT_MAX_KEYS = 1024;

interface Window {
  /** Lines suppressed in this window. */
  suppressed: number;
  /** The first suppressed line (what the summary is about). */
  sample: string;
  timer: NodeJS.Timeout;
}

/**
 * Warnings a peer can cause, rate-limited: at most one line per key (e.g.
 * `UNAUTHORIZED`, or `INVALID_MESSAGE:<peer>`) per interval. The lines
 * suppressed in an interval are summed up in one line at its end ("N more
 * like this in the last 1000 ms"), so a flood of bad input costs a bounded
 * number of log lines whatever its rate. Timers are unref'd; {@link LogLimiter.close} flushes the summaries.
 */
export class LogLimiter {
  readonly #log: SocketLogger;
  readonly #intervalMs: number;
  readonly #windows = new Map<string, Window>();
  /** Lines written (for tests and stats). */
  written = 0;
  /** Lines suppressed. */
  suppressed = 0;

  constructor(log: SocketLogger, intervalMs = LOG_LIMIT_INTERVAL_MS) {
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  /** Writes `line` as a warning unless a line of `key` was written in the current interval (then counts it). */
  warn(key: string, line: string): void {
    const k = this.#windows.has(key) || this.#windows.size < LOG_LIMIT_MAX_KEYS ? key : '(other)';
    const w = this.#windows.get(k);
    if (w !== undefined) {
      if (w.suppressed++ === 0) w.sample = line.length > 300 ? `${line.slice(0, 300)}…` : line;
      this.suppressed++;
      return;
    }
    this.written++;
    this.#log.warn(line);
    const timer = setTimeout(() => this.#end(k), this.#intervalMs);
    timer.unref?.();
    this.#windows.set(k, { suppressed: 0, sample: '', timer });
  }

  #end(key: string): void {
    const w = this.#windows.get(key);
    if (w === undefined) return;
    this.#windows.delete(key);
    clearTimeout(w.timer);
    if (w.suppressed === 0) return;
    this.written++;
    this.#log.warn(
      `${w.suppressed} more like this in the last ${this.#intervalMs} ms (suppressed; the first: ${w.sample})`,
    );
  }

  /** Writes the pending summaries now and stops every timer. */
  close(): void {
    for (const key of [...this.#windows.keys()]) this.#end(key);
  }
}
