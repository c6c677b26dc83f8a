import { EventEmitter } from 'node:events';
import { encodeFrame } from '@socketkit/codec';
import {
  CONTROL_OPS,
  ConnectionError,
  ErrorCode,
  MessageType,
  PROTOCOL_VERSION,
  SocketError,
  createMessage,
  isPlainObject,
  isReservedControl,
  isSocketMessage,
  validateEventName,
  type MessageData,
  type MessageError,
  type SocketMessage,
} from '@socketkit/protocol';
import { FramedConnection } from './connection.js';
import {
  CONFIG_DEFAULTS,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HEARTBEAT_INTERVAL,
  DEFAULT_HEARTBEAT_MISSES,
  DEFAULT_MAX_PENDING_BYTES,
} from './defaults.js';
import { createLogger, type SocketLogger } from './logger.js';
import type { ServerTransport, TransportStream } from './transport.js';
import { controlFrame, emitError, errorFrame } from './wire.js';

/** What to do with a client whose pending outbound bytes exceed `maxPendingBytes`. */
export type SlowConsumerPolicy = 'disconnect' | 'drop';

/** Context passed to a request handler. */
export interface RequestContext {
  /** The request message (has an `id`). */
  message: SocketMessage;
  /** The client that sent it. */
  clientId: string;
}

/**
 * Answers client requests. The return value (a plain object, or any value,
 * which is wrapped as `{ value }`) is sent back with `reply_to`; return
 * `undefined` to answer later with {@link SocketServer.reply}. A thrown error
 * is sent back as an ERROR reply with code `HANDLER_FAILED` (or the error's
 * own `code`).
 */
export type RequestHandler = (data: MessageData, context: RequestContext) => unknown;

/** Options of {@link SocketServer}. Transport packages fill them from the configuration. */
export interface SocketServerOptions {
  /** Event name this server serves. */
  eventName: string;
  /** Where connections come from. */
  transport: ServerTransport;
  /** Most clients at once; extra clients get ERROR `MAX_CONNECTIONS` (default 10). */
  maxConnections?: number;
  /** Messages kept while no client is connected, oldest dropped first (default 100). */
  messageQueueSize?: number;
  /** Whether clients may send (default true). */
  allowClientSend?: boolean;
  /** Largest frame payload in bytes, both directions (default 1 MiB). */
  maxMessageSize?: number;
  /** `start()` resolves only after `stop()` (default false). */
  blockingMode?: boolean;
  /** IANA time zone of `timestamp_iso` (default UTC). */
  timezone?: string;
  /** Hard bound on bytes pending to one client (default 8 MiB). */
  maxPendingBytes?: number;
  /** Policy past `maxPendingBytes` (default `disconnect` with ERROR `SLOW_CONSUMER`). */
  slowConsumerPolicy?: SlowConsumerPolicy;
  /**
   * Longest time `drain()` waits for one client to fall under its high-water
   * mark (ms, default 5000). A client that does not drain in time gets the
   * slow-consumer policy, so a paced producer is never stalled by one reader.
   */
  drainTimeout?: number;
  /** Ping interval in ms for clients that sent `hello`; 0 = off (default). */
  heartbeatInterval?: number;
  /** Silence (ms) after which a heartbeat client is dropped (default 2 × interval + interval). */
  heartbeatTimeout?: number;
  /** Graceful close per client on stop or disconnect: destroyed after this long without flush progress (ms, default 2000). */
  closeTimeout?: number;
  /** Shared secret clients must present in `hello` (optional). */
  token?: string;
  /** Time a client has to present the token (ms, default 5000). */
  authTimeout?: number;
  /** Request handler (see {@link RequestHandler}). */
  handler?: RequestHandler;
  /** Logger (default: tslog at `logLevel`). */
  logger?: SocketLogger;
  /** Level of the default logger (default `info`). */
  logLevel?: string;
}

/** A connected client as reported by {@link SocketServer.getConnectedClients}. */
export interface ClientInfo {
  /** Unique id, `client_<n>_<ms>`. */
  id: string;
  /** Epoch ms of the connection. */
  connectedAt: number;
  /** True once the client announced itself with `hello`. */
  handshake: boolean;
  /** Bytes written to this client not yet taken by the kernel. */
  pendingBytes: number;
}

/** Effective server settings after defaults. */
export type ServerSettings = Required<Omit<SocketServerOptions, 'token' | 'handler' | 'logger' | 'logLevel' | 'transport' | 'eventName'>>;

interface ClientEntry {
  id: string;
  conn: FramedConnection;
  connectedAt: number;
  hello: boolean;
  registered: boolean;
  lastSeen: number;
  dropped: number;
  authTimer: NodeJS.Timeout | undefined;
  reason: string | undefined;
}

/** Events of {@link SocketServer}. */
export interface SocketServerEvents {
  listening: [];
  close: [];
  clientConnected: [clientId: string];
  clientDisconnected: [clientId: string, reason: string];
  message: [message: SocketMessage, clientId: string];
  error: [error: Error, clientId?: string];
  queueOverflow: [dropped: number];
  messageDropped: [clientId: string, dropped: number];
  connectionRejected: [code: string];
}

let clientCounter = 0;

/**
 * The transport-agnostic server engine: one server per event name, many
 * clients, broadcast and unicast, a queue while nobody listens, connection
 * limits, request/reply, heartbeats and slow-consumer protection.
 */
export class SocketServer extends EventEmitter<SocketServerEvents> {
  /** Event name served. */
  readonly eventName: string;
  readonly #o: ServerSettings;
  readonly #transport: ServerTransport;
  readonly #token: string | undefined;
  #handler: RequestHandler | undefined;
  /** The logger in use. */
  readonly log: SocketLogger;
  readonly #clients = new Map<string, ClientEntry>();
  readonly #queue: Buffer[] = [];
  #queueDropped = 0;
  #state: 'idle' | 'starting' | 'running' | 'stopping' = 'idle';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #blockers: Array<() => void> = [];

  constructor(options: SocketServerOptions) {
    super();
    this.eventName = validateEventName(options.eventName);
    this.#transport = options.transport;
    const interval = options.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL;
    this.#o = {
      maxConnections: options.maxConnections ?? 10,
      messageQueueSize: options.messageQueueSize ?? CONFIG_DEFAULTS.messageQueueSize,
      allowClientSend: options.allowClientSend ?? CONFIG_DEFAULTS.allowClientSend,
      maxMessageSize: options.maxMessageSize ?? CONFIG_DEFAULTS.maxMessageSize,
      blockingMode: options.blockingMode ?? false,
      timezone: options.timezone ?? CONFIG_DEFAULTS.timezone,
      maxPendingBytes: options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES,
      slowConsumerPolicy: options.slowConsumerPolicy ?? 'disconnect',
      heartbeatInterval: interval,
      heartbeatTimeout: options.heartbeatTimeout ?? interval * (DEFAULT_HEARTBEAT_MISSES + 1),
      closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
      drainTimeout: options.drainTimeout ?? CONFIG_DEFAULTS.defaultTimeoutMs,
      authTimeout: options.authTimeout ?? CONFIG_DEFAULTS.defaultTimeoutMs,
    };
    this.#token = options.token;
    this.#handler = options.handler;
    this.log = options.logger ?? createLogger(`socketkit:server:${this.eventName}`, options.logLevel ?? CONFIG_DEFAULTS.logLevel);
  }

  /** The transport's address (socket path, `host:port`). */
  get address(): string {
    return this.#transport.address();
  }

  /** Messages currently queued for the next client. */
  get queuedMessages(): number {
    return this.#queue.length;
  }

  /** Messages dropped from the no-client queue since start (oldest-first policy). */
  get queueDropped(): number {
    return this.#queueDropped;
  }

  /** Effective settings (after defaults). */
  get settings(): Readonly<ServerSettings> {
    return this.#o;
  }

  /** True while accepting connections. */
  isRunning(): boolean {
    return this.#state === 'running';
  }

  /** Sets or replaces the request handler. */
  onRequest(handler: RequestHandler | undefined): void {
    this.#handler = handler;
  }

  /**
   * Starts listening. Resolves once accepting; with `blockingMode` resolves
   * only after {@link SocketServer.stop}. Calling it while running is a no-op.
   */
  async start(): Promise<void> {
    if (this.#state === 'stopping') await this.#stopping;
    if (this.#state === 'idle') {
      this.#state = 'starting';
      this.#starting = this.#transport.listen((stream) => this.#accept(stream));
      try {
        await this.#starting;
      } catch (err) {
        this.#state = 'idle';
        throw err;
      }
      this.#state = 'running';
      if (this.#o.heartbeatInterval > 0) {
        this.#heartbeat = setInterval(() => this.#beat(), this.#o.heartbeatInterval);
        this.#heartbeat.unref();
      }
      this.log.info(`listening on ${this.address}`);
      this.emit('listening');
    } else if (this.#state === 'starting') {
      await this.#starting;
    }
    if (this.#o.blockingMode) await new Promise<void>((resolve) => this.#blockers.push(resolve));
  }

  /**
   * Stops: flushes what was already sent to each client, closes every client
   * cleanly, releases the address (removes the socket file). Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#state === 'starting') await this.#starting?.catch(() => undefined);
    if (this.#state === 'stopping') return this.#stopping;
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    this.#stopping = (async () => {
      clearInterval(this.#heartbeat);
      const closing = this.#transport.close();
      await Promise.all([...this.#clients.values()].map((e) => this.#closeClient(e, 'server stopped')));
      await closing;
      this.#state = 'idle';
      this.log.info(`stopped ${this.eventName}`);
      this.emit('close');
      for (const resolve of this.#blockers.splice(0)) resolve();
    })();
    return this.#stopping;
  }

  /** Ids and state of the clients currently connected. */
  getConnectedClients(): ClientInfo[] {
    const out: ClientInfo[] = [];
    for (const e of this.#clients.values()) {
      if (!e.registered || e.conn.closing) continue;
      out.push({ id: e.id, connectedAt: e.connectedAt, handshake: e.hello, pendingBytes: e.conn.pendingBytes });
    }
    return out;
  }

  /**
   * Sends data (wrapped in a DATA message) or a ready message. Broadcast by
   * default: encoded once, the same bytes written to every client. With
   * `clientId`: unicast. With no client connected, the message is queued
   * for the next one. Never blocks; use {@link SocketServer.drain} to pace.
   *
   * @returns How many clients it was written to (0 when queued).
   * @throws SocketError `NOT_RUNNING`, ConnectionError `UNKNOWN_CLIENT`,
   *   MessageError `FRAME_TOO_LARGE` / `INVALID_MESSAGE`.
   */
  send(dataOrMessage: MessageData | SocketMessage, clientId?: string): number {
    if (this.#state !== 'running') {
      throw new SocketError(ErrorCode.NOT_RUNNING, `server for event "${this.eventName}" is not running: call start() before send()`);
    }
    const message = isSocketMessage(dataOrMessage)
      ? dataOrMessage
      : createMessage(this.eventName, MessageType.DATA, dataOrMessage, { timezone: this.#o.timezone });
    const frame = encodeFrame(message, this.#o.maxMessageSize);
    if (clientId !== undefined) return this.#deliver(this.#registered(clientId), frame) ? 1 : 0;
    let sent = 0;
    let any = false;
    if (this.#transport.broadcast !== undefined) {
      for (const e of this.#clients.values()) if (e.registered && !e.conn.closing) sent++;
      if (sent > 0) this.#transport.broadcast(frame);
      else this.#enqueue(frame);
      return sent;
    }
    for (const e of this.#clients.values()) {
      if (!e.registered) continue;
      any = true;
      if (this.#deliver(e, frame)) sent++;
    }
    if (!any) this.#enqueue(frame);
    return sent;
  }

  /** Sends an ERROR message `{code, error}` (broadcast, or to one client). */
  sendError(code: string, text: string, clientId?: string): number {
    return this.send(createMessage(this.eventName, MessageType.ERROR, { code, error: text }, { timezone: this.#o.timezone }), clientId);
  }

  /** Answers `request` (which must carry an `id`) on behalf of a handler. */
  reply(clientId: string, request: SocketMessage, data: MessageData, type: MessageType = MessageType.DATA): boolean {
    if (request.id === undefined) {
      throw new SocketError(ErrorCode.INVALID_MESSAGE, 'cannot reply to a message without an id: only requests (client.request()) can be answered');
    }
    const msg = createMessage(this.eventName, type, data, { timezone: this.#o.timezone, replyTo: request.id });
    return this.#deliver(this.#registered(clientId), encodeFrame(msg, this.#o.maxMessageSize));
  }

  /**
   * Resolves once every client's pending bytes fell under its stream's
   * high-water mark (at once if they already are). Clients being
   * disconnected are not waited for; a client that does not drain within
   * `drainTimeout` gets the slow-consumer policy (disconnect, or with `drop`
   * it is no longer waited for).
   */
  async drain(): Promise<void> {
    const pending = [...this.#clients.values()].filter((e) => e.registered && !e.conn.closing && e.conn.needsDrain);
    await Promise.all(pending.map((e) => this.#drainOne(e)));
  }

  async #drainOne(e: ClientEntry): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#o.drainTimeout);
    });
    const drained = await Promise.race([e.conn.waitForDrain().then(() => false), timedOut]);
    clearTimeout(timer);
    if (drained && this.#o.slowConsumerPolicy === 'disconnect' && !e.conn.closing) this.#slowConsumer(e, `did not drain within ${this.#o.drainTimeout} ms`);
  }

  /** Disconnects one client gracefully (flushing what was sent). */
  async disconnectClient(clientId: string): Promise<void> {
    const e = this.#clients.get(clientId);
    if (e !== undefined) await this.#closeClient(e, 'disconnected by server');
  }

  #registered(clientId: string): ClientEntry {
    const e = this.#clients.get(clientId);
    if (e === undefined || !e.registered) {
      throw new ConnectionError(
        ErrorCode.UNKNOWN_CLIENT,
        `no client "${clientId}" is connected to "${this.eventName}": use an id from getConnectedClients() or the clientConnected event`,
        { details: { clientId } },
      );
    }
    return e;
  }

  #deliver(e: ClientEntry, frame: Buffer): boolean {
    const conn = e.conn;
    if (conn.closing) return false;
    if (conn.pendingBytes + frame.length > this.#o.maxPendingBytes) {
      if (this.#o.slowConsumerPolicy === 'drop') {
        e.dropped++;
        this.emit('messageDropped', e.id, e.dropped);
        return false;
      }
      this.#slowConsumer(e, `${conn.pendingBytes} bytes pending, above maxPendingBytes ${this.#o.maxPendingBytes}`);
      return false;
    }
    return conn.write(frame);
  }

  #slowConsumer(e: ClientEntry, why: string): void {
    this.log.warn(`client ${e.id} is not keeping up (${why}): disconnecting (SLOW_CONSUMER)`);
    void this.#closeClient(e, 'slow consumer', errorFrame(this.eventName, ErrorCode.SLOW_CONSUMER, `disconnected as a slow consumer of "${this.eventName}" (${why}): read faster, or ask the server to raise maxPendingBytes`, this.#o.timezone));
  }

  #enqueue(frame: Buffer): void {
    if (this.#o.messageQueueSize <= 0) {
      this.#queueDropped++;
      this.emit('queueOverflow', this.#queueDropped);
      return;
    }
    this.#queue.push(frame);
    if (this.#queue.length > this.#o.messageQueueSize) {
      this.#queue.shift();
      this.#queueDropped++;
      this.log.debug(`queue full (${this.#o.messageQueueSize}): dropped the oldest message`);
      this.emit('queueOverflow', this.#queueDropped);
    }
  }

  #accept(stream: TransportStream): void {
    if (this.#state !== 'running' && this.#state !== 'starting') {
      stream.destroy();
      return;
    }
    stream.setNoDelay?.(true);
    const now = Date.now();
    if (this.#clients.size >= this.#o.maxConnections) {
      // Nothing this peer sends is processed; it is read only so its close is seen.
      const conn = new FramedConnection(stream, this.#o.maxMessageSize, { onMessage: () => undefined, onProtocolError: () => undefined, onClose: () => undefined });
      this.log.warn(`refused a connection to "${this.eventName}": ${this.#clients.size} clients connected (maxConnections ${this.#o.maxConnections})`);
      void conn.end(
        this.#o.closeTimeout,
        errorFrame(this.eventName, ErrorCode.MAX_CONNECTIONS, `server "${this.eventName}" already has ${this.#o.maxConnections} clients (maxConnections): retry later or raise maxConnections`, this.#o.timezone),
      );
      this.emit('connectionRejected', ErrorCode.MAX_CONNECTIONS);
      return;
    }
    const id = `client_${++clientCounter}_${now}`;
    const entry: ClientEntry = { id, conn: undefined as unknown as FramedConnection, connectedAt: now, hello: false, registered: false, lastSeen: now, dropped: 0, authTimer: undefined, reason: undefined };
    entry.conn = new FramedConnection(stream, this.#o.maxMessageSize, {
      onMessage: (m) => this.#onMessage(entry, m),
      onProtocolError: (err) => this.#onProtocolError(entry, err),
      onClose: (err) => this.#onClose(entry, err),
    });
    this.#clients.set(id, entry);
    if (this.#token === undefined) {
      this.#register(entry);
    } else {
      entry.authTimer = setTimeout(() => this.#reject(entry, ErrorCode.UNAUTHORIZED, 'no token presented in time: pass the server token in the client options'), this.#o.authTimeout);
      entry.authTimer.unref();
    }
  }

  #register(e: ClientEntry): void {
    e.registered = true;
    clearTimeout(e.authTimer);
    this.log.info(`client ${e.id} connected (${this.getConnectedClients().length} connected)`);
    this.emit('clientConnected', e.id);
    if (this.#queue.length > 0 && !e.conn.closing) {
      const frames = this.#queue.splice(0);
      for (const f of frames) e.conn.write(f);
      this.log.debug(`delivered ${frames.length} queued messages to ${e.id}`);
    }
  }

  #reject(e: ClientEntry, code: ErrorCode, text: string, replyTo?: string): void {
    void this.#closeClient(e, code, errorFrame(this.eventName, code, text, this.#o.timezone, replyTo));
  }

  #onMessage(e: ClientEntry, m: SocketMessage): void {
    e.lastSeen = Date.now();
    if (e.conn.closing) return;
    if (isReservedControl(m)) {
      this.#onControl(e, m);
      return;
    }
    if (!e.registered) {
      this.#reject(e, ErrorCode.UNAUTHORIZED, `server "${this.eventName}" requires a token: send hello with the token before anything else`);
      return;
    }
    if (!this.#o.allowClientSend) {
      const err = errorFrame(this.eventName, ErrorCode.SEND_NOT_ALLOWED, `server "${this.eventName}" does not accept messages from clients (allowClientSend is false)`, this.#o.timezone, m.id);
      e.conn.write(err);
      return;
    }
    if (m.id !== undefined && this.#handler !== undefined) this.#handle(e, m, this.#handler);
    this.emit('message', m, e.id);
  }

  #onControl(e: ClientEntry, m: SocketMessage): void {
    const op = m.data.op;
    if (op === CONTROL_OPS.HELLO) {
      e.hello = true;
      if (this.#token !== undefined && m.data.token !== this.#token) {
        this.#reject(e, ErrorCode.UNAUTHORIZED, `wrong or missing token for "${this.eventName}": pass the server's token in the client options`);
        return;
      }
      if (!e.registered) this.#register(e);
      e.conn.write(
        controlFrame(this.eventName, { op: CONTROL_OPS.WELCOME, protocol: PROTOCOL_VERSION, client_id: e.id, allow_client_send: this.#o.allowClientSend, max_message_size: this.#o.maxMessageSize }, this.#o.timezone),
      );
    } else if (op === CONTROL_OPS.PING) {
      e.conn.write(controlFrame(this.eventName, { op: CONTROL_OPS.PONG }, this.#o.timezone));
    }
  }

  #handle(e: ClientEntry, m: SocketMessage, handler: RequestHandler): void {
    const respond = (result: unknown): void => {
      if (result === undefined || e.conn.closing) return;
      const data = isPlainObject(result) ? result : { value: result };
      try {
        this.reply(e.id, m, data);
      } catch (err) {
        this.#replyError(e, m, err);
      }
    };
    try {
      const out = handler(m.data, { message: m, clientId: e.id });
      if (out instanceof Promise) out.then(respond, (err: unknown) => this.#replyError(e, m, err));
      else respond(out);
    } catch (err) {
      this.#replyError(e, m, err);
    }
  }

  #replyError(e: ClientEntry, m: SocketMessage, err: unknown): void {
    if (e.conn.closing) return;
    const code = err instanceof SocketError ? err.code : ErrorCode.HANDLER_FAILED;
    const text = err instanceof Error ? err.message : String(err);
    this.log.warn(`request handler for "${this.eventName}" failed: ${text}`);
    e.conn.write(errorFrame(this.eventName, code, text, this.#o.timezone, m.id));
  }

  #onProtocolError(e: ClientEntry, err: MessageError): void {
    this.log.warn(`client ${e.id} sent a bad frame (${err.code}): ${err.message}; closing that connection`);
    emitError(this, this.log, err, e.id);
    this.#reject(e, err.code, `${err.message}; closing this connection`);
  }

  #onClose(e: ClientEntry, err: Error | undefined): void {
    clearTimeout(e.authTimer);
    this.#clients.delete(e.id);
    const reason = e.reason ?? (err !== undefined ? `connection error: ${(err as NodeJS.ErrnoException).code ?? err.message}` : 'client disconnected');
    if (e.registered) {
      this.log.info(`client ${e.id} disconnected: ${reason}`);
      this.emit('clientDisconnected', e.id, reason);
    }
  }

  #closeClient(e: ClientEntry, reason: string, lastFrame?: Buffer): Promise<void> {
    e.reason ??= reason;
    return e.conn.end(this.#o.closeTimeout, lastFrame);
  }

  #beat(): void {
    const now = Date.now();
    const ping = controlFrame(this.eventName, { op: CONTROL_OPS.PING }, this.#o.timezone);
    for (const e of this.#clients.values()) {
      if (!e.hello || e.conn.closing) continue;
      if (now - e.lastSeen > this.#o.heartbeatTimeout) {
        this.log.warn(`client ${e.id} silent for ${now - e.lastSeen} ms: dropping it (heartbeat)`);
        e.reason = 'heartbeat timeout';
        void e.conn.destroy();
        continue;
      }
      e.conn.write(ping);
    }
  }
}
