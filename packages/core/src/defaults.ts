import { DEFAULT_CONFIG } from '@socketkit/config';

/** Default hard bound on bytes queued for one client before the slow-consumer policy applies (8 MiB). */
export const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Default time a graceful close may make no flush progress before the stream is destroyed (ms). */
export const DEFAULT_CLOSE_TIMEOUT = 2000;
/** Default heartbeat interval (ms); 0 = off, as the design requires. */
export const DEFAULT_HEARTBEAT_INTERVAL = 0;
/** Heartbeat misses tolerated before a silent peer is declared dead. */
export const DEFAULT_HEARTBEAT_MISSES = 2;
/** Default bound on messages buffered by a client while disconnected. */
export const DEFAULT_SEND_BUFFER_SIZE = 1000;
/** Default bound on requests in flight per client. */
export const DEFAULT_MAX_PENDING_REQUESTS = 10000;
/** Default most clients at once on a server (§7 `maxConnections`). */
export const DEFAULT_MAX_CONNECTIONS = 10;
/** Default time `drain()` waits for one client (ms). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5000;
/** Default time a peer has to authenticate when the server has a token (ms): short, a stalling peer holds a pre-auth slot no longer. */
export const DEFAULT_AUTH_TIMEOUT_MS = 3000;
/** Default most unauthenticated peers at once (token servers); the oldest is evicted when a new one arrives. */
export const DEFAULT_MAX_UNAUTHENTICATED = 32;
/**
 * Default most invalid messages (well framed, not a valid message) a peer may
 * send per second; past it the server disconnects it with `TOO_MANY_INVALID`.
 * Far above what a buggy but honest peer sends, low enough that a flood of
 * bad frames costs a bounded amount of work and log.
 */
export const DEFAULT_MAX_INVALID_PER_SECOND = 1000;
/** Default grace after which a peer that never said `hello` (a Python client) registers (ms). */
export const DEFAULT_REGISTER_GRACE_MS = 500;
/** Default time a peer has to finish a frame it started (ms). */
export const DEFAULT_FRAME_TIMEOUT_MS = 30_000;
/** Default linger of a refused connection: it gets its ERROR and is closed at the latest after this long (ms). */
export const DEFAULT_REFUSE_LINGER_MS = 1000;
/** Default most refused connections lingering at once; past it a refused socket is closed without its ERROR. */
export const DEFAULT_MAX_REFUSING = 32;
/** Default most monitors at once (peers asking for stats; they hold no client slot, so they have this bound of their own). */
export const DEFAULT_MAX_MONITORS = 4;
/** Default wait for the peer's own close once everything written was flushed (ms). */
export const DEFAULT_CLOSE_GRACE_MS = 250;
/** Default listen backlog (pending connections the kernel holds before `accept`). */
export const DEFAULT_BACKLOG = 511;
/** Largest timeout Node's timers accept (2^31 − 1 ms); larger values would fire after 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Shared defaults taken from the configuration defaults of §7. */
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
