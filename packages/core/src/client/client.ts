import { EventEmitter } from 'node:events';
import { encodeFrame } from '@socketkit/codec';
import {
  ConnectionError,
  ErrorCode,
  MessageError,
  MessageType,
  type SocketError,
  TimeoutError,
  createMessage,
  isSocketMessage,
  validateEventName,
  type MessageData,
  type SocketMessage,
} from '@socketkit/protocol';
import { MAX_TIMEOUT_MS, checkOptions } from '@socketkit/config';
import {
  CLIENT_ENGINE_RULES,
  checkTimeout,
  checkWaitForServer,
  resolveClientOptions,
  type ClientContext,
  type ConnectOptions,
  type ResolvedClientOptions,
  type SocketClientOptions,
} from './options.js';
import { CONFIG_DEFAULTS } from '../settings.js';
import { Delivery } from './delivery.js';
import { createLogger, type SocketLogger } from '../ops/logger.js';
import { PendingRequests, checkedReply, replyTimeout, requestsUnsupported } from './pending-requests.js';
import type { Payload } from '../wire/schema.js';
import type { ClientTransport, TransportStream } from '../transport.js';
import { emitError } from '../wire/frames.js';
import { asSocketError, closedWhileConnecting, dialUntilServer, lostError, Outage, scheduleRedial } from './dial.js';
import { callApp, whenAny, type ClientStateName, type RequestOptions, type SocketClientEvents } from './events.js';
import { Outbox } from './outbox.js';
import {
  endReason,
  openSession,
  requestsUnanswered,
  sendLimit,
  sendRoute,
  writableSession,
  type ClientState,
  type Reconnecting,
} from './state.js';
import { Answers, SILENT_SERVER_GRACE_MS } from './waiters.js';
import { Session, type SessionConfig, type SessionHost, type WelcomeInfo } from './session.js';

export type { SocketClientOptions, ConnectOptions, OfflineSendPolicy } from './options.js';
export type { WelcomeInfo } from './session.js';
export type { ClientStateName, RequestOptions, SocketClientEvents } from './events.js';
export { SILENT_SERVER_GRACE_MS } from './waiters.js';

let requestCounter = 0;
let clientCounter = 0;

/**
 * The transport-agnostic client engine: connect with timeout, receive with
 * timeout or `for await`, auto-reconnect with backoff and jitter, a receive
 * buffer bounded in messages and bytes that applies back-pressure, bounded
 * outbound bytes with `drain()`, request/reply.
 *
 * @typeParam T The type of `data` of the messages it receives (`message`
 *   listeners, `for await`, `receive()`). Inferred from the `schema` option,
 *   which checks it at run time; given without a schema it is an unchecked
 *   promise about what the server sends. Default: any map.
 */
export class SocketClient<T extends Payload<T> = MessageData>
  extends EventEmitter<SocketClientEvents<T>>
  implements AsyncIterable<SocketMessage<T>>
{
  /** Event name this client is connected to. */
  readonly eventName: string;
  /** The logger in use. */
  readonly log: SocketLogger;
  readonly #transport: ClientTransport;
  readonly #o: ResolvedClientOptions;
  #state: ClientState = { name: 'idle' };
  #welcome: WelcomeInfo | undefined;
  /** Who waits for the welcome, or for any answer to hello (a connect()). */
  readonly #answers = new Answers<WelcomeInfo>(this);
  /** The reconnect rule: the one "lost" / one "back" warning per outage, pacing, giving up. */
  readonly #outage: Outage;
  /** What its parts (session, dial, outbox, delivery) know of it. */
  readonly #ctx: ClientContext;
  /** The schema check, the 'message' listeners and the receive buffer. */
  readonly #delivery: Delivery<T>;
  readonly #requests = new PendingRequests();
  /** Sends made while no connection may take them (reconnecting, or before a token welcome). */
  readonly #outbox: Outbox;
  readonly #idPrefix = `${process.pid.toString(36)}${Date.now().toString(36)}${(++clientCounter).toString(36)}-`;
  /** What each session is told (see client/session.ts). */
  readonly #sessionConfig: SessionConfig;
  /** What each session reports to (see client/session.ts). */
  readonly #host: SessionHost = {
    message: (session, m, payload) => this.#onMessage(session, m, payload),
    answered: (session, info) => this.#onAnswered(session, info),
    refused: (err) => this.#toClosed(err, true, true),
    // A skipped invalid message: counted, and reported as an `error` event (or a rate-limited warning).
    invalid: (session, err) => {
      if (this.#session() === session && session.closeError === undefined) this.#delivery.invalid(err);
    },
    report: (err) => emitError(this, this.log, err),
    closed: (session, err) => this.#onSessionClosed(session, err),
  };

  constructor(options: SocketClientOptions<T>) {
    super();
    checkOptions(options, CLIENT_ENGINE_RULES, 'SocketClient');
    this.eventName = validateEventName(options.eventName);
    this.#transport = options.transport;
    this.#o = resolveClientOptions(options);
    this.log =
      options.logger ??
      createLogger(`socketkit:client:${this.eventName}`, options.logLevel ?? CONFIG_DEFAULTS.logLevel);
    const ctx: ClientContext = {
      eventName: this.eventName,
      transport: this.#transport,
      log: this.log,
      options: this.#o,
    };
    this.#ctx = ctx;
    this.#outage = new Outage(ctx);
    this.#outbox = new Outbox(ctx);
    this.#sessionConfig = {
      ...ctx,
      replyPrefix: this.#idPrefix,
      closeTimeout: Math.min(this.#o.closeTimeout, MAX_TIMEOUT_MS),
    };
    this.#delivery = new Delivery<T>({
      ...ctx,
      emitter: this as unknown as EventEmitter,
      schema: options.schema,
      pause: () => this.#session()?.pause(),
      resume: () => this.#session()?.resume(),
    });
  }

  /**
   * As EventEmitter's `removeAllListeners`; the client keeps watching its own listeners afterwards (else a
   * `removeAllListeners()` with no argument took its watchers too, and later listeners were never seen by its caches).
   */
  override removeAllListeners(...args: Parameters<EventEmitter<SocketClientEvents<T>>['removeAllListeners']>): this {
    super.removeAllListeners(...args);
    this.#delivery.watch();
    return this;
  }

  /** The server address (socket path, `host:port`). */
  get address(): string {
    return this.#transport.address();
  }

  /** The current state (see the diagram on the class's state type). */
  get state(): ClientStateName {
    return this.#state.name;
  }

  /** The server's `welcome` on the current (or last) connection, once received. */
  get welcome(): WelcomeInfo | undefined {
    return this.#welcome;
  }

  /** Messages waiting in the receive buffer. */
  get bufferedMessages(): number {
    return this.#delivery.inbox.size;
  }

  /** Buffered copies dropped because the buffer was full while 'message' listeners existed (see 'bufferOverflow'). */
  get droppedMessages(): number {
    return this.#delivery.dropped;
  }

  /**
   * Invalid messages from the server skipped so far (well framed, not a valid message; PROTOCOL.md "Fatal and
   * skipped frames"): each is also reported as an `error` event with code `INVALID_MESSAGE`.
   */
  get invalidMessages(): number {
    return this.#delivery.invalidCount;
  }

  /** Bytes (frame payloads) waiting in the receive buffer. */
  get bufferedBytes(): number {
    return this.#delivery.inbox.bytes;
  }

  /** Outbound bytes not yet taken by the OS: the open connection's, plus those buffered while disconnected. */
  get bufferedAmount(): number {
    return (this.#session()?.conn.pendingBytes ?? 0) + this.#outbox.bytes;
  }

  /** True while a connection is open. */
  isConnected(): boolean {
    return this.#state.name === 'open';
  }

  /**
   * Connects. Resolves once the stream is open and, with the handshake (the default), once the server answered
   * hello (see `waitForWelcome`): a server that refuses this client rejects it. Fails fast when the server is not
   * there, unless `waitForServer` is given.
   * @throws ConnectionError (`SOCKET_NOT_FOUND`, `SERVER_NOT_RUNNING`, `PERMISSION_DENIED`, `CONNECT_IN_PROGRESS`,
   *   `UNAUTHORIZED`, ...), TimeoutError, MaxConnectionsError (`MAX_CONNECTIONS`: the server is full; final).
   */
  async connect(options: ConnectOptions = {}): Promise<void> {
    const timeout = checkTimeout('timeout', options.timeout ?? this.#o.connectTimeout);
    const waitForServer = checkWaitForServer(options.waitForServer, timeout);
    const s = this.#state;
    if (s.name === 'open') {
      if (options.waitForWelcome) await this.waitForWelcome(timeout);
      return;
    }
    if (s.name === 'connecting' || s.name === 'reconnecting') {
      throw new ConnectionError(
        ErrorCode.CONNECT_IN_PROGRESS,
        `client for "${this.eventName}" is already connecting to ${this.address}: ` +
          "await the first connect() or the 'connected' event",
      );
    }
    const abort = new AbortController();
    this.#state = { name: 'connecting', abort };
    this.#delivery.inbox.reopen();
    let stream: TransportStream;
    try {
      stream = await dialUntilServer(this.#ctx, timeout, waitForServer, this.#o.reconnect, abort, (attempt, delay) =>
        callApp(() => this.emit('reconnecting', attempt, delay)),
      );
    } catch (err) {
      if (this.#state.name === 'connecting' && this.#state.abort === abort)
        this.#toClosed(asSocketError(err), false, false);
      throw err;
    }
    const session = this.#toOpen(stream, 0);
    // With the handshake, connect() waits for the server's answer to hello,
    // so a refusal (MAX_CONNECTIONS, UNAUTHORIZED) rejects it.
    const wait = options.waitForWelcome ?? (this.#o.handshake ? 'answer' : false);
    if (wait === false) return;
    session.awaitingWelcome = true;
    try {
      if (wait === true) await this.waitForWelcome(timeout);
      else await this.#waitForAnswer(session, timeout, session.authenticates ? undefined : SILENT_SERVER_GRACE_MS);
    } catch (err) {
      // A connect() that rejects leaves nothing behind (no connection, no reconnect loop).
      if (err instanceof TimeoutError) this.#toClosed(err, false, true);
      throw err;
    } finally {
      session.awaitingWelcome = false;
    }
  }

  /**
   * Resolves once the server answered `hello` on `session` or a later
   * session (welcome, or a first frame that shows it does not speak the
   * handshake), or, with `silentGraceMs` (no token), once the server stayed
   * silent that long: a server without the handshake (the Python module)
   * never answers, and the client may send and receive without a welcome
   * (a welcome that comes later is still taken). Rejects with a refusal, the
   * reason the client closed, or a TimeoutError.
   */
  #waitForAnswer(session: Session, timeoutMs: number, silentGraceMs?: number): Promise<void> {
    const s = this.#state;
    if (s.name === 'closed') return Promise.reject(s.reason);
    if (session.handshake !== 'pending' && this.#session() === session) return Promise.resolve();
    return this.#answers.answer(timeoutMs, silentGraceMs, () => {
      session.silent = true;
    });
  }

  /**
   * Resolves with the server's `welcome`, or rejects with the error the server
   * refused this client with (e.g. MaxConnectionsError), the reason the client
   * closed, or a TimeoutError.
   */
  waitForWelcome(timeoutMs: number = this.#o.defaultTimeout): Promise<WelcomeInfo> {
    checkTimeout('timeout', timeoutMs);
    const s = this.#state;
    if (s.name === 'open' && s.session.handshake === 'done' && this.#welcome !== undefined)
      return Promise.resolve(this.#welcome);
    if (s.name === 'closed') return Promise.reject(s.reason);
    return this.#answers.welcome(timeoutMs);
  }

  /**
   * Disconnects: flushes what was already sent, half-closes, stops
   * reconnecting. Pending `receive()` calls resolve as closed (iterators
   * end); pending requests reject with `CLOSED`. Idempotent.
   */
  async disconnect(): Promise<void> {
    const conn = this.#session()?.conn;
    this.#toClosed(
      new ConnectionError(ErrorCode.CLOSED, `client for "${this.eventName}" was disconnected by the application`),
      false,
      true,
    );
    if (conn !== undefined) await conn.end(this.#sessionConfig.closeTimeout);
  }

  /**
   * Sends `data` (always wrapped in a DATA message, whatever its keys) to the
   * server. While reconnecting, buffers up to `sendBufferSize` messages and
   * `sendBufferBytes` bytes (or rejects, per `offlineSend`).
   * Resolves true when the frame went to an open connection whose buffer is
   * below its high-water mark; false means "await drain() before more".
   * @throws MessageError `SEND_NOT_ALLOWED` (server said so in welcome),
   *   `FRAME_TOO_LARGE`; ConnectionError `NOT_CONNECTED`; SocketError
   *   `BUFFER_FULL` (past `maxPendingBytes` or the offline bounds).
   */
  async send(data: MessageData): Promise<boolean> {
    return this.#sendFrame(this.#encode(data, undefined), undefined);
  }

  /**
   * Sends a ready {@link SocketMessage} as it is (same bounds and result as
   * `send`); `send(data)` never takes one for data.
   */
  async sendMessage(message: SocketMessage): Promise<boolean> {
    if (!isSocketMessage(message))
      throw new MessageError(
        ErrorCode.INVALID_MESSAGE,
        'sendMessage() takes a SocketMessage (build one with createMessage()); use send(data) for plain data',
      );
    return this.#sendFrame(encodeFrame(message, sendLimit(this.#welcome, this.#o.maxMessageSize)), undefined);
  }

  /**
   * Resolves once the outbound buffer is below its low-water mark (at once
   * if it is, or when the client is not connecting at all); while
   * reconnecting (or before the welcome of a token session), after the next
   * connection took the offline buffer.
   */
  async drain(): Promise<void> {
    for (;;) {
      const s = this.#state;
      if (s.name === 'open' && !s.session.authPending) {
        if (!s.session.conn.closing) await s.session.conn.waitForDrain();
        return;
      }
      if (s.name !== 'open' && s.name !== 'connecting' && s.name !== 'reconnecting') return;
      await whenAny(this, ['connected', 'welcome', 'disconnected', 'close']);
    }
  }

  /**
   * Sends a request (a DATA message with an `id`) and resolves with the reply (the message whose `reply_to` is
   * that id).
   * @throws TimeoutError when no reply arrives within `timeout` ms (`Infinity`: none); ConnectionError
   *   `CONNECTION_LOST` at once when the connection it was written on drops; RemoteError `REMOTE_ERROR` when the
   *   server's handler failed (`remoteCode`, `remoteMessage`); `NO_HANDLER` at once from a server without a handler;
   *   `REQUESTS_UNSUPPORTED` at once when the server never welcomed this client (it does not speak the handshake,
   *   e.g. the Python module); a library ERROR reply as its typed error; MessageError `INVALID_MESSAGE` when
   *   `options.schema` refuses the reply.
   * @typeParam TReq The type of the request's data (an object: it travels as a map).
   * @typeParam TRes The type of the reply's data: inferred from `options.schema` (checked at run time), else an
   *   unchecked promise. The client's `schema` does not apply to replies.
   */
  request<TReq extends object = MessageData, TRes = MessageData>(
    data: TReq,
    options: RequestOptions<TRes> = {},
  ): Promise<SocketMessage<TRes>> {
    let timeout: number;
    let frame: Buffer;
    const id = `${this.#idPrefix}${++requestCounter}`;
    try {
      timeout = checkTimeout('timeout', options.timeout ?? this.#o.defaultTimeout);
      this.#requests.checkRoom(this.#o.maxPendingRequests);
      frame = this.#encode(data as MessageData, id);
      this.#route(frame);
    } catch (err) {
      return Promise.reject(err);
    }
    if (requestsUnanswered(this.#state)) return Promise.reject(requestsUnsupported(this.eventName, this.address));
    const session = writableSession(this.#state)?.id;
    const reply = this.#requests.add(id, timeout, session, () => replyTimeout(this.eventName, id, timeout));
    this.#sendFrame(frame, id);
    return checkedReply(reply, options.schema, this.eventName);
  }

  /**
   * Resolves with the next message. Rejects with TimeoutError after
   * `timeout` ms (default `defaultTimeoutMs`; `Infinity`: none), or with the
   * connection's fatal error; rejects with ConnectionError `CLOSED` once disconnected.
   * @throws ValidationError `INVALID_CONFIG` with `bufferMessages: false`.
   * @typeParam R The type of `data` (default the client's `T`); a type
   *   argument here is an unchecked cast, the `schema` option checks.
   */
  async receive<R = T>(options: { timeout?: number } = {}): Promise<SocketMessage<R>> {
    const m = await this.#delivery.next(checkTimeout('timeout', options.timeout ?? this.#o.defaultTimeout));
    if (m === undefined) throw endReason(this.#state, this.eventName);
    return m as SocketMessage<unknown> as SocketMessage<R>;
  }

  /** Iterates messages until the client is disconnected (or fails fatally, which throws). */
  async *[Symbol.asyncIterator](): AsyncIterator<SocketMessage<T>> {
    for (;;) {
      const m = await this.#delivery.next(Number.POSITIVE_INFINITY);
      if (m === undefined) return;
      yield m;
    }
  }

  // ---- transitions ----

  /** connecting | reconnecting → open. */
  #toOpen(stream: TransportStream, attempt: number, tries = 0): Session {
    const session = new Session(stream, this.#sessionConfig, this.#host, attempt, tries);
    this.#state = { name: 'open', session };
    this.#welcome = undefined;
    session.hello();
    // With a token, sends wait until the server proved itself and welcomed us.
    if (!session.authenticates) this.#outbox.flush(session, this.#requests);
    if (this.#delivery.inbox.full) session.pause();
    this.log.debug(`connected to ${this.address}`);
    callApp(() => this.emit('connected'));
    return session;
  }

  /** open → reconnecting (lost), or reconnecting → reconnecting (a dial failed). */
  #toReconnecting(attempt: number, tries: number): void {
    const gaveUp = this.#outage.gaveUp(tries);
    if (gaveUp !== undefined) {
      this.#toClosed(gaveUp, true, true);
      return;
    }
    const state: Reconnecting = { name: 'reconnecting', attempt, tries, timer: undefined, abort: undefined };
    this.#state = state;
    const delay = scheduleRedial(this.#ctx, state, {
      current: () => this.#state === state,
      opened: (stream) => {
        const session = this.#toOpen(stream, attempt, tries);
        this.log.debug(`reconnected to ${this.address} after ${attempt} attempt(s)`);
        // Without the handshake the open stream is all there is to wait for.
        if (session.handshake === 'none') this.#outage.recovered(session.tries);
      },
      failed: () => this.#toReconnecting(attempt + 1, tries + 1),
    });
    callApp(() => this.emit('reconnecting', attempt, delay));
  }

  /**
   * Any state → closed(reason). A fatal reason (refused by the server, gave
   * up reconnecting) is emitted as 'error' and rejects waiters and
   * iterators; a clean one (disconnect(), server closed with autoReconnect
   * off) ends iterators and makes receive() reject with `reason`.
   */
  #toClosed(reason: SocketError, fatal: boolean, emitClose: boolean): void {
    const s = this.#state;
    const wasActive = s.name === 'connecting' || s.name === 'open' || s.name === 'reconnecting';
    if (s.name === 'closed') return;
    this.#state = { name: 'closed', reason, fatal };
    if (s.name === 'connecting') s.abort.abort(closedWhileConnecting(this.#ctx, reason));
    if (s.name === 'reconnecting') {
      clearTimeout(s.timer);
      s.abort?.abort(reason);
    }
    if (s.name === 'open') {
      s.session.close(undefined);
      callApp(() => this.emit('disconnected', reason.message));
    }
    this.#answers.fail(reason);
    this.#outage.clear();
    this.#requests.failAll(reason);
    this.#outbox.clear();
    this.#delivery.inbox.end(fatal ? reason : undefined);
    this.#delivery.close();
    void this.#transport
      .close?.()
      .catch((err: unknown) => this.log.debug(`closing the transport failed: ${(err as Error).message}`));
    if (fatal && wasActive) emitError(this, this.log, reason);
    if (wasActive && emitClose) callApp(() => this.emit('close'));
  }

  /** A reply, a library ERROR or an application message from `session` (see {@link SessionHost.message}). */
  #onMessage(session: Session, m: SocketMessage, payload: Uint8Array): void {
    if (this.#session() !== session) return;
    if (m.replyTo?.startsWith(this.#idPrefix)) {
      // A reply to one of this client's requests; one that comes after its
      // request timed out (or failed) is dropped, never delivered as a message.
      session.delivered = true;
      if (!this.#requests.reply(m, this.eventName, this.address))
        this.log.debug(`dropped a late reply to ${m.replyTo}`);
      return;
    }
    session.delivered = true;
    const refused = this.#delivery.accept(m, payload);
    if (refused !== undefined) this.#delivery.invalid(refused);
  }

  /**
   * The server answered hello on `session`: its welcome, or (undefined) a
   * first frame that shows it does not speak the handshake, nor answers
   * requests (the Python module drops `id`): those in flight fail now, not at their timeout.
   */
  #onAnswered(session: Session, info: WelcomeInfo | undefined): void {
    if (info === undefined) this.#requests.failSession(session.id, requestsUnsupported(this.eventName, this.address));
    else {
      this.#welcome = info;
      if (session.authenticates) this.#outbox.flush(session, this.#requests);
    }
    this.#answers.answered(info);
    this.#outage.recovered(this.#session()?.tries ?? 0);
    if (info !== undefined) callApp(() => this.emit('welcome', info));
  }

  #onSessionClosed(session: Session, err: Error | undefined): void {
    if (this.#session() !== session) return;
    const reason = session.closeReason(err);
    this.log.debug(`disconnected from ${this.address}: ${reason}`);
    this.#requests.failSession(session.id, lostError(this.#ctx, reason, 'before the reply came: retry the request'));
    if (!this.#o.autoReconnect) {
      const lost = lostError(this.#ctx, reason, 'and autoReconnect is off: connect() again');
      this.#toClosed(lost, err !== undefined, true);
      return;
    }
    callApp(() => this.emit('disconnected', reason));
    const next = this.#outage.lost(session, reason);
    const notice = next.notice;
    if (notice !== undefined && this.listenerCount('error') > 0) callApp(() => this.emit('error', notice));
    this.#toReconnecting(next.attempt, next.tries);
  }

  /** The frame of a DATA message (a request's with `id`), within the send limit. */
  #encode(data: MessageData, id: string | undefined): Buffer {
    const options = id === undefined ? { timezone: this.#o.timezone } : { timezone: this.#o.timezone, id };
    return encodeFrame(
      createMessage(this.eventName, MessageType.DATA, data, options),
      sendLimit(this.#welcome, this.#o.maxMessageSize),
    );
  }

  /** Where a send goes now (see sendRoute in state.ts). */
  #route(frame: Buffer): Session | undefined {
    return sendRoute(this.#state, frame, this.#welcome, this.#ctx, this.#outbox);
  }

  #sendFrame(frame: Buffer, requestId: string | undefined): boolean {
    const session = this.#route(frame);
    if (session !== undefined) {
      session.conn.write(frame);
      return !session.conn.needsDrain;
    }
    this.#outbox.push(frame, requestId);
    return false;
  }

  #session(): Session | undefined {
    return openSession(this.#state);
  }
}
