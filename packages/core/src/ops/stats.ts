/**
 * Server statistics: counters and gauges only, so counting costs a few
 * additions per message and never allocates. Rates are derived from the
 * totals sampled once a second into a small ring (the last
 * {@link RATE_WINDOW_SECONDS} seconds), not from per-message timestamps.
 */

/** Seconds over which `stats().rates` are averaged. */
export const RATE_WINDOW_SECONDS = 5;

/** Per-peer traffic counters (owned by the server's peer object). */
export class PeerCounters {
  /** Application messages received from the peer. */
  messagesIn = 0;
  /** Bytes received from the peer (frame headers included). */
  bytesIn = 0;
  /** Frames written to the peer. */
  messagesOut = 0;
  /** Bytes written to the peer (frame headers included). */
  bytesOut = 0;
  /** Messages dropped for this peer by the slow-consumer policy. */
  dropped = 0;
}

/** Whole-server totals. */
export class ServerCounters {
  /** Application messages received from all peers. */
  messagesIn = 0;
  /** Bytes received from all peers. */
  bytesIn = 0;
  /** Frames written to all peers (a broadcast to N peers counts N). */
  messagesOut = 0;
  /** Bytes written to all peers. */
  bytesOut = 0;
  /** Peers disconnected (or messages dropped) by the slow-consumer policy. */
  slowConsumerDisconnects = 0;
  /** Invalid messages (well framed, not a valid message) skipped, from all peers. */
  invalidMessages = 0;
  /** Refused connections by error code (e.g. `MAX_CONNECTIONS`, `UNAUTHORIZED`). */
  readonly refused: Record<string, number> = Object.create(null) as Record<string, number>;

  /** Counts one refused connection. */
  refuse(code: string): void {
    this.refused[code] = (this.refused[code] ?? 0) + 1;
  }
}

/** One client in {@link ServerStats}. */
export interface ClientStats {
  /** Client id. */
  id: string;
  /** Epoch ms of the connection. */
  connectedAt: number;
  /** Whether the client did the handshake (`hello`). */
  handshake: boolean;
  /** Bytes written to the client that the transport has not yet taken. */
  pendingBytes: number;
  /** Messages received from the client. */
  messagesIn: number;
  /** Frames written to the client. */
  messagesOut: number;
  /** Bytes received from the client. */
  bytesIn: number;
  /** Bytes written to the client. */
  bytesOut: number;
  /** Messages dropped for the client by the slow-consumer policy. */
  dropped: number;
}

/** Per-second rates averaged over the last {@link RATE_WINDOW_SECONDS} seconds. */
export interface ServerRates {
  /** Messages received per second. */
  messagesIn: number;
  /** Frames written per second. */
  messagesOut: number;
  /** Bytes received per second. */
  bytesIn: number;
  /** Bytes written per second. */
  bytesOut: number;
}

/** What `server.stats()` returns. All times are milliseconds. */
export interface ServerStats {
  /** Event name of the server. */
  event: string;
  /** Protocol version the server speaks. */
  protocol: number;
  /** Epoch ms when the server started (0 when not running). */
  startedAt: number;
  /** Milliseconds since start. */
  uptimeMs: number;
  /** Connected (registered) clients. */
  clients: ClientStats[];
  /** Most clients at once. */
  maxConnections: number;
  /** The no-client queue. */
  queue: { length: number; capacity: number; dropped: number };
  /** Totals since start. */
  totals: {
    messagesIn: number;
    messagesOut: number;
    bytesIn: number;
    bytesOut: number;
    slowConsumerDisconnects: number;
    /** Invalid messages skipped (each also reported; a peer past `maxInvalidPerSecond` is disconnected). */
    invalidMessages: number;
  };
  /** Refused connections by error code since start. */
  refused: Record<string, number>;
  /** Rates over the last few seconds. */
  rates: ServerRates;
}

interface Sample {
  at: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Turns a {@link ServerCounters} into rates without a timer: every
 * `rates()` call records the totals (at most one sample a second, at most
 * {@link RATE_WINDOW_SECONDS} + 1 kept) and averages from the oldest sample
 * of the window, or from `start()` when nothing older exists. A monitor that
 * polls every second (`socketkit top`) thus sees rates over the last few
 * seconds; a single call sees the average since start.
 */
export class RateSampler {
  readonly #counters: ServerCounters;
  readonly #now: () => number;
  readonly #ring: Sample[] = [];

  constructor(counters: ServerCounters, now: () => number = Date.now) {
    this.#counters = counters;
    this.#now = now;
  }

  /** Starts a new window (the server calls it on start). */
  start(): void {
    this.#ring.length = 0;
    this.sample();
  }

  /** Forgets every sample (the server calls it on stop). */
  stop(): void {
    this.#ring.length = 0;
  }

  /** Records the totals now. */
  sample(): void {
    const c = this.#counters;
    this.#ring.push({
      at: this.#now(),
      messagesIn: c.messagesIn,
      messagesOut: c.messagesOut,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
    });
    if (this.#ring.length > RATE_WINDOW_SECONDS + 1) this.#ring.shift();
  }

  /** Rates between the oldest sample of the window and the counters now. */
  rates(): ServerRates {
    const now = this.#now();
    const last = this.#ring[this.#ring.length - 1];
    if (last !== undefined && now - last.at >= 1000) this.sample();
    while (this.#ring.length > 1 && now - (this.#ring[1] as Sample).at >= RATE_WINDOW_SECONDS * 1000)
      this.#ring.shift();
    const first = this.#ring[0];
    const c = this.#counters;
    const seconds = first === undefined ? 0 : (now - first.at) / 1000;
    if (first === undefined || seconds <= 0) return { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
    const rate = (value: number, base: number) => Math.round((value - base) / seconds);
    return {
      messagesIn: rate(c.messagesIn, first.messagesIn),
      messagesOut: rate(c.messagesOut, first.messagesOut),
      bytesIn: rate(c.bytesIn, first.bytesIn),
      bytesOut: rate(c.bytesOut, first.bytesOut),
    };
  }
}
