/**
 * One connection of a `SocketClient`: the framed connection, its
 * heartbeat, the handshake (hello, the token challenge–response, the
 * welcome's checks; see wire/handshake.ts) and the answers to the server's
 * pings. It reports to the client through {@link SessionHost}; what the
 * client decides (requests, refusals, reconnects, delivery) stays there.
 * @packageDocumentation
 */
import {
  ConnectionError,
  CONTROL_OPS,
  ErrorCode,
  SocketError,
  errorFromCode,
  isReservedControl,
  type MessageError,
  type SocketMessage,
} from '@socketkit/protocol';
import type { AuthRefusal } from '../wire/auth.js';
import { FramedConnection } from '../wire/connection.js';
import { controlFrame, isLibraryError, libraryErrorOf } from '../wire/frames.js';
import { ClientHandshake, type ClientHandshakeState } from '../wire/handshake.js';
import { Heartbeat } from '../wire/heartbeat.js';
import type { TransportStream } from '../transport.js';
import type { ClientContext } from './options.js';

/** The server's `welcome`. */
export interface WelcomeInfo {
  clientId: string;
  allowClientSend: boolean;
  maxMessageSize: number;
}

/**
 * Most frames outside the token handshake a client drops before the welcome;
 * past it the connection is dropped (and redialled).
 */
export const MAX_FRAMES_BEFORE_WELCOME = 1024;

/**
 * How the client takes a library ERROR from its server. `final`: a refusal
 * that does not get better (a wrong token, event or protocol), or
 * `MAX_CONNECTIONS` when a connect({waitForWelcome}) asked to know now or
 * autoReconnect is off: the client closes with it. `retry`: a briefly full
 * server (`MAX_CONNECTIONS`) or one evicting while too many connections wait
 * to be admitted (`ADMISSION_FULL`, never final with autoReconnect, even for
 * connect({waitForWelcome}), which keeps waiting across the retries): the
 * connection is dropped and redialled with a backoff that grows (a refused
 * session does not reset it). `report`: anything else, reported as an
 * 'error' event.
 */
export function serverErrorRule(
  code: string,
  awaitingWelcome: boolean,
  autoReconnect: boolean,
): 'final' | 'retry' | 'report' {
  switch (code) {
    case ErrorCode.UNAUTHORIZED:
    case ErrorCode.WRONG_EVENT:
    case ErrorCode.PROTOCOL_MISMATCH:
      return 'final';
    case ErrorCode.MAX_CONNECTIONS:
      return awaitingWelcome || !autoReconnect ? 'final' : 'retry';
    case ErrorCode.ADMISSION_FULL:
      return autoReconnect ? 'retry' : 'final';
    default:
      return 'report';
  }
}

/** What a {@link Session} tells its client. */
export interface SessionHost {
  /**
   * A frame for the client: a reply (its `replyTo` has the client's prefix)
   * or an application message (pings, library ERRORs and the handshake's
   * frames never come here). `payload` is a view into the read buffer.
   */
  message(session: Session, m: SocketMessage, payload: Uint8Array): void;
  /** The server answered hello: its welcome (checked), or undefined when its first frame shows it has no handshake. */
  answered(session: Session, welcome: WelcomeInfo | undefined): void;
  /**
   * The server refused this client for good (it failed a check of the
   * handshake, or sent a final library ERROR: see {@link serverErrorRule}): the client closes with `error`.
   */
  refused(error: SocketError): void;
  /** A skipped invalid message (well framed, not a valid message). */
  invalid(session: Session, error: MessageError): void;
  /**
   * A problem to report (an 'error' event, or a warning): a bad frame (the
   * session is closing), a server that is full or busy admitting (closing,
   * to be redialled), or any other library ERROR from the server.
   */
  report(error: SocketError): void;
  /** The connection closed (for any reason; see {@link Session.closeError}). */
  closed(session: Session, error: Error | undefined): void;
}

/** How a session is set up: the client's context, and two things of its own. */
export interface SessionConfig extends ClientContext {
  /** Replies to the client's requests carry `replyTo` with this prefix: never part of the handshake. */
  readonly replyPrefix: string;
  /** ms a graceful close waits for the server to close its side. */
  readonly closeTimeout: number;
}

let sessionCounter = 0;

/**
 * One open connection and what the client learnt on it. Its counters and
 * flags (`delivered`, `refused`, `awaitingWelcome`, `silent`) are the
 * client's bookkeeping about this connection, read when it is lost.
 */
export class Session {
  /** Increasing number; requests remember the session they were written on. */
  readonly id = ++sessionCounter;
  readonly conn: FramedConnection;
  readonly openedAt = Date.now();
  /** Reconnect attempt that opened it (0 for connect()): paces the backoff. */
  readonly attempt: number;
  /**
   * Attempts since the server last answered (0 for connect()): bounded by
   * `reconnect.maxRetries`. Unlike `attempt` it starts over whenever the
   * server answers again, so a server restarted many times in a row never
   * exhausts the bound, while an unstable one is still re-dialled ever more slowly.
   */
  readonly tries: number;
  /** An application message (or reply) arrived: the connection was useful. */
  delivered = false;
  /** A connect({waitForWelcome}) is waiting on this session: a refusal is final. */
  awaitingWelcome = false;
  /** Why the client is closing it (protocol error, refusal), if it is. */
  closeError: Error | undefined;
  /** The server refused this client (`MAX_CONNECTIONS`, `ADMISSION_FULL`). */
  refused = false;
  /** connect() stopped waiting for an answer to hello (SILENT_SERVER_GRACE_MS): requests fail until welcomed. */
  silent = false;
  readonly #heartbeat: Heartbeat;
  /** Undefined with `handshake: false`. */
  readonly #handshake: ClientHandshake | undefined;
  readonly #host: SessionHost;
  readonly #c: SessionConfig;
  /** Frames that are not part of the token handshake, dropped before the welcome. */
  #droppedBeforeWelcome = 0;

  constructor(stream: TransportStream, config: SessionConfig, host: SessionHost, attempt: number, tries: number) {
    const o = config.options;
    this.#c = config;
    this.#host = host;
    this.attempt = attempt;
    this.tries = tries;
    stream.setNoDelay?.(true);
    this.conn = new FramedConnection(stream, o.maxMessageSize, {
      onMessage: (m, _bytes, payload) => this.#onMessage(m, payload),
      onProtocolError: (err) => this.#onProtocolError(err),
      onInvalidMessage: (err) => host.invalid(this, err),
      onClose: (err) => {
        this.#heartbeat.stop();
        host.closed(this, err);
      },
      // Any bytes from the server count as life (one hook per read, no second 'data' listener).
      afterChunk: () => this.#heartbeat.seen(),
    });
    this.#heartbeat = new Heartbeat({
      intervalMs: o.heartbeatInterval,
      timeoutMs: o.heartbeatTimeout,
      ping: () => this.#write({ op: CONTROL_OPS.PING }),
      dead: (silent) => {
        config.log.warn(`server "${config.eventName}" silent for ${silent} ms: dropping the connection (heartbeat)`);
        const err = new ConnectionError(
          ErrorCode.CONNECTION_LOST,
          `heartbeat timeout: no traffic from the server for ${o.heartbeatTimeout} ms`,
        );
        this.closeError ??= err;
        void this.conn.destroy(err);
      },
    });
    this.#handshake = o.handshake
      ? new ClientHandshake(config.eventName, { token: o.token, role: o.role === 'sender' ? 'sender' : undefined })
      : undefined;
  }

  /**
   * `none`: handshake off. `pending`: hello sent, nothing received yet.
   * `done`: the first frame was `welcome`. `foreign`: the first frame was
   * something else: this server does not speak the handshake, its reserved
   * ops are application data and it is never pinged. (`refused`: the client is closing.)
   */
  get handshake(): 'none' | ClientHandshakeState {
    return this.#handshake?.state ?? 'none';
  }

  /** True when this connection authenticates with a token (sends wait for the welcome). */
  get authenticates(): boolean {
    return this.#handshake?.authenticates === true;
  }

  /** True while a token client has not been welcomed (its sends wait in the outbox). */
  get authPending(): boolean {
    return this.#handshake?.authenticates === true && this.#handshake.state === 'pending';
  }

  /** Sends the hello (with the handshake; a send-only client says `role: "sender"`). */
  hello(): void {
    if (this.#handshake !== undefined) this.#write(this.#handshake.hello());
  }

  /** Stops reading (the receive buffer is full). */
  pause(): void {
    if (this.closeError === undefined) this.conn.pause();
  }

  /** Reads again. */
  resume(): void {
    this.conn.resume();
  }

  /**
   * Graceful close, as the server does it: half-close, keep reading and
   * discard until the peer closes or `closeTimeout` passes (a peer still
   * writing, like the Python module, is never left blocked on a reset), then destroy.
   */
  close(err: Error | undefined): void {
    if (this.closeError === undefined)
      this.closeError = err ?? new ConnectionError(ErrorCode.CLOSED, 'closed by the client');
    this.#heartbeat.stop();
    this.conn.stream.resume();
    void this.conn.end(this.#c.closeTimeout);
  }

  /** Why it closed, in words: the client's reason to close it, else the stream's `error`, else "connection closed". */
  closeReason(error: Error | undefined): string {
    const cause = this.closeError ?? error;
    if (cause === undefined) return 'connection closed';
    if (cause instanceof SocketError) return cause.message;
    return `connection error: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`;
  }

  #write(data: SocketMessage['data']): void {
    this.conn.write(controlFrame(this.#c.eventName, data, this.#c.options.timezone));
  }

  #onMessage(m: SocketMessage, payload: Uint8Array): void {
    if (this.closeError !== undefined) return;
    const hs = this.#handshake;
    const pending = hs?.state === 'pending';
    const libraryError = isLibraryError(m);
    // Before the welcome of a token session, all but library errors belong to the handshake.
    if (pending && hs.authenticates && !libraryError) {
      this.#onHandshakeFrame(m);
      return;
    }
    if (m.replyTo?.startsWith(this.#c.replyPrefix)) {
      this.#host.message(this, m, payload);
      return;
    }
    if (libraryError) {
      this.#onLibraryError(libraryErrorOf(m, this.#c.eventName));
      return;
    }
    if (pending && this.#onHandshakeFrame(m)) return;
    if (hs?.state === 'done' && isReservedControl(m)) {
      if (m.data.op === CONTROL_OPS.PING) this.#write({ op: CONTROL_OPS.PONG });
      return;
    }
    this.#host.message(this, m, payload);
  }

  /**
   * A frame before the welcome: the server's auth_challenge (verify its
   * proof, then prove ourselves), the welcome, or (token) a frame outside the
   * handshake, dropped (at most {@link MAX_FRAMES_BEFORE_WELCOME}).
   * @returns false for the first frame of a server without the handshake (it is application data).
   */
  #onHandshakeFrame(m: SocketMessage): boolean {
    const step = (this.#handshake as ClientHandshake).onFrame(m);
    switch (step.kind) {
      case 'proof':
        // The server proved the token: a transport that authenticates frames (NATS) keys itself now.
        if (step.sessionKey !== undefined) this.conn.stream.authenticated?.(step.sessionKey);
        this.#write(step.send);
        return true;
      case 'welcome':
        this.#heartbeat.start();
        this.#host.answered(this, {
          clientId: String(m.data.client_id),
          allowClientSend: m.data.allow_client_send !== false,
          maxMessageSize:
            typeof m.data.max_message_size === 'number' ? m.data.max_message_size : this.#c.options.maxMessageSize,
        });
        return true;
      case 'refused':
        this.#refuse(step.refusal);
        return true;
      case 'foreign':
        this.#host.answered(this, undefined);
        return false;
      case 'ignored':
        this.#dropBeforeWelcome(m);
        return true;
    }
  }

  /** A peer that sends nothing but frames outside the token handshake is dropped after a bound (and redialled). */
  #dropBeforeWelcome(m: SocketMessage): void {
    const event = this.#c.eventName;
    if (++this.#droppedBeforeWelcome <= MAX_FRAMES_BEFORE_WELCOME) {
      this.#c.log.debug(`dropped a ${m.messageType} frame that arrived before the welcome of a token session`);
      return;
    }
    this.#c.log.warn(
      `server "${event}" sent ${MAX_FRAMES_BEFORE_WELCOME} frames that are not part of the token handshake: ` +
        'dropping the connection',
    );
    this.close(
      new ConnectionError(
        ErrorCode.CONNECTION_LOST,
        `the server of "${event}" sent more than ${MAX_FRAMES_BEFORE_WELCOME} frames before the token handshake ` +
          'completed: is it a socketkit server with the same token?',
      ),
    );
  }

  #onProtocolError(err: MessageError): void {
    this.#c.log.warn(`server sent a bad frame (${err.code}): ${err.message}`);
    this.#host.report(err);
    this.close(err);
  }

  /** Refuses the server: a final, typed error; no reconnect. */
  #refuse(refusal: AuthRefusal): void {
    const err = errorFromCode(refusal.code, refusal.reason, {
      details: { eventName: this.#c.eventName, address: this.#c.transport.address() },
    });
    // Reported once: the error event, or the log when nobody listens (emitError), and connect() rejects with it.
    this.#c.log.debug(err.message);
    this.#host.refused(err);
  }

  /** A library ERROR from the server: final, retried, or reported (see {@link serverErrorRule}). */
  #onLibraryError(err: SocketError): void {
    const rule = serverErrorRule(err.code, this.awaitingWelcome, this.#c.options.autoReconnect);
    if (rule === 'final') {
      this.#host.refused(err);
      return;
    }
    if (rule === 'retry') {
      this.refused = true;
      const why = err.code === ErrorCode.ADMISSION_FULL ? 'is busy admitting connections' : 'is full';
      this.#c.log.info(`server "${this.#c.eventName}" ${why} (${err.message}): retrying with backoff`);
      this.#host.report(err);
      this.close(err);
      return;
    }
    this.#host.report(err);
  }
}
