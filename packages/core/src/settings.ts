import { DEFAULT_CONFIG, MAX_TIMEOUT_MS } from '@socketkit/config';
import { ErrorCode, ValidationError } from '@socketkit/protocol';

/**
 * Largest timeout Node's timers accept (2^31 − 1 ms, defined once in `@socketkit/config`); larger values would fire
 * after 1 ms.
 */
export { MAX_TIMEOUT_MS };

/** Default hard bound on bytes queued for one client before the slow-consumer policy applies (8 MiB). */
export const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Default time a graceful close may make no flush progress before the stream is destroyed (ms). */
export const DEFAULT_CLOSE_TIMEOUT = 2000;
/** Default heartbeat interval (ms); 0 = off, as the design requires. */
export const DEFAULT_HEARTBEAT_INTERVAL = 0;
/** Heartbeat misses tolerated before a silent peer is declared dead. */
export const DEFAULT_HEARTBEAT_MISSES = 2;

/** The configuration defaults (`@socketkit/config`, the README's Configuration table) the engines start from. */
export const CONFIG_DEFAULTS = DEFAULT_CONFIG;

/**
 * `setTimeout` for a validated timeout: `Infinity` means no timer at all
 * (Node would fire it after 1 ms); the timer is unref'd.
 */
export function startTimer(ms: number, fn: () => void): NodeJS.Timeout | undefined {
  if (!Number.isFinite(ms)) return undefined;
  const t = setTimeout(fn, ms);
  t.unref?.();
  return t;
}

/**
 * Resolves after `ms`, or rejects with `signal.reason` once the signal aborts
 * (a disconnect, a connect timeout); the timer is cleared either way.
 */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Checks one timeout option: `Infinity` (no timeout) or an integer from 1 to
 * 2^31-1 ms. Node clamps anything larger to 1 ms, so a huge value would fire
 * at once instead of never.
 * @throws ValidationError `INVALID_CONFIG` naming the key.
 */
export function validateTimeoutMs(key: string, value: number, source = 'option'): number {
  if (value === Infinity || (Number.isInteger(value) && value >= 1 && value <= MAX_TIMEOUT_MS)) return value;
  throw new ValidationError(
    ErrorCode.INVALID_CONFIG,
    `invalid ${key} ${String(value)} (${source}): a timeout is Infinity (none) or an integer number of milliseconds ` +
      `from 1 to ${MAX_TIMEOUT_MS}`,
    { details: { key, value, source } },
  );
}

/** Checks a non-negative integer option (a count or a byte size). */
export function validateCount(key: string, value: number, min = 0): number {
  if (Number.isInteger(value) && value >= min) return value;
  throw new ValidationError(
    ErrorCode.INVALID_CONFIG,
    `invalid ${key} ${String(value)} (option): expected an integer >= ${min}`,
    {
      details: { key, value, source: 'option' },
    },
  );
}

/** An interval: 0 (off) or an integer from 1 to 2^31-1 ms (never Infinity: it repeats). */
export function validateInterval(key: string, value: number): number {
  if (value === 0 || value === Infinity) {
    if (value === 0) return 0;
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `invalid ${key} Infinity (option): an interval is 0 (off) or an integer number of milliseconds from 1 to ` +
        `${MAX_TIMEOUT_MS}`,
      { details: { key, value, source: 'option' } },
    );
  }
  return validateTimeoutMs(key, value);
}

/** Copies the defined values of `over` onto `base` (undefined never overrides). */
export function mergeDefined<T extends object>(base: Partial<T>, over: Partial<T>): Partial<T> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}
