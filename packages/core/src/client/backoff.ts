/** Reconnect backoff settings. */
export interface BackoffOptions {
  /** First delay in ms (default 100). */
  initialDelay?: number;
  /** Growth factor per attempt (default 2). */
  multiplier?: number;
  /** Largest delay in ms before jitter (default 5000). */
  maxDelay?: number;
  /** Jitter as a fraction of the delay, applied ± (default 0.25). */
  jitter?: number;
  /**
   * Attempts before giving up (default {@link DEFAULT_MAX_RETRIES} = 30: with
   * the default delays about two minutes, 6.3 s of growing delays then 24 × 5 s);
   * `Infinity` never gives up. The count starts over whenever the server
   * answers again (its `welcome`; without the handshake, a connection that
   * stays up `minUptimeMs` or delivers a message), so a server restarted many
   * times in a row never exhausts it. Giving up closes the client with
   * `RECONNECT_FAILED`: `for await` and pending `receive()` calls reject with it.
   */
  maxRetries?: number;
}

/**
 * Default bound on reconnect attempts: a server restarted by a supervisor is
 * back well within the ~2 minutes 30 attempts take with the default delays,
 * and a server gone for good is reported (`RECONNECT_FAILED`) instead of
 * retried silently forever (the Python module's contract: exponential backoff
 * with max retries).
 */
export const DEFAULT_MAX_RETRIES = 30;

/** Defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialDelay: 100,
  multiplier: 2,
  maxDelay: 5000,
  jitter: 0.25,
  maxRetries: DEFAULT_MAX_RETRIES,
};

/**
 * Delay before reconnect attempt `attempt` (1-based): exponential growth
 * capped at `maxDelay`, then spread by ±`jitter` so many clients that lost the
 * same server do not retry in lockstep.
 * @param random Source of randomness in [0, 1) (default Math.random).
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const o = { ...DEFAULT_BACKOFF, ...options };
  const base = Math.min(o.initialDelay * o.multiplier ** Math.max(0, attempt - 1), o.maxDelay);
  const spread = base * o.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}
