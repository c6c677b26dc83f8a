/**
 * Inbound delivery of a client: the `schema` check of each DATA message,
 * the 'message' listeners, and the receive buffer (an {@link Inbox} bounded
 * in messages and bytes) behind `receive()` and `for await`, with its
 * back-pressure (a full buffer pauses reading) and, while listeners exist,
 * its drops ('bufferOverflow'); and the count of invalid messages skipped.
 * @packageDocumentation
 */
import type { EventEmitter } from 'node:events';
import { decodePayload } from '@socketkit/codec';
import {
  ErrorCode,
  MessageType,
  ValidationError,
  type MessageData,
  type MessageError,
  type SocketMessage,
} from '@socketkit/protocol';
import { LogLimiter } from '../ops/log-limiter.js';
import { validateData, type StandardSchemaV1 } from '../wire/schema.js';
import { callApp, rethrowLater } from './events.js';
import { Inbox } from './inbox.js';
import type { ClientContext } from './options.js';

/** A 'message' listener as stored by EventEmitter. */
type MessageListener = (this: unknown, message: SocketMessage<unknown>) => unknown;

/** What a {@link Delivery} needs from its client. */
export interface DeliveryHost extends ClientContext {
  /** The client: its 'message' and 'bufferOverflow' listeners. */
  readonly emitter: EventEmitter;
  /** The `schema` option. */
  readonly schema: StandardSchemaV1 | undefined;
  /** Stops reading (the buffer is full). */
  pause(): void;
  /** Reads again (the buffer has room). */
  resume(): void;
}

/** A client's inbound delivery (see the file comment). */
export class Delivery<T> {
  /** The receive buffer. */
  readonly inbox: Inbox<SocketMessage<T>>;
  readonly #h: DeliveryHost;
  /** The 'message' listeners, copied once after each change (see {@link deliver}). */
  #listeners: MessageListener[] | undefined;
  /** Whether 'bufferOverflow' has listeners, looked up once after each change (see {@link deliver}). */
  #overflowListened: boolean | undefined;
  #dropped = 0;
  #invalid = 0;
  /** Rate-limited warnings for what the server can cause many of (invalid messages). */
  readonly #warnings: LogLimiter;

  constructor(host: DeliveryHost) {
    this.#h = host;
    this.#warnings = new LogLimiter(host.log);
    const o = host.options;
    this.inbox = new Inbox<SocketMessage<T>>({
      maxItems: o.bufferSize,
      maxBytes: o.maxBufferedBytes,
      // The bytes are a view into the inbox's segment, reused by later messages: a bin in data must be a copy.
      // A buffered message was checked when it arrived; its fresh decode gets the schema's output again.
      decode: (bytes) => this.#typed(decodePayload(bytes, true)),
      onFull: () => {
        host.pause();
        host.log.debug(`receive buffer full (${this.inbox.size} messages, ${this.inbox.bytes} bytes): pausing reads`);
      },
      onRoom: () => host.resume(),
    });
    this.watch();
  }

  /** Buffered copies dropped because the buffer was full while 'message' listeners existed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Invalid messages from the server skipped so far (see {@link invalid}). */
  get invalidCount(): number {
    return this.#invalid;
  }

  /** A skipped invalid message: counted, and reported as an `error` event (or a rate-limited warning). */
  invalid(err: MessageError): void {
    this.#invalid++;
    const e = this.#h.emitter;
    if (e.listenerCount('error') > 0) callApp(() => e.emit('error', err));
    else
      this.#warnings.warn(err.code, `server "${this.#h.eventName}" at ${this.#h.transport.address()}: ${err.message}`);
  }

  /** The client closed: the rate-limited warnings stop. */
  close(): void {
    this.#warnings.close();
  }

  // A listener added while reading is paused must not wait for a reader that may never come.
  readonly #onNewListener = (event: string | symbol): void => {
    if (event === 'bufferOverflow') this.#overflowListened = undefined;
    if (event !== 'message') return;
    this.#listeners = undefined;
    if (this.inbox.full) this.inbox.release();
  };

  readonly #onRemoveListener = (event: string | symbol): void => {
    if (event === 'message') this.#listeners = undefined;
    else if (event === 'bufferOverflow') this.#overflowListened = undefined;
  };

  /**
   * Watches the client's own listeners (the listener caches and a paused read
   * depend on them); idempotent, and called again after the client's
   * `removeAllListeners()`, which forgets the caches.
   */
  watch(): void {
    const e = this.#h.emitter;
    this.#listeners = undefined;
    this.#overflowListened = undefined;
    if (!e.rawListeners('newListener').includes(this.#onNewListener)) e.on('newListener', this.#onNewListener);
    if (!e.rawListeners('removeListener').includes(this.#onRemoveListener))
      e.on('removeListener', this.#onRemoveListener);
  }

  /**
   * Delivers an application message: checked by the `schema` (its output
   * becomes `data`), then to every listener and the buffer.
   * @returns the schema's refusal (the message was skipped), else undefined.
   */
  accept(m: SocketMessage, payload: Uint8Array): MessageError | undefined {
    const schema = this.#h.schema;
    if (schema !== undefined && m.messageType === MessageType.DATA) {
      const checked = validateData(schema, m.data, this.#h.eventName);
      if (checked.error !== undefined) return checked.error;
      m.data = checked.value as MessageData;
    }
    this.#deliver(m as SocketMessage<T>, payload);
    return undefined;
  }

  /**
   * The next buffered message (undefined once the buffer ended).
   * @throws ValidationError `INVALID_CONFIG` with `bufferMessages: false`.
   */
  next(timeoutMs: number): Promise<SocketMessage<T> | undefined> {
    if (!this.#h.options.bufferMessages) {
      return Promise.reject(
        new ValidationError(
          ErrorCode.INVALID_CONFIG,
          'receive() and for await need the receive buffer, and this client has bufferMessages: false: ' +
            "use a 'message' listener, or remove that option",
        ),
      );
    }
    return this.inbox.next(timeoutMs, () => `no message on "${this.#h.eventName}" within ${timeoutMs} ms`);
  }

  /** A buffered message read again from its bytes: the schema's output again (it passed when it arrived). */
  #typed(m: SocketMessage): SocketMessage<T> {
    const schema = this.#h.schema;
    if (schema !== undefined && m.messageType === MessageType.DATA) {
      const checked = validateData(schema, m.data, this.#h.eventName);
      if (checked.error === undefined) m.data = checked.value as MessageData;
    }
    return m as SocketMessage<T>;
  }

  /**
   * Every listener sees the message (its exceptions are its own), and it is
   * buffered for receive() unless the app opted out. A full buffer pauses
   * reading, except when listeners exist: they see every message, so the
   * oldest buffered copy is dropped (counted, 'bufferOverflow') rather than
   * stalling them. The buffer takes its copy of the bytes before listeners
   * run: a bin in `m.data` is a view of `payload`, and a listener that
   * writes into it must not change what receive() returns.
   */
  #deliver(m: SocketMessage<T>, payload: Uint8Array): void {
    const h = this.#h;
    // The listener array is copied once per change, not once per message.
    const listeners = (this.#listeners ??= h.emitter.rawListeners('message') as MessageListener[]);
    // A message a listener sees may be changed by it: a waiting receive() gets its own decode.
    const dropped = h.options.bufferMessages
      ? this.inbox.offer(listeners.length > 0 ? undefined : m, payload, listeners.length > 0)
      : 0;
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as MessageListener).call(h.emitter, m);
      } catch (err) {
        rethrowLater(err);
      }
    }
    if (dropped > 0) {
      if (this.#dropped === 0)
        h.log.warn(
          `receive buffer full (bufferSize ${h.options.bufferSize}, ` +
            `maxBufferedBytes ${h.options.maxBufferedBytes}) and nothing reads it: dropping the oldest ` +
            "buffered copies ('message' listeners saw them); " +
            'set bufferMessages: false if only listeners consume messages',
        );
      this.#dropped += dropped;
      // Only when listened to (a closure and an emit per dropped copy weigh on a busy listener client),
      // and looked up once per change of its listeners, not once per message.
      if ((this.#overflowListened ??= h.emitter.listenerCount('bufferOverflow') > 0))
        callApp(() => h.emitter.emit('bufferOverflow', this.#dropped));
    }
  }
}
