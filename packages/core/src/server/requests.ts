import {
  ErrorCode,
  MessageType,
  isPlainObject,
  type MessageData,
  type SocketError,
  type SocketMessage,
} from '@socketkit/protocol';
import { validateData, type StandardSchemaV1 } from '../wire/schema.js';
import type { RequestHandler, ServerSettings } from './options.js';
import type { ServerPeer } from './peer.js';

/** What {@link Requests} is given by its server. */
export interface RequestsContext<TIn> {
  readonly eventName: string;
  readonly settings: ServerSettings;
  /** Checks the data of every DATA message from a client (the `schema` option). */
  readonly schema: StandardSchemaV1 | undefined;
  /** Emits `message` (a listener that throws is the caller's concern here: it is rethrown apart). */
  emitMessage(message: SocketMessage<TIn>, clientId: string): void;
  /** A client's message was skipped (schema): reported like any invalid message. */
  peerError(peer: ServerPeer, error: SocketError): void;
}

/**
 * Messages from clients: `allowClientSend`, the schema check, the request
 * handler (its result or failure sent back as the reply), the `message`
 * event, and `NO_HANDLER` for a request nobody answered.
 */
export class Requests<TIn, TOut> {
  readonly #c: RequestsContext<TIn>;
  /** The request handler (the `handler` option, or `onRequest()`). */
  handler: RequestHandler<TIn, TOut> | undefined;
  /** A request without a handler, while its 'message' listeners run: answered by reply() or not (then NO_HANDLER). */
  #answering: { request: SocketMessage; answered: boolean } | undefined;

  constructor(context: RequestsContext<TIn>, handler: RequestHandler<TIn, TOut> | undefined) {
    this.#c = context;
    this.handler = handler;
  }

  /** `server.reply()` was called for `request` (a `message` listener may answer a request with no handler). */
  replied(request: SocketMessage<TIn>): void {
    if (this.#answering?.request === request) this.#answering.answered = true;
  }

  /** An application message from a registered client. */
  onMessage(peer: ServerPeer, m: SocketMessage): void {
    if (!this.#c.settings.allowClientSend) {
      peer.sendError(
        ErrorCode.SEND_NOT_ALLOWED,
        `server "${this.#c.eventName}" does not accept messages from clients (allowClientSend is false)`,
        m.id,
      );
      return;
    }
    if (this.#c.schema !== undefined && m.messageType === MessageType.DATA) {
      const checked = validateData(this.#c.schema, m.data, this.#c.eventName);
      if (checked.error !== undefined) {
        // Skipped like any invalid message; a request is told at once instead of waiting out its timeout.
        this.#c.peerError(peer, checked.error);
        if (m.id !== undefined) peer.sendError(ErrorCode.INVALID_MESSAGE, checked.error.message, m.id);
        return;
      }
      m.data = checked.value as MessageData;
    }
    const typed = m as SocketMessage<unknown> as SocketMessage<TIn>;
    if (m.id !== undefined && this.handler !== undefined) this.#handle(peer, typed, this.handler);
    // A request with no handler: a 'message' listener may still answer it now
    // with reply(); if none did, the client learns at once (NO_HANDLER)
    // instead of waiting out its timeout.
    const unhandled = m.id !== undefined && this.handler === undefined;
    if (unhandled) this.#answering = { request: m, answered: false };
    try {
      this.#c.emitMessage(typed, peer.id);
    } catch (err) {
      // The application's listener threw: its error, rethrown as EventEmitter
      // users expect, never blamed on the peer (whose connection stays up).
      process.nextTick(() => {
        throw err;
      });
    }
    if (unhandled) {
      const answered = this.#answering?.answered === true;
      this.#answering = undefined;
      if (!answered && peer.open)
        peer.sendError(
          ErrorCode.NO_HANDLER,
          `server "${this.#c.eventName}" has no request handler: ` +
            'pass handler in its options or call server.onRequest() ' +
            '(a handler may return undefined and answer later with server.reply())',
          m.id,
        );
    }
  }

  #handle(peer: ServerPeer, typed: SocketMessage<TIn>, handler: RequestHandler<TIn, TOut>): void {
    const m = typed as SocketMessage<unknown> as SocketMessage;
    const respond = (result: unknown): void => {
      if (result === undefined || !peer.open) return;
      try {
        peer.reply(m, isPlainObject(result) ? result : { value: result });
      } catch (err) {
        peer.replyError(m, err);
      }
    };
    const fail = (err: unknown): void => peer.replyError(m, err);
    try {
      const out: unknown = handler(typed.data, { message: typed, clientId: peer.id });
      if (out !== null && typeof out === 'object' && typeof (out as PromiseLike<unknown>).then === 'function')
        Promise.resolve(out).then(respond, fail).catch(fail);
      else respond(out);
    } catch (err) {
      fail(err);
    }
  }
}
