import { EventEmitter } from 'node:events';
import { encodeFrame } from '@socketkit/codec';
import {
  CONTROL_OPS,
  ConnectionError,
  ErrorCode,
  MessageType,
  MessageError,
  PROTOCOL_VERSION,
  SocketError,
  createMessage,
  isSocketMessage,
  validateEventName,
  type MessageData,
  type SocketMessage,
} from '@socketkit/protocol';
import { checkOptions } from '@socketkit/config';
import { validateToken } from '../wire/auth.js';
import { BatchShare, SplitFrame } from '../wire/connection.js';
import { sharedTimers } from '../wire/heartbeat.js';
import { PongCache } from './replies.js';
import { CONFIG_DEFAULTS } from '../settings.js';
import { LogLimiter } from '../ops/log-limiter.js';
import { createLogger, type SocketLogger } from '../ops/logger.js';
import {
  SERVER_ENGINE_RULES,
  resolveServerSettings,
  type ClientInfo,
  type PeerRefusal,
  type RequestHandler,
  type ServerSettings,
  type SocketServerOptions,
} from './options.js';
import { renderPrometheus } from '../ops/metrics.js';
import { type PeerContext, type PeerHost, ServerPeer } from './peer.js';
import { Admission } from './admission.js';
import { NoClientQueue } from './queue.js';
import { BroadcastRun } from './fanout.js';
import { Requests } from './requests.js';
import { RateSampler, ServerCounters, type ClientStats, type ServerStats } from '../ops/stats.js';
import type { PendingHandshake, ServerTransport, TransportStream } from '../transport.js';
import type { Payload } from '../wire/schema.js';
import { emitError, outFrame } from '../wire/frames.js';

/** Events of {@link SocketServer}; `TIn` is the data clients send. */
export interface SocketServerEvents<TIn = MessageData> {
  listening: [];
  close: [];
  clientConnected: [clientId: string];
  /** A registered client left; `code` is the disconnect reason's code (`CLOSED` for an ordinary close). */
  clientDisconnected: [clientId: string, reason: string, code: string];
  message: [message: SocketMessage<TIn>, clientId: string];
  error: [error: Error, clientId?: string];
  queueOverflow: [dropped: number];
  messageDropped: [clientId: string, dropped: number];
  connectionRejected: [code: string];
  /**
   * A connection was refused or evicted before or instead of being served:
   * every token refusal, protocol mismatch, wrong event, full server,
   * eviction from the pre-admission bound, auth or hello timeout, broken
   * framing and invalid-message flood. Also counted in `stats().refused` and
   * logged as a warning, at most one line per code per second (with a
   * summary of the lines suppressed).
   */
  peerRefused: [refusal: PeerRefusal];
}

/** What `drain()` returns when no client is above its high-water mark. */
const DRAINED: Promise<void> = Promise.resolve();
const noop = (): void => undefined;

/**
 * The transport-agnostic server engine: a registry of peers, fan-out
 * (broadcast and unicast), a queue while no client is registered, and the
 * lifecycle. What happens on one connection (handshake, auth, delivery,
 * slow-consumer policy) lives in {@link ServerPeer}.
 *
 * @typeParam TIn The data clients send (`message` listeners, the handler's
 *   argument): inferred from the `schema` option, which checks it at run time.
 * @typeParam TOut The data the server sends (`send`, `reply`) and its handler returns.
 */
export class SocketServer<
  TIn extends Payload<TIn> = MessageData,
  TOut extends Payload<TOut> = MessageData,
> extends EventEmitter<SocketServerEvents<TIn>> {
  /** Event name served. */
  readonly eventName: string;
  readonly #o: ServerSettings;
  readonly #transport: ServerTransport;
  readonly #token: string | undefined;
  /** Messages from clients: the handler, the schema, `message`, NO_HANDLER. */
  readonly #requests: Requests<TIn, TOut>;
  /** The logger in use. */
  readonly log: SocketLogger;
  /** Every peer that is neither refused nor closed, in accept order (so the first awaiting one is the oldest). */
  readonly #peers = new Map<string, ServerPeer>();
  /** Broadcasts sent while no client was registered, for the next one (`messageQueueSize`). */
  readonly #queue: NoClientQueue;
  /** Small broadcasts of a tick: appended once, written once per client per tick. */
  readonly #broadcasts: BroadcastRun;
  #state: 'idle' | 'starting' | 'running' | 'stopping' = 'idle';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #blockers: Array<() => void> = [];
  readonly #host: PeerHost;
  readonly #counters = new ServerCounters();
  /** Rate-limited warnings (refusals, invalid input): at most one line per key per second. */
  readonly #warnings: LogLimiter;
  /** Who gets in: slots, monitors, refusals, pre-admission eviction. */
  readonly #admission: Admission;
  readonly #rates = new RateSampler(this.#counters);
  /** Awaiting and registered peers, counted by the peers (see PeerCensus). */
  readonly #census: PeerContext['census'] = { awaiting: 0, registered: 0, changes: 0 };
  #startedAt = 0;

  constructor(options: SocketServerOptions<TIn, TOut>) {
    super();
    checkOptions(options, SERVER_ENGINE_RULES, 'SocketServer');
    this.eventName = validateEventName(options.eventName);
    this.#transport = options.transport;
    this.#o = resolveServerSettings<TIn, TOut>(options);
    this.#token = validateToken(options.token, this.eventName);
    this.log =
      options.logger ??
      createLogger(`socketkit:server:${this.eventName}`, options.logLevel ?? CONFIG_DEFAULTS.logLevel);
    this.#warnings = new LogLimiter(this.log);
    this.#queue = new NoClientQueue(this.#o, this.log, (dropped) => this.emit('queueOverflow', dropped));
    this.#broadcasts = new BroadcastRun(this.#census, this.#queue);
    const context: PeerContext = {
      eventName: this.eventName,
      settings: this.#o,
      log: this.log,
      token: this.#token,
      counters: this.#counters,
      pong: new PongCache(this.eventName, this.#o.timezone),
      ping: new PongCache(this.eventName, this.#o.timezone, CONTROL_OPS.PING),
      heartbeatTimers: sharedTimers(),
      batchShare: new BatchShare(),
      census: this.#census,
    };
    this.#requests = new Requests<TIn, TOut>(
      {
        ...context,
        schema: options.schema,
        emitMessage: (m, clientId) => this.emit('message', m, clientId),
        peerError: (peer, err) => this.#peerError(peer, err),
      },
      options.handler,
    );
    this.#admission = new Admission({
      ...context,
      transport: this.#transport.kind,
      warnings: this.#warnings,
      peers: this.#peers,
      refused: (refusal) => this.listenerCount('peerRefused') > 0 && this.emit('peerRefused', refusal),
      rejected: (code) => this.emit('connectionRejected', code),
    });
    this.#host = {
      context,
      register: (peer, enter) => this.#register(peer, enter),
      claimMonitor: (peer) => this.#admission.claimMonitor(peer),
      refuse: (peer, code, text, replyTo) => this.#admission.refuse(peer, code, text, replyTo),
      onMessage: (peer, m) => this.#requests.onMessage(peer, m),
      onPeerError: (peer, err) => this.#peerError(peer, err),
      onDropped: (peer, dropped) => this.emit('messageDropped', peer.id, dropped),
      onClosed: (peer, wasRegistered) => this.#onClosed(peer, wasRegistered),
      stats: () => this.stats(),
    };
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
    return this.#queue.dropped;
  }

  /** Effective settings (after defaults). */
  get settings(): Readonly<ServerSettings> {
    return this.#o;
  }

  /**
   * Open connections by state, for monitoring: `awaiting` (not yet
   * registered), `registered`, `refusing` (lingering refusals), `handshaking`
   * (in the transport's own handshake, TLS).
   */
  get connectionCounts(): { awaiting: number; registered: number; refusing: number; handshaking: number } {
    const { awaiting, registered } = this.#census; // kept by the peers as they change state
    const a = this.#admission;
    return { awaiting, registered, refusing: a.refusing, handshaking: a.handshaking };
  }

  /** True while accepting connections. */
  isRunning(): boolean {
    return this.#state === 'running';
  }

  /** Sets or replaces the request handler. */
  onRequest(handler: RequestHandler<TIn, TOut> | undefined): void {
    this.#requests.handler = handler;
  }

  /**
   * Starts listening. Resolves once accepting; with `blockingMode` resolves
   * only after {@link SocketServer.stop}. Calling it while running is a no-op.
   */
  async start(): Promise<void> {
    if (this.#state === 'stopping') await this.#stopping;
    if (this.#state === 'idle') {
      this.#state = 'starting';
      this.#starting = this.#transport.listen((stream) => this.#accept(stream), {
        backlog: this.#o.backlog,
        onError: (err) => this.#acceptFailed(err),
        admitHandshake: (pending) => this.#admitHandshake(pending),
        handshakeTimeoutMs: this.#o.authTimeout,
      });
      try {
        await this.#starting;
      } catch (err) {
        this.#state = 'idle';
        throw err;
      }
      const cap = this.#transport.maxPayload?.();
      if (cap !== undefined && cap < this.#o.maxMessageSize) {
        this.log.info(
          `maxMessageSize lowered to ${cap} bytes: the largest frame the ${this.#transport.kind} transport carries`,
        );
        this.#o.maxMessageSize = cap;
      }
      this.#state = 'running';
      this.#startedAt = Date.now();
      this.#rates.start();
      this.log.info(`listening on ${this.address}`);
      this.emit('listening');
    } else if (this.#state === 'starting') {
      await this.#starting;
    }
    if (this.#o.blockingMode) await new Promise<void>((resolve) => this.#blockers.push(resolve));
  }

  /**
   * Stops: flushes what was already sent to each client, closes every client
   * cleanly (a peer that never closes its side gets `closeGraceMs` once
   * everything was flushed), releases the address. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#state === 'starting') await this.#starting?.catch(() => undefined);
    if (this.#state === 'stopping') return this.#stopping;
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    this.#stopping = (async () => {
      const closing = this.#transport.close();
      const peers = [...this.#peers.values()].map((p) => p.close({ code: ErrorCode.CLOSED, text: 'server stopped' }));
      const refused = this.#admission.stop();
      await Promise.all([...peers, ...refused]);
      await closing;
      this.#warnings.close();
      this.#state = 'idle';
      this.#startedAt = 0;
      this.#rates.stop();
      this.log.info(`stopped ${this.eventName}`);
      this.emit('close');
      for (const resolve of this.#blockers.splice(0)) resolve();
    })();
    return this.#stopping;
  }

  /**
   * Counters and gauges of this server: clients (with their traffic), the
   * queue, totals and rates over the last few seconds, refusals by code,
   * uptime. Counting costs a few additions per message; this call builds
   * the snapshot.
   */
  stats(): ServerStats {
    this.#broadcasts.flush(); // this tick's shared run is counted once written
    const now = Date.now();
    const clients: ClientStats[] = [];
    for (const p of this.#peers.values()) {
      if (p.state !== 'registered') continue;
      const c = p.counters;
      clients.push({
        id: p.id,
        connectedAt: p.connectedAt,
        handshake: p.hello,
        pendingBytes: p.conn.pendingBytes,
        messagesIn: c.messagesIn,
        messagesOut: c.messagesOut,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        dropped: c.dropped,
      });
    }
    const t = this.#counters;
    return {
      event: this.eventName,
      protocol: PROTOCOL_VERSION,
      startedAt: this.#startedAt,
      uptimeMs: this.#startedAt === 0 ? 0 : now - this.#startedAt,
      clients,
      maxConnections: this.#o.maxConnections,
      queue: { length: this.#queue.length, capacity: this.#o.messageQueueSize, dropped: this.#queue.dropped },
      totals: {
        messagesIn: t.messagesIn,
        messagesOut: t.messagesOut,
        bytesIn: t.bytesIn,
        bytesOut: t.bytesOut,
        slowConsumerDisconnects: t.slowConsumerDisconnects,
        invalidMessages: t.invalidMessages,
      },
      refused: { ...t.refused },
      rates: this.#rates.rates(),
    };
  }

  /** {@link SocketServer.stats} in the Prometheus text exposition format, for a scrape endpoint. */
  metrics(): string {
    return renderPrometheus(this.stats());
  }

  /** Ids and state of the registered clients. */
  getConnectedClients(): ClientInfo[] {
    const out: ClientInfo[] = [];
    for (const p of this.#peers.values()) {
      if (p.state !== 'registered') continue;
      out.push({
        id: p.id,
        connectedAt: p.connectedAt,
        handshake: p.hello,
        role: p.sender ? 'sender' : 'client',
        pendingBytes: p.conn.pendingBytes,
      });
    }
    return out;
  }

  /**
   * Sends `data` in a DATA message. Broadcast by default: encoded once, the
   * same bytes written to every client; with `clientId`: unicast. With no
   * client registered, the message is queued for the next one (and peers
   * still registering get it live). Never blocks; use
   * {@link SocketServer.drain} to pace. `data` is always data, whatever its
   * keys: a ready message goes through {@link SocketServer.sendMessage}.
   *
   * A `Buffer`/`Uint8Array` of 16 KiB or more in `data` is written as it is, not copied (as `socket.write`): do
   * not change it after `send()`; send `Buffer.from(b)` of a buffer you reuse (queued messages are copies).
   *
   * @returns How many registered clients it was written to (0 when queued).
   * @throws SocketError `NOT_RUNNING`, ConnectionError `UNKNOWN_CLIENT`,
   *   MessageError `FRAME_TOO_LARGE` / `INVALID_MESSAGE`.
   */
  send(data: TOut, clientId?: string): number {
    this.#assertRunning('send');
    const o = this.#o;
    const message = createMessage(this.eventName, MessageType.DATA, data as MessageData, { timezone: o.timezone });
    return this.#fanout(outFrame(message, o.maxMessageSize), clientId);
  }

  /** Sends a ready {@link SocketMessage} as it is (see {@link SocketServer.send}). */
  sendMessage(message: SocketMessage, clientId?: string): number {
    this.#assertRunning('sendMessage');
    if (!isSocketMessage(message)) {
      throw new MessageError(
        ErrorCode.INVALID_MESSAGE,
        'sendMessage() takes a SocketMessage (build one with createMessage()); use send(data) for plain data',
      );
    }
    return this.#fanout(encodeFrame(message, this.#o.maxMessageSize), clientId);
  }

  /** Sends an ERROR message `{code, error}` (broadcast, or to one client). */
  sendError(code: string, text: string, clientId?: string): number {
    return this.sendMessage(
      createMessage(this.eventName, MessageType.ERROR, { code, error: text }, { timezone: this.#o.timezone }),
      clientId,
    );
  }

  /** Answers `request` (which must carry an `id`) on behalf of a handler. */
  reply(clientId: string, request: SocketMessage<TIn>, data: TOut, type: MessageType = MessageType.DATA): boolean {
    if (request.id === undefined) {
      throw new MessageError(
        ErrorCode.INVALID_MESSAGE,
        'cannot reply to a message without an id: only requests (client.request()) can be answered',
      );
    }
    this.#requests.replied(request);
    return this.#registered(clientId).reply(
      request as SocketMessage<unknown> as SocketMessage,
      data as MessageData,
      type,
    );
  }

  /**
   * Resolves once every client's pending bytes fell under its stream's high-water mark (at once if they already
   * are). A peer still in its registration grace counts too (it takes live broadcasts: the Python module never says
   * hello). Clients being disconnected are not waited for; a client that does not drain within `drainTimeout` gets
   * the slow-consumer policy (disconnect; or with `drop` it is not waited for again until it has drained).
   */
  drain(): Promise<void> {
    // Nothing pending (the common case when called after every send): one shared settled promise, no allocation.
    let waits: Array<Promise<void>> | undefined;
    let flushed = false;
    for (const p of this.#peers.values()) {
      if (!p.open || p.drainGaveUp || !p.conn.needsDrain) continue;
      // the first one above its mark: the tick's shared run goes to every stream at once (one concatenation)
      if (!flushed) {
        flushed = true;
        this.#broadcasts.flush();
        if (!p.conn.needsDrain) continue;
      }
      (waits ??= []).push(p.drain()); // peer.drain()'s own test
    }
    return waits === undefined ? DRAINED : Promise.all(waits).then(noop);
  }

  /** Disconnects one client gracefully (flushing what was sent). */
  async disconnectClient(clientId: string): Promise<void> {
    const p = this.#peers.get(clientId);
    if (p !== undefined) await p.close({ code: ErrorCode.CLOSED, text: 'disconnected by server' });
  }

  #assertRunning(what: string): void {
    if (this.#state !== 'running') {
      throw new SocketError(
        ErrorCode.NOT_RUNNING,
        `server for event "${this.eventName}" is not running: call start() before ${what}()`,
      );
    }
  }

  #registered(clientId: string): ServerPeer {
    const p = this.#peers.get(clientId);
    if (p === undefined || p.state !== 'registered') {
      throw new ConnectionError(
        ErrorCode.UNKNOWN_CLIENT,
        `no client "${clientId}" is connected to "${this.eventName}": ` +
          'use an id from getConnectedClients() or the clientConnected event',
        { details: { clientId } },
      );
    }
    return p;
  }

  /**
   * Unicast to a registered client, or a broadcast to every peer that takes
   * broadcasts (the rule is {@link ServerPeer.takesBroadcasts}); with no
   * registered client the frame is also queued for the next one.
   * @returns How many registered clients it was written to.
   */
  #fanout(frame: Buffer | SplitFrame, clientId: string | undefined): number {
    if (clientId !== undefined) return this.#registered(clientId).deliver(frame) ? 1 : 0;
    if (this.#transport.broadcast !== undefined) {
      // handed to a transport's own broadcast, or kept for later (the queue): one buffer
      if (frame instanceof SplitFrame) frame = frame.joined();
      let clients = 0;
      for (const p of this.#peers.values()) if (p.state === 'registered' && p.takesBroadcasts) clients++;
      if (clients > 0) {
        this.#transport.broadcast(frame);
        if (this.#o.collectStats) {
          this.#counters.messagesOut += clients;
          this.#counters.bytesOut += frame.length * clients;
        }
      } else this.#queue.push(frame);
      return clients;
    }
    return this.#broadcasts.broadcast(this.#peers.values(), frame);
  }

  /** The transport accepted a connection that starts its own handshake (TLS): count it under `maxUnauthenticated`. */
  #admitHandshake(pending: PendingHandshake): (() => void) | undefined {
    if (this.#state !== 'running' && this.#state !== 'starting') {
      pending.destroy();
      return undefined;
    }
    return this.#admission.admitHandshake(pending);
  }

  /**
   * A peer reported a problem (a skipped invalid message, bad framing): the
   * `error` event, or a rate-limited warning per peer and code.
   */
  #peerError(peer: ServerPeer, err: SocketError): void {
    if (err.code === ErrorCode.INVALID_MESSAGE) this.#counters.invalidMessages++;
    if (this.listenerCount('error') > 0) this.emit('error', err, peer.id);
    else this.#warnings.warn(`${err.code}:${peer.id}`, `client ${peer.id}: ${err.message}`);
  }

  /** The listening socket failed to accept (out of descriptors, ...): report it; the transport keeps listening. */
  #acceptFailed(err: Error): void {
    const errno = (err as NodeJS.ErrnoException).code ?? 'unknown';
    const outOfFds = errno === 'EMFILE' || errno === 'ENFILE';
    const what = outOfFds
      ? `the process is out of file descriptors (${errno}): raise its limit (ulimit -n, LimitNOFILE=) ` +
        `or lower maxConnections (${this.#o.maxConnections})`
      : `${err.message}: check the system's network and memory limits; the server keeps listening`;
    const error = new ConnectionError(
      ErrorCode.ACCEPT_FAILED,
      `server "${this.eventName}" could not accept a connection on ${this.address}: ${what}`,
      {
        cause: err,
        details: { errno, address: this.address },
      },
    );
    emitError(this, this.log, error);
  }

  #accept(stream: TransportStream): void {
    if (this.#state !== 'running' && this.#state !== 'starting') {
      stream.destroy();
      return;
    }
    stream.setNoDelay?.(true);
    this.#admission.accept(new ServerPeer(stream, this.#host));
  }

  /**
   * Registration: a client slot (or the peer is refused), then on the wire
   * its welcome (written by `enter`), the queue (older than the peer), the
   * broadcasts held since its accept, then whatever the application sends
   * from its clientConnected listener. A peer that never said hello got
   * broadcasts live since its hello window ended (HELLO_WINDOW_MS): the
   * queue comes after those. A sender never takes it.
   */
  #register(peer: ServerPeer, enter: (takeQueue: () => readonly Uint8Array[]) => void): boolean {
    if (!this.#admission.claimSlot(peer)) return false;
    this.log.info(`client ${peer.id} connected (${this.#census.registered + 1} connected)`);
    enter(() => this.#queue.take(peer));
    this.emit('clientConnected', peer.id);
    return true;
  }

  #onClosed(peer: ServerPeer, wasRegistered: boolean): void {
    this.#peers.delete(peer.id);
    this.#admission.closed(peer);
    if (!wasRegistered) return;
    const reason = peer.reason ?? { code: ErrorCode.CLOSED, text: 'client disconnected' };
    this.log.info(`client ${peer.id} disconnected: ${reason.text}`);
    this.emit('clientDisconnected', peer.id, reason.text, reason.code);
  }
}
