/**
 * The client's one state, and what it says without changing it: the open
 * session, where a send goes, why `receive()` ended. The transitions (the
 * `#to*` methods) are the client's (client.ts):
 *
 *   idle ─connect()─▶ connecting ─stream─▶ open ─lost─▶ reconnecting ◀─┐
 *                       │ fails             ▲              │   │ dial   │
 *                       │                   └───stream─────┘   └─fails──┘
 *                       ▼                                     (backoff)
 *                 closed(reason) ◀── any state: disconnect(), a final refusal,
 *                       │            lost with autoReconnect off, gave up
 *                       └─connect()─▶ connecting
 * @packageDocumentation
 */
import { ConnectionError, ErrorCode, MessageError, type SocketError } from '@socketkit/protocol';
import { checkPendingBytes, type Outbox } from './outbox.js';
import type { ClientContext } from './options.js';
import type { Session, WelcomeInfo } from './session.js';

/** The client's state (see the diagram in the file comment). */
export type ClientState =
  | { readonly name: 'idle' }
  | { readonly name: 'connecting'; readonly abort: AbortController }
  | { readonly name: 'open'; readonly session: Session }
  | Reconnecting
  | { readonly name: 'closed'; readonly reason: SocketError; readonly fatal: boolean };

/** Waiting for the next dial (`timer`), or dialling (`abort`). */
export interface Reconnecting {
  readonly name: 'reconnecting';
  /** Paces the backoff. */
  readonly attempt: number;
  /** Counts towards `reconnect.maxRetries`. */
  readonly tries: number;
  timer: NodeJS.Timeout | undefined;
  abort: AbortController | undefined;
}

/** The open session, if any. */
export function openSession(s: ClientState): Session | undefined {
  return s.name === 'open' ? s.session : undefined;
}

/** The open session if a frame may be written to it now (not closing, not waiting for a token welcome). */
export function writableSession(s: ClientState): Session | undefined {
  return s.name === 'open' && !s.session.conn.closing && !s.session.authPending ? s.session : undefined;
}

/**
 * Where a send goes now: the open connection (returned; bounded by
 * `maxPendingBytes`), or the outbox (undefined; while reconnecting, or
 * before a token welcome). Throws when it may go nowhere.
 * @throws the reason of a fatal close; MessageError `SEND_NOT_ALLOWED`;
 *   SocketError `BUFFER_FULL`; ConnectionError `NOT_CONNECTED`.
 */
export function sendRoute(
  s: ClientState,
  frame: Buffer,
  welcome: WelcomeInfo | undefined,
  ctx: ClientContext,
  outbox: Outbox,
): Session | undefined {
  const { eventName } = ctx;
  if (s.name === 'closed' && s.fatal) throw s.reason;
  if (welcome !== undefined && !welcome.allowClientSend && s.name === 'open') {
    throw new MessageError(
      ErrorCode.SEND_NOT_ALLOWED,
      `server "${eventName}" does not accept messages from clients (allowClientSend is false): ` +
        'only receive on this client',
    );
  }
  const writable = writableSession(s);
  if (writable !== undefined) {
    checkPendingBytes(writable.conn.pendingBytes, frame, ctx.options.maxPendingBytes, eventName);
    return writable;
  }
  if (s.name === 'reconnecting' || (s.name === 'open' && (ctx.options.autoReconnect || s.session.authPending))) {
    outbox.check(frame, s.name === 'open' && s.session.authPending);
    return undefined;
  }
  throw new ConnectionError(
    ErrorCode.NOT_CONNECTED,
    `client for "${eventName}" is not connected: call connect() first`,
  );
}

/**
 * True when a request would fail at once with `REQUESTS_UNSUPPORTED`: the
 * open connection's server showed it has no handshake, or stayed silent
 * (connect() gave up waiting for its welcome).
 */
export function requestsUnanswered(s: ClientState): boolean {
  return (
    s.name === 'open' && (s.session.handshake === 'foreign' || (s.session.handshake === 'pending' && s.session.silent))
  );
}

/** Why `receive()` found no message: the reason the client closed, else `CLOSED`. */
export function endReason(s: ClientState, eventName: string): SocketError {
  return s.name === 'closed'
    ? s.reason
    : new ConnectionError(ErrorCode.CLOSED, `client for "${eventName}" is closed: connect() again to receive`);
}

/**
 * Largest payload `send()` may write: our own limit, lowered to the
 * server's when its welcome announced a smaller one (on NATS, the broker's
 * max_payload − 4), so an oversized frame fails at send() with
 * FRAME_TOO_LARGE instead of being refused (or dropped) on the way.
 */
export function sendLimit(welcome: WelcomeInfo | undefined, maxMessageSize: number): number {
  const announced = welcome?.maxMessageSize;
  return announced !== undefined && announced > 0 && announced < maxMessageSize ? announced : maxMessageSize;
}
