/**
 * The client's offline outbox: frames sent while there is no connection to
 * write them to (reconnecting, or a token session not yet welcomed), bounded
 * by `sendBufferSize` messages and `sendBufferBytes` bytes, refused under
 * `offlineSend: "reject"`, and written, in order, to the next connection
 * that may take them.
 * @packageDocumentation
 */
import { ConnectionError, ErrorCode, SocketError } from '@socketkit/protocol';
import type { ClientContext, ResolvedClientOptions } from './options.js';
import type { PendingRequests } from './pending-requests.js';
import type { Session } from './session.js';

interface OutboxEntry {
  frame: Buffer;
  /** The request it carries, if any (it is marked as written on the connection that takes it). */
  requestId: string | undefined;
}

/** The outbox's bounds and policy (see the client's options). */
export type OutboxOptions = Pick<ResolvedClientOptions, 'offlineSend' | 'sendBufferSize' | 'sendBufferBytes'>;

/** The frames waiting for a connection (see the file comment). */
export class Outbox {
  readonly #o: OutboxOptions;
  readonly #ctx: ClientContext;
  #entries: OutboxEntry[] = [];
  #bytes = 0;

  constructor(ctx: ClientContext) {
    this.#ctx = ctx;
    this.#o = ctx.options;
  }

  /** Frames waiting. */
  get length(): number {
    return this.#entries.length;
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Throws unless `frame` may wait here: `offlineSend: "reject"` refuses it
   * while reconnecting (never while a token session is being welcomed,
   * which is not offline), and the bounds refuse what does not fit.
   * @throws ConnectionError `NOT_CONNECTED`; SocketError `BUFFER_FULL`.
   */
  check(frame: Buffer, authenticating: boolean): void {
    if (this.#o.offlineSend === 'reject' && !authenticating) {
      throw new ConnectionError(
        ErrorCode.NOT_CONNECTED,
        `client for "${this.#ctx.eventName}" is reconnecting to ${this.#ctx.transport.address()}: ` +
          `retry after the 'connected' event (offlineSend is "reject")`,
      );
    }
    if (this.#entries.length >= this.#o.sendBufferSize || this.#bytes + frame.length > this.#o.sendBufferBytes) {
      throw new SocketError(
        ErrorCode.BUFFER_FULL,
        `send buffer full (${this.#entries.length} messages, ${this.#bytes} bytes; ` +
          `sendBufferSize ${this.#o.sendBufferSize}, sendBufferBytes ${this.#o.sendBufferBytes}) ` +
          `while reconnecting to "${this.#ctx.eventName}": await client.drain() or raise the bounds`,
      );
    }
  }

  /** Keeps `frame` (checked with {@link check}) for the next connection. */
  push(frame: Buffer, requestId: string | undefined): void {
    this.#entries.push({ frame, requestId });
    this.#bytes += frame.length;
  }

  /**
   * Writes every waiting frame, in order, to `session` (sends made while
   * reconnecting or authenticating); its requests are marked as written on it.
   */
  flush(session: Session, requests: PendingRequests): void {
    const entries = this.#entries;
    this.#entries = [];
    this.#bytes = 0;
    for (const e of entries) {
      session.conn.write(e.frame);
      if (e.requestId !== undefined) requests.sentOn(e.requestId, session.id);
    }
  }

  /** Drops everything (the client closed: its requests were failed). */
  clear(): void {
    this.#entries = [];
    this.#bytes = 0;
  }
}

/**
 * The bound of an open connection: throws when `frame` would take the bytes
 * waiting to be written past `maxPendingBytes`.
 * @throws SocketError `BUFFER_FULL`.
 */
export function checkPendingBytes(pending: number, frame: Buffer, maxPendingBytes: number, eventName: string): void {
  if (pending + frame.length <= maxPendingBytes) return;
  throw new SocketError(
    ErrorCode.BUFFER_FULL,
    `${pending} bytes already wait to be written to "${eventName}" ` +
      `(maxPendingBytes ${maxPendingBytes}): await client.drain() before sending more`,
    { details: { pending, maxPendingBytes } },
  );
}
