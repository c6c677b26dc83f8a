import { DEFAULT_CONFIG } from '@socketkit/config';

/** Default hard bound on bytes queued for one client before the slow-consumer policy applies (8 MiB). */
export const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Default time a graceful close may take before the stream is destroyed (ms). */
export const DEFAULT_CLOSE_TIMEOUT = 2000;
/** Default heartbeat interval (ms); 0 = off, as the design requires. */
export const DEFAULT_HEARTBEAT_INTERVAL = 0;
/** Heartbeat misses tolerated before a silent peer is declared dead. */
export const DEFAULT_HEARTBEAT_MISSES = 2;
/** Default bound on messages buffered by a client while disconnected. */
export const DEFAULT_SEND_BUFFER_SIZE = 1000;
/** Default bound on requests in flight per client. */
export const DEFAULT_MAX_PENDING_REQUESTS = 10000;

/** Shared defaults taken from the configuration defaults of §7. */
export const CONFIG_DEFAULTS = DEFAULT_CONFIG;
