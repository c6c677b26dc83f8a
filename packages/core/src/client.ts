import { EventEmitter } from 'node:events';
import { encodeFrame } from '@socketkit/codec';
import {
  CONTROL_OPS,
  ConnectionError,
  ErrorCode,
  MessageError,
  MessageType,
  PROTOCOL_VERSION,
  SocketError,
  TimeoutError,
  createMessage,
  errorFromCode,
  isReservedControl,
  isSocketMessage,
  validateEventName,
  type MessageData,
  type SocketMessage,
} from '@socketkit/protocol';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { FramedConnection } from './connection.js';
import {
  CONFIG_DEFAULTS,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HEARTBEAT_INTERVAL,
  DEFAULT_HEARTBEAT_MISSES,
  DEFAULT_MAX_PENDING_REQUESTS,
  DEFAULT_SEND_BUFFER_SIZE,
} from './defaults.js';
import { createLogger, type SocketLogger } from './logger.js';
import type { ClientTransport } from './transport.js';
import { controlFrame, emitError, isLibraryError } from './wire.js';

/** What `send()` does while the client is disconnected (between reconnects). */
export type OfflineSendPolicy = 'buffer' | 'reject';

/** Options of {@link SocketClient}. Transport packages fill them from the configuration. */
export interface SocketClientOptions {
  /** Event name to connect to. */
  eventName: string;
  /** How to reach the server. */
  transport: ClientTransport;
  /** Connect timeout in ms (default `defaultTimeout` = 5000). */
  connectTimeout?: number;
  /** Default `receive()` / `request()` timeout in ms (default `defaultTimeout` = 5000). */
  defaultTimeout?: number;
  /** Reconnect after an unexpected disconnect (default true). */
  autoReconnect?: boolean;
  /** Backoff of reconnect attempts (100 ms ×2 up to 5 s, ±25 %, unlimited retries). */
  reconnect?: BackoffOptions;
  /** Receive buffer, in messages; when full the client stops reading the socket (default 4096). */
  bufferSize?: number;
  /** While disconnected: `buffer` sends (flushed first on reconnect) or `reject` them (default `buffer`). */
  offlineSend?: OfflineSendPolicy;
  /** Bound on messages buffered while disconnected (default 1000). */
  sendBufferSize?: number;
  /** Largest frame payload in bytes (default 1 MiB). */
  maxMessageSize?: number;
  /** Announce with `hello` (default true). Set false for servers that do not speak the handshake. */
  handshake?: boolean;
  /** Shared secret for servers that require one (sent in `hello`). */
  token?: string;
  /** Ping interval in ms (0 = off, default); a silent server is dropped after `heartbeatTimeout`. */
  heartbeatInterval?: number;
  /** Silence in ms after which the connection is considered dead (default 3 × interval). */
  heartbeatTimeout?: number;
  /** `disconnect()` flushes pending sends; it gives up after this long without progress (ms, default 2000). */
  closeTimeout?: number;
  /** Bound on requests in flight (default 10000). */
  maxPendingRequests?: number;
  /** IANA time zone of `timestamp_iso` (default UTC). */
  timezone?: string;
  /** Logger (default: tslog at `logLevel`). */
  logger?: SocketLogger;
  /** Level of the default logger (default `info`). */
  logLevel?: string;
}

/** Options of {@link SocketClient.connect}. */
export interface ConnectOptions {
  /** Overrides the connect timeout (ms). */
  timeout?: number;
  /**
   * Also wait for the server's `welcome` (or its refusal, e.g. `MAX_CONNECTIONS`).
   * Only for socketkit servers; a server without the handshake never answers.
   */
  waitForWelcome?: boolean;
}

/** The server's `welcome`. */
export interface WelcomeInfo {
  clientId: string;
  allowClientSend: boolean;
  maxMessageSize: number;
}

/** Events of {@link SocketClient}. */
export interface SocketClientEvents {
  connected: [];
  disconnected: [reason: string];
  reconnecting: [attempt: number, delayMs: number];
  welcome: [info: WelcomeInfo];
  message: [message: SocketMessage];
  error: [error: Error];
  close: [];
}

interface Waiter {
  resolve(m: SocketMessage | undefined): void;
  reject(e: Error): void;
}

interface PendingRequest {
  resolve(m: SocketMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

let requestCounter = 0;

/** Extra messages read past `bufferSize` while waiting for the server's welcome. */
const PRE_WELCOME_SLACK = 4096;

/**
 * The transport-agnostic client engine: connect with timeout, receive with
 * timeout or `for await`, auto-reconnect with backoff and jitter, a bounded
 * receive buffer that applies back-pressure, request/reply.
 */
export class SocketClient extends EventEmitter<SocketClientEvents> implements AsyncIterable<SocketMessage> {
  /** Event name this client is connected to. */
  readonly eventName: string;
  /** The logger in use. */
  readonly log: SocketLogger;
  readonly #transport: ClientTransport;
  readonly #o: {
    connectTimeout: number;
    defaultTimeout: number;
    autoReconnect: boolean;
    reconnect: Required<BackoffOptions>;
    bufferSize: number;
    offlineSend: OfflineSendPolicy;
    sendBufferSize: number;
    maxMessageSize: number;
    handshake: boolean;
    token: string | undefined;
    heartbeatInterval: number;
    heartbeatTimeout: number;
    maxPendingRequests: number;
    closeTimeout: number;
    timezone: string;
  };
  #conn: FramedConnection | undefined;
  #state: 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed' = 'idle';
  #userClosed = false;
  #fatal: SocketError | undefined;
  #endReason: SocketError | undefined;
  #welcome: WelcomeInfo | undefined;
  #welcomeWaiters: Waiter[] = [];
  readonly #inbox: SocketMessage[] = [];
  readonly #waiters: Waiter[] = [];
  #iterators = 0;
  readonly #outbox: Buffer[] = [];
  readonly #requests = new Map<string, PendingRequest>();
  #reconnectTimer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #lastSeen = 0;
  #paused = false;
  #reconnectAbort: AbortController | undefined;
  readonly #idPrefix = `${process.pid.toString(36)}${Date.now().toString(36)}`;

  constructor(options: SocketClientOptions) {
    super();
    this.eventName = validateEventName(options.eventName);
    this.#transport = options.transport;
    const defaultTimeout = options.defaultTimeout ?? CONFIG_DEFAULTS.defaultTimeoutMs;
    const interval = options.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL;
    this.#o = {
      connectTimeout: options.connectTimeout ?? defaultTimeout,
      defaultTimeout,
      autoReconnect: options.autoReconnect ?? true,
      reconnect: { ...DEFAULT_BACKOFF, ...options.reconnect },
      bufferSize: options.bufferSize ?? CONFIG_DEFAULTS.bufferSize,
      offlineSend: options.offlineSend ?? 'buffer',
      sendBufferSize: options.sendBufferSize ?? DEFAULT_SEND_BUFFER_SIZE,
      maxMessageSize: options.maxMessageSize ?? CONFIG_DEFAULTS.maxMessageSize,
      handshake: options.handshake ?? true,
      token: options.token,
      heartbeatInterval: interval,
      heartbeatTimeout: options.heartbeatTimeout ?? interval * (DEFAULT_HEARTBEAT_MISSES + 1),
      maxPendingRequests: options.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS,
      closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
      timezone: options.timezone ?? CONFIG_DEFAULTS.timezone,
    };
    this.log = options.logger ?? createLogger(`socketkit:client:${this.eventName}`, options.logLevel ?? CONFIG_DEFAULTS.logLevel);
  }

  /** The server address (socket path, `host:port`). */
  get address(): string {
    return this.#transport.address();
  }

  /** The server's `welcome`, once received. */
  get welcome(): WelcomeInfo | undefined {
    return this.#welcome;
  }

  /** Messages waiting in the receive buffer. */
  get bufferedMessages(): number {
    return this.#inbox.length;
  }

  /** True while a connection is open. */
  isConnected(): boolean {
    return this.#state === 'connected';
  }

  /**
   * Connects. Resolves once the stream is open (and, with `waitForWelcome`,
   * once the server welcomed this client).
   * @throws ConnectionError (`SOCKET_NOT_FOUND`, `SERVER_NOT_RUNNING`,
   *   `PERMISSION_DENIED`, ...), TimeoutError, MaxConnectionsError.
   */
  async connect(options: ConnectOptions = {}): Promise<void> {
    if (this.#state === 'connected') return;
    if (this.#state === 'connecting' || this.#state === 'reconnecting') {
      throw new SocketError(ErrorCode.NOT_CONNECTED, `client for "${this.eventName}" is already connecting: await the first connect() or the 'connected' event`);
    }
    this.#userClosed = false;
    this.#fatal = undefined;
    this.#endReason = undefined;
    this.#state = 'connecting';
    try {
      await this.#open(options.timeout ?? this.#o.connectTimeout);
    } catch (err) {
      this.#state = 'idle';
      throw err;
    }
    if (options.waitForWelcome) await this.waitForWelcome(options.timeout ?? this.#o.connectTimeout);
  }

  /**
   * Resolves with the server's `welcome`, or rejects with the error the server
   * refused this client with (e.g. MaxConnectionsError) or a TimeoutError.
   */
  waitForWelcome(timeoutMs: number = this.#o.defaultTimeout): Promise<WelcomeInfo> {
    if (this.#welcome !== undefined) return Promise.resolve(this.#welcome);
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    return this.#wait(this.#welcomeWaiters, timeoutMs, `no welcome from "${this.eventName}" at ${this.address} within ${timeoutMs} ms: is it a socketkit server? Use handshake: false for servers without the handshake`).then(
      () => this.#welcome as WelcomeInfo,
    );
  }

  /**
   * Disconnects: flushes what was already sent, closes, stops reconnecting.
   * Pending `receive()` calls resolve as closed (iterators end); pending
   * requests reject with `CLOSED`. Idempotent.
   */
  async disconnect(): Promise<void> {
    this.#userClosed = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectAbort?.abort();
    const conn = this.#conn;
    if (conn !== undefined) await conn.end(this.#o.closeTimeout);
    this.#finish(new ConnectionError(ErrorCode.CLOSED, `client for "${this.eventName}" was disconnected by the application`), false);
  }

  /**
   * Sends data (wrapped in a DATA message) or a ready message to the server.
   * While reconnecting, buffers up to `sendBufferSize` messages (or rejects,
   * per `offlineSend`).
   * @throws MessageError `SEND_NOT_ALLOWED` (server said so in welcome),
   *   `FRAME_TOO_LARGE`; ConnectionError `NOT_CONNECTED`; SocketError `BUFFER_FULL`.
   */
  async send(dataOrMessage: MessageData | SocketMessage): Promise<void> {
    const message = isSocketMessage(dataOrMessage)
      ? dataOrMessage
      : createMessage(this.eventName, MessageType.DATA, dataOrMessage, { timezone: this.#o.timezone });
    this.#sendFrame(encodeFrame(message, this.#o.maxMessageSize));
  }

  /**
   * Sends a request (a DATA message with an `id`) and resolves with the reply
   * (the message whose `reply_to` is that id).
   * @throws TimeoutError when no reply arrives within `timeout` ms; the
   *   server's ERROR reply as a typed error.
   */
  request(data: MessageData, options: { timeout?: number } = {}): Promise<SocketMessage> {
    const timeout = options.timeout ?? this.#o.defaultTimeout;
    if (this.#requests.size >= this.#o.maxPendingRequests) {
      return Promise.reject(new SocketError(ErrorCode.BUFFER_FULL, `${this.#requests.size} requests already in flight (maxPendingRequests): await some before sending more`));
    }
    const id = `${this.#idPrefix}-${++requestCounter}`;
    let frame: Buffer;
    try {
      frame = encodeFrame(createMessage(this.eventName, MessageType.DATA, data, { timezone: this.#o.timezone, id }), this.#o.maxMessageSize);
      this.#sendFrame(frame);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<SocketMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#requests.delete(id);
        reject(new TimeoutError(`no reply from "${this.eventName}" within ${timeout} ms (request ${id}): is a handler registered on the server? raise the timeout for slow handlers`, { details: { id, timeout } }));
      }, timeout);
      this.#requests.set(id, { resolve, reject, timer });
    });
  }

  /**
   * Resolves with the next message. Rejects with TimeoutError after
   * `timeout` ms (default `defaultTimeout`), or with the connection's fatal
   * error; rejects with ConnectionError `CLOSED` once disconnected.
   */
  async receive(options: { timeout?: number } = {}): Promise<SocketMessage> {
    const m = await this.#next(options.timeout ?? this.#o.defaultTimeout);
    if (m === undefined) {
      throw this.#fatal ?? this.#endReason ?? new ConnectionError(ErrorCode.CLOSED, `client for "${this.eventName}" is closed: connect() again to receive`);
    }
    return m;
  }

  /** Iterates messages until the client is disconnected (or fails fatally, which throws). */
  async *[Symbol.asyncIterator](): AsyncIterator<SocketMessage> {
    this.#iterators++;
    try {
      for (;;) {
        const m = await this.#next(Number.POSITIVE_INFINITY);
        if (m === undefined) {
          if (this.#fatal !== undefined) throw this.#fatal;
          return;
        }
        yield m;
      }
    } finally {
      this.#iterators--;
    }
  }

  // ---- internals ----

  #next(timeoutMs: number): Promise<SocketMessage | undefined> {
    const m = this.#inbox.shift();
    if (m !== undefined) {
      this.#maybeResume();
      return Promise.resolve(m);
    }
    if (this.#state === 'closed' || (this.#state === 'idle' && this.#endReason !== undefined)) return Promise.resolve(undefined);
    return this.#wait(this.#waiters, timeoutMs, `no message on "${this.eventName}" within ${timeoutMs} ms`);
  }

  #wait(list: Waiter[], timeoutMs: number, timeoutText: string): Promise<SocketMessage | undefined> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          const i = list.indexOf(waiter);
          if (i >= 0) list.splice(i, 1);
          reject(new TimeoutError(timeoutText, { details: { timeout: timeoutMs } }));
        }, timeoutMs);
      }
      list.push(waiter);
    });
  }

  #sendFrame(frame: Buffer): void {
    if (this.#fatal !== undefined) throw this.#fatal;
    if (this.#welcome !== undefined && !this.#welcome.allowClientSend) {
      throw new MessageError(ErrorCode.SEND_NOT_ALLOWED, `server "${this.eventName}" does not accept messages from clients (allowClientSend is false): only receive on this client`);
    }
    if (this.#state === 'connected' && this.#conn !== undefined && !this.#conn.closing) {
      this.#conn.write(frame);
      return;
    }
    if (this.#state === 'reconnecting' || (this.#state === 'connected' && this.#o.autoReconnect)) {
      if (this.#o.offlineSend === 'reject') {
        throw new ConnectionError(ErrorCode.NOT_CONNECTED, `client for "${this.eventName}" is reconnecting to ${this.address}: retry after the 'connected' event (offlineSend is "reject")`);
      }
      if (this.#outbox.length >= this.#o.sendBufferSize) {
        throw new SocketError(ErrorCode.BUFFER_FULL, `send buffer full (${this.#o.sendBufferSize} messages) while reconnecting to "${this.eventName}": wait for 'connected' or raise sendBufferSize`);
      }
      this.#outbox.push(frame);
      return;
    }
    throw new ConnectionError(ErrorCode.NOT_CONNECTED, `client for "${this.eventName}" is not connected: call connect() first`);
  }

  async #open(timeoutMs: number): Promise<void> {
    const ac = new AbortController();
    this.#reconnectAbort = ac;
    const timer = setTimeout(() => ac.abort(new TimeoutError(`connecting to "${this.eventName}" at ${this.address} timed out after ${timeoutMs} ms: is the server overloaded or the address wrong?`)), timeoutMs);
    let stream;
    try {
      stream = await this.#transport.connect(ac.signal);
    } catch (err) {
      if (ac.signal.aborted && ac.signal.reason instanceof SocketError) throw ac.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (this.#userClosed) {
      stream.destroy();
      throw new ConnectionError(ErrorCode.CLOSED, `client for "${this.eventName}" was disconnected while connecting`);
    }
    stream.setNoDelay?.(true);
    const conn = new FramedConnection(stream, this.#o.maxMessageSize, {
      onMessage: (m) => this.#onMessage(conn, m),
      onProtocolError: (err) => {
        this.log.warn(`server sent a bad frame (${err.code}): ${err.message}`);
        emitError(this, this.log, err);
        void conn.destroy(err);
      },
      onClose: (err) => this.#onClose(conn, err),
    });
    this.#conn = conn;
    this.#welcome = undefined;
    this.#state = 'connected';
    this.#lastSeen = Date.now();
    if (this.#o.handshake) {
      const hello: MessageData = { op: CONTROL_OPS.HELLO, protocol: PROTOCOL_VERSION };
      if (this.#o.token !== undefined) hello.token = this.#o.token;
      conn.write(controlFrame(this.eventName, hello, this.#o.timezone));
    }
    for (const f of this.#outbox.splice(0)) conn.write(f);
    if (this.#paused) conn.pause();
    this.#startHeartbeat();
    this.log.debug(`connected to ${this.address}`);
    this.emit('connected');
  }

  #onMessage(conn: FramedConnection, m: SocketMessage): void {
    if (conn !== this.#conn) return;
    this.#lastSeen = Date.now();
    if (isReservedControl(m)) {
      const op = m.data.op;
      if (op === CONTROL_OPS.WELCOME) {
        this.#welcome = {
          clientId: String(m.data.client_id),
          allowClientSend: m.data.allow_client_send !== false,
          maxMessageSize: Number(m.data.max_message_size ?? this.#o.maxMessageSize),
        };
        for (const w of this.#welcomeWaiters.splice(0)) w.resolve(undefined);
        this.emit('welcome', this.#welcome);
        if (this.#inbox.length >= this.#o.bufferSize && !this.#paused) {
          this.#paused = true;
          conn.pause();
        }
      } else if (op === CONTROL_OPS.PING) {
        conn.write(controlFrame(this.eventName, { op: CONTROL_OPS.PONG }, this.#o.timezone));
      }
      return;
    }
    if (m.replyTo !== undefined) {
      const pending = this.#requests.get(m.replyTo);
      if (pending !== undefined) {
        this.#requests.delete(m.replyTo);
        clearTimeout(pending.timer);
        if (m.messageType === MessageType.ERROR) pending.reject(this.#remoteError(m));
        else pending.resolve(m);
        return;
      }
    }
    if (isLibraryError(m)) {
      const err = this.#remoteError(m);
      const fatal = err.code === ErrorCode.MAX_CONNECTIONS || err.code === ErrorCode.UNAUTHORIZED;
      if (fatal) {
        // The server refused us: do not hammer it with reconnects; #finish reports it once the server closes.
        this.#fatal = err;
        this.#userClosed = true;
        for (const w of this.#welcomeWaiters.splice(0)) w.reject(err);
      } else {
        emitError(this, this.log, err);
      }
      return;
    }
    this.emit('message', m);
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve(m);
      return;
    }
    if (this.#iterators === 0 && this.listenerCount('message') > 0) return;
    this.#inbox.push(m);
    // Until the welcome arrives it may sit behind broadcasts already on the
    // wire, so reading goes on a little longer (PRE_WELCOME_SLACK) to reach it.
    const limit = this.#o.handshake && this.#welcome === undefined ? this.#o.bufferSize + PRE_WELCOME_SLACK : this.#o.bufferSize;
    if (this.#inbox.length >= limit && !this.#paused) {
      this.#paused = true;
      conn.pause();
      this.log.debug(`receive buffer full (${this.#o.bufferSize} messages): pausing reads`);
    }
  }

  #maybeResume(): void {
    if (this.#paused && this.#inbox.length <= this.#o.bufferSize / 2) {
      this.#paused = false;
      this.#conn?.resume();
    }
  }

  #remoteError(m: SocketMessage): SocketError {
    const code = typeof m.data.code === 'string' ? m.data.code : ErrorCode.REMOTE_ERROR;
    const text = typeof m.data.error === 'string' ? m.data.error : JSON.stringify(m.data);
    return errorFromCode(code, text, { details: { eventName: this.eventName, data: m.data } });
  }

  #onClose(conn: FramedConnection, err: Error | undefined): void {
    if (conn !== this.#conn) return;
    this.#conn = undefined;
    this.#stopHeartbeat();
    const reason = err === undefined ? 'connection closed' : err instanceof SocketError ? err.message : `connection error: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
    this.log.debug(`disconnected from ${this.address}: ${reason}`);
    this.emit('disconnected', reason);
    if (this.#userClosed) {
      this.#finish(this.#fatal ?? new ConnectionError(ErrorCode.CLOSED, `client for "${this.eventName}" was disconnected by the application`), this.#fatal !== undefined);
      return;
    }
    if (!this.#o.autoReconnect) {
      this.#finish(new ConnectionError(ErrorCode.CONNECTION_LOST, `lost the connection to "${this.eventName}" at ${this.address} (${reason}) and autoReconnect is off: connect() again`), err !== undefined);
      return;
    }
    this.#state = 'reconnecting';
    this.#scheduleReconnect(1);
  }

  #scheduleReconnect(attempt: number): void {
    const max = this.#o.reconnect.maxRetries;
    if (attempt > max) {
      this.#finish(new ConnectionError(ErrorCode.CONNECTION_LOST, `gave up reconnecting to "${this.eventName}" at ${this.address} after ${max} attempts: start the server and connect() again, or raise reconnect.maxRetries`), true);
      return;
    }
    const delay = backoffDelay(attempt, this.#o.reconnect);
    this.emit('reconnecting', attempt, delay);
    this.#reconnectTimer = setTimeout(() => {
      if (this.#userClosed) return;
      this.#open(this.#o.connectTimeout).then(
        () => this.log.info(`reconnected to ${this.address} after ${attempt} attempt(s)`),
        (err: Error) => {
          if (this.#userClosed) return;
          this.#state = 'reconnecting';
          this.log.debug(`reconnect attempt ${attempt} failed: ${err.message}`);
          this.#scheduleReconnect(attempt + 1);
        },
      );
    }, delay);
  }

  /**
   * Terminal state. A fatal reason (refused by the server, gave up
   * reconnecting, connection error) rejects waiters and iterators; a clean
   * end (disconnect(), or the server closed and autoReconnect is off) ends
   * iterators and makes receive() reject with `reason`.
   */
  #finish(reason: SocketError, fatal: boolean): void {
    this.#stopHeartbeat();
    clearTimeout(this.#reconnectTimer);
    const wasActive = this.#state !== 'idle' && this.#state !== 'closed';
    if (fatal) this.#fatal ??= reason;
    this.#endReason = this.#fatal ?? reason;
    this.#state = this.#fatal === undefined ? 'idle' : 'closed';
    if (this.#fatal !== undefined && wasActive) emitError(this, this.log, this.#fatal);
    for (const w of this.#waiters.splice(0)) {
      if (this.#fatal !== undefined) w.reject(this.#fatal);
      else w.resolve(undefined);
    }
    for (const w of this.#welcomeWaiters.splice(0)) w.reject(this.#endReason);
    for (const [id, r] of this.#requests) {
      clearTimeout(r.timer);
      r.reject(this.#endReason);
      this.#requests.delete(id);
    }
    this.#outbox.length = 0;
    void this.#transport.close?.().catch((err: unknown) => this.log.debug(`closing the transport failed: ${(err as Error).message}`));
    if (wasActive) this.emit('close');
  }

  #startHeartbeat(): void {
    if (this.#o.heartbeatInterval <= 0) return;
    this.#stopHeartbeat();
    this.#heartbeat = setInterval(() => {
      const conn = this.#conn;
      if (conn === undefined) return;
      if (Date.now() - this.#lastSeen > this.#o.heartbeatTimeout) {
        this.log.warn(`server "${this.eventName}" silent for ${Date.now() - this.#lastSeen} ms: dropping the connection (heartbeat)`);
        void conn.destroy(new ConnectionError(ErrorCode.CONNECTION_LOST, `heartbeat timeout: no traffic from the server for ${this.#o.heartbeatTimeout} ms`));
        return;
      }
      conn.write(controlFrame(this.eventName, { op: CONTROL_OPS.PING }, this.#o.timezone));
    }, this.#o.heartbeatInterval);
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}
