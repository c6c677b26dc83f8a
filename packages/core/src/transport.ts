import type { Duplex } from 'node:stream';

/**
 * A byte stream between two peers. `node:net` sockets satisfy it; so can any
 * Duplex (e.g. an in-memory pair in tests).
 */
export type TransportStream = Duplex & {
  /** Present on `net.Socket`; called with `true` (TCP_NODELAY) when available. */
  setNoDelay?: (noDelay?: boolean) => unknown;
  /**
   * Optional, token sessions only: the engine calls it once the peer proved
   * it knows the token (the server after a valid `auth_proof`, before it
   * writes `welcome`; the client after a valid `auth_challenge`, before it
   * writes `auth_proof`) with the session key both sides derived from the
   * token and both nonces (see `deriveSessionKey`). A transport whose
   * subjects other publishers can reach (NATS) uses it to authenticate every
   * frame written after the call and to accept only authenticated frames.
   */
  authenticated?: (sessionKey: Buffer) => void;
};

/** Settings the engine hands to {@link ServerTransport.listen}. */
export interface ListenSettings {
  /** Listen backlog (pending connections the kernel holds before accept), for socket transports. */
  backlog?: number;
  /**
   * Called with every error of the listening socket after `listen` resolved
   * (a failed accept: `ENOBUFS`, `EMFILE` when libuv's reserve descriptor is
   * gone, ...). The transport keeps listening; the engine reports it as
   * `ACCEPT_FAILED`. A transport must always listen for these errors (an
   * unhandled `'error'` on a `net.Server` crashes the process).
   */
  onError?: (err: Error) => void;
  /**
   * For a transport that runs a handshake of its own before it hands a
   * stream over (TLS): call it for every accepted connection, before its
   * handshake. The engine counts the connection under its pre-admission
   * bound (`maxUnauthenticated`, with the peers waiting to say hello or
   * authenticate; the oldest silent one is evicted when it is full) and may
   * call `pending.destroy()` at any time until the returned function is called.
   * @returns The function to call once the handshake ended (the stream was
   *   handed to `onConnection`, or the socket closed; calling it twice is
   *   harmless), or `undefined` when the engine refused the connection at once
   *   (it has called `destroy()`).
   */
  admitHandshake?: (pending: PendingHandshake) => (() => void) | undefined;
  /** Longest such a transport handshake may take (ms): the engine's `authTimeout`. */
  handshakeTimeoutMs?: number;
}

/**
 * A connection in a transport's own handshake (TLS), as the engine sees it (see {@link ListenSettings.admitHandshake}).
 */
export interface PendingHandshake {
  /** The peer's address, e.g. `127.0.0.1:53012`, when the transport knows it. */
  readonly address: string | undefined;
  /** Closes the connection at once (eviction). */
  destroy(): void;
}

/**
 * The server half of a transport: everything that is specific to how
 * connections arrive (a Unix socket file, a TCP port). The core engine drives
 * it and never imports `node:net` for protocol work.
 */
export interface ServerTransport {
  /** Transport name, e.g. `unix` or `tcp`. */
  readonly kind: string;
  /**
   * Start accepting. Calls `onConnection` for every new stream. Streams
   * should allow half-open (`allowHalfOpen: true`) so the engine can still
   * answer a peer that closed its side mid-frame. Resolves once
   * accepting; rejects with a typed error (`ADDRESS_IN_USE`, ...).
   */
  listen(onConnection: (stream: TransportStream) => void, options?: ListenSettings): Promise<void>;
  /** Stop accepting and release the address (socket file, port). Idempotent. */
  close(): Promise<void>;
  /**
   * Optional: deliver one frame to every connected peer at once (a broker's
   * fan-out, e.g. one NATS publish). When present the engine calls it for
   * broadcasts instead of writing to each stream.
   */
  broadcast?(frame: Uint8Array): void;
  /** Human-readable address, e.g. a socket path or `127.0.0.1:9000`. */
  address(): string;
  /**
   * Optional: the largest frame payload the transport can carry, known once
   * listening (NATS: the broker's `max_payload` − 4). The engine lowers its
   * effective `maxMessageSize` to it and announces that in `welcome`.
   */
  maxPayload?(): number | undefined;
}

/** The client half of a transport. */
export interface ClientTransport {
  /** Transport name, e.g. `unix` or `tcp`. */
  readonly kind: string;
  /**
   * Open one stream to the server. Rejects with a typed `ConnectionError`
   * (`SOCKET_NOT_FOUND`, `SERVER_NOT_RUNNING`, `PERMISSION_DENIED`, ...).
   * Must honour `signal` (the caller's connect timeout, or disconnect()):
   * reject with `signal.reason` as soon as it aborts, and leave nothing open
   * for an aborted attempt (no fixed timeout of its own; the signal is the
   * timeout). The engine also destroys a stream that arrives after an abort.
   */
  connect(signal: AbortSignal): Promise<TransportStream>;
  /** Human-readable address of the server. */
  address(): string;
  /** Optional: release shared resources (e.g. a broker connection) when the client is done. */
  close?(): Promise<void>;
}
