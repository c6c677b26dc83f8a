import { encodeFrame } from '@socketkit/codec';
import {
  CONTROL_OPS,
  ErrorCode,
  MessageType,
  PROTOCOL_VERSION,
  SocketError,
  createMessage,
  isReservedControl,
  type MessageData,
  type MessageError,
  type SocketMessage,
} from '@socketkit/protocol';
import { ServerAuth, checkHello } from '../wire/auth.js';
import { type BatchShare, FramedConnection } from '../wire/connection.js';
import { startTimer } from '../settings.js';
import { Heartbeat } from '../wire/heartbeat.js';
import type { SocketLogger } from '../ops/logger.js';
import type { ServerSettings } from './options.js';
import type { TransportStream } from '../transport.js';
import { PeerCounters, type ServerCounters, type ServerStats } from '../ops/stats.js';
import { HANDLER_ORIGIN, controlFrame, errorFrame } from '../wire/frames.js';

/**
 * Most bytes of broadcasts held for a peer awaiting registration (1 MiB):
 * past it the peer gets them live (see `deliver`).
 */
export const MAX_HELD_BYTES = 1024 * 1024;

/**
 * Without a token, how long (ms) broadcasts to a new peer that has sent
 * nothing yet are held, so that a socketkit client, which writes `hello` as
 * soon as it is connected, gets its `welcome` before any broadcast (its
 * handshake takes anything else first for a server without the handshake).
 * The hold ends early on the peer's first frame; past it (a peer that never
 * says hello: the Python module) broadcasts are written live, long before
 * its registration grace (`registerGraceMs`) ends. Issue 23: before, they
 * were held for the whole grace (500 ms).
 */
export const HELLO_WINDOW_MS = 50;

/** Bytes of the length prefix before every frame payload. */
const FRAME_HEADER = 4;

/** A CONTROL reply (`reply_to` set) as one frame. */
function controlReply(eventName: string, data: MessageData, timezone: string, replyTo: string): Buffer {
  return encodeFrame(createMessage(eventName, MessageType.CONTROL, data, { timezone, replyTo }));
}

/**
 * The life of one server-side connection. Every peer is in exactly one state
 * and moves only forward, through the named transitions below:
 *
 *   accepted ──admit()──▶ awaiting ──register()──▶ registered
 *      │                    │ hello / first app message / grace end
 *      │                    │ (with a token: only after hello + auth_proof, protocol 2)
 *      │ refuse()           │ close(): auth timeout, evicted, bad framing, stop
 *      ▼                    ▼                          │
 *   closing ◀───────────────┴──────────────────────────┘
 *      ▲                    │ hello with role "monitor" (with a token: after
 *      │                    │ hello + auth_proof, as a client)
 *      │ answered / timeout ▼
 *      └──────────────── monitoring (never registers: no slot, queue or broadcasts)
 *      │ the stream closed
 *      ▼
 *   closed
 *
 * A full server without a token keeps a new peer in `accepted`
 * (admitMonitorOnly(), at most `maxMonitors` such peers and monitors): a
 * monitor hello as its first frame takes it to `monitoring`; anything else,
 * or silence for `registerGraceMs`, is refused `MAX_CONNECTIONS`.
 */
export type PeerState = 'accepted' | 'awaiting' | 'registered' | 'monitoring' | 'closing' | 'closed';

/** Why a peer was disconnected. */
export interface DisconnectReason {
  /** An {@link ErrorCode}, or `CLOSED` for an ordinary close. */
  code: string;
  /** Human-readable text. */
  text: string;
}

/** What a {@link ServerPeer} needs from its server: settings, and where to report. */
export interface PeerHost {
  readonly eventName: string;
  readonly settings: ServerSettings;
  readonly log: SocketLogger;
  /** The shared secret, if the server requires one. */
  readonly token: string | undefined;
  /** The peer asks for a client slot; false when the server is full (the host has then refused it). */
  claimSlot(peer: ServerPeer): boolean;
  /** The peer is registered (welcome, if any, already written): flush the queue, announce it. */
  onRegistered(peer: ServerPeer): void;
  /** Refuses a peer: ERROR + short linger, or an immediate close when too many refusals linger already. */
  refuse(peer: ServerPeer, code: ErrorCode, text: string, replyTo?: string): void;
  /** An application message from a registered peer (or one registering with it). */
  onMessage(peer: ServerPeer, message: SocketMessage): void;
  /** A peer reported a problem (a skipped message, bad framing). */
  onPeerError(peer: ServerPeer, error: SocketError): void;
  /** The current PONG frame (shared and rebuilt at most once per millisecond: a ping flood must not cost a frame build per ping). */
  pongFrame(): Buffer;
  /** A peer with `slowConsumerPolicy: 'drop'` dropped a message. */
  onDropped(peer: ServerPeer, dropped: number): void;
  /** The peer's stream closed; `wasRegistered` tells whether it ever was a client. */
  onClosed(peer: ServerPeer, wasRegistered: boolean): void;
  /** Whole-server traffic counters (counted by every peer). */
  readonly counters: ServerCounters;
  /** The server's statistics, for a monitor's `stats` request. */
  stats(): ServerStats;
  /** Refuses a peer because the server is full (`MAX_CONNECTIONS`), as at accept. */
  refuseFull(peer: ServerPeer): void;
  /** The peer becomes a monitor: false (and the host has refused it) past `maxMonitors`. */
  claimMonitor(peer: ServerPeer): boolean;
  /** Shared by every peer's connection: a broadcast tick is concatenated once. */
  readonly batchShare?: BatchShare;
}

let peerCounter = 0;

/** Describes any thrown value without ever throwing (null-prototype objects, symbols). */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) return typeof err.message === 'string' ? err.message : 'error';
  try {
    if (typeof err === 'symbol') return err.toString();
    if (typeof err === 'object' && err !== null) return JSON.stringify(err) ?? 'object';
    return String(err);
  } catch {
    return Object.prototype.toString.call(err);
  }
}

/** Longest application error code sent back as it is (longer ones, or non-strings, become `HANDLER_FAILED`). */
const MAX_HANDLER_CODE_LENGTH = 64;

/**
 * The code a request handler's failure is sent back with: the thrown error's
 * own `code` when it is a short non-empty string (an application code such
 * as `NOT_FOUND`, a Node code such as `ENOENT`, a socketkit code), else
 * `HANDLER_FAILED`.
 */
export function handlerCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.length > 0 && code.length <= MAX_HANDLER_CODE_LENGTH ? code : ErrorCode.HANDLER_FAILED;
}

/**
 * One connection on the server side: its state, its timers (registration
 * grace, auth, frame, heartbeat), its delivery with the slow-consumer
 * policy and its disconnect reason. Every byte written to the peer goes
 * through {@link ServerPeer.deliver}, so every byte counts against
 * `maxPendingBytes`.
 */
export class ServerPeer {
  /** Unique id, `client_<n>_<ms>`. */
  readonly id: string;
  /** Epoch ms of the accept. */
  readonly connectedAt = Date.now();
  readonly conn: FramedConnection;
  #state: PeerState = 'accepted';
  #host: PeerHost;
  #hello = false;
  /** Its hello said `role: "monitor"`. */
  #monitor = false;
  /** Its hello said `role: "sender"`: registered, but never the queue nor broadcasts. */
  #sender = false;
  /** Admitted to a full server only to show it is a monitor (see admitMonitorOnly()). */
  #monitorOnly = false;
  /** Token authentication in progress (token servers, issue 13). */
  #auth: ServerAuth | undefined;
  #messages = 0;
  /** Broadcasts held while `awaiting` (see `deliver`). */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  /**
   * Set when broadcasts to this awaiting peer are written as they come: its
   * hello window ended without a frame from it (HELLO_WINDOW_MS), or held
   * broadcasts passed MAX_HELD_BYTES.
   */
  #live = false;
  #timer: NodeJS.Timeout | undefined;
  /** The hello window (HELLO_WINDOW_MS) of a peer admitted without a token. */
  #windowTimer: NodeJS.Timeout | undefined;
  /** A frame was written to it before any hello (live broadcasts, the queue at a grace registration). */
  #wroteBeforeHello = false;
  #frameTimer: NodeJS.Timeout | undefined;
  #frameMark = -1;
  #heartbeat: Heartbeat | undefined;
  /** Whether it was registered when it started closing (so `clientDisconnected` fires for clients only). */
  #wasRegistered = false;
  /** Messages dropped under `slowConsumerPolicy: 'drop'`. */
  dropped = 0;
  /** This peer's traffic (counters only; see stats.ts). */
  readonly counters = new PeerCounters();
  /** Set when `drain()` gave up on this peer (drop policy): not waited for again until it drained. */
  drainGaveUp = false;
  /** Why it was disconnected (set on the way to `closing`). */
  reason: DisconnectReason | undefined;
  /** The server's accept order (the oldest waiting peer is evicted first). */
  admissionSeq = 0;
  /** Start (ms) of the current one-second window of invalid messages, and their count in it (`maxInvalidPerSecond`). */
  #invalidWindow = 0;
  #invalidInWindow = 0;

  constructor(stream: TransportStream, host: PeerHost) {
    this.#host = host;
    this.id = `client_${++peerCounter}_${this.connectedAt}`;
    const s = host.settings;
    this.conn = new FramedConnection(
      stream,
      s.maxMessageSize,
      {
        onMessage: (m, bytes) => this.#onMessage(m, bytes),
        onInvalidMessage: (err) => this.#onInvalid(err),
        onProtocolError: (err) => this.#onBrokenFraming(err),
        onEndOfStream: () => void this.close({ code: ErrorCode.CLOSED, text: 'peer ended the stream (zero-length frame)' }),
        afterChunk: () => this.#checkFrameTimer(),
        onClose: (err) => this.#onClose(err),
      },
      host.batchShare,
    );
  }

  /** Current state. */
  get state(): PeerState {
    return this.#state;
  }

  /** True once the peer announced itself with a handshake `hello`. */
  get hello(): boolean {
    return this.#hello;
  }

  /**
   * True when its hello said `role: "sender"` (`socketkit send`): a
   * registered client that never takes the no-client queue and gets no
   * broadcasts (only replies and messages sent to its id).
   */
  get sender(): boolean {
    return this.#sender;
  }

  /**
   * True while awaiting with its exchange started: a token peer whose hello
   * was answered with a challenge. Such a peer is never evicted by newer
   * connections (it has `authTimeout` to send its proof).
   */
  get inExchange(): boolean {
    return this.#state === 'awaiting' && this.#auth !== undefined;
  }

  /** True in `awaiting` or `registered` (live broadcasts go to such peers when the server has no token). */
  get open(): boolean {
    return this.#state === 'awaiting' || this.#state === 'registered';
  }

  /** True while it holds one of the `maxMonitors` places: a monitor, or a peer a full server admitted only as a possible monitor. */
  get holdsMonitorPlace(): boolean {
    return this.#state === 'monitoring' || (this.#monitorOnly && this.#state === 'accepted');
  }

  /**
   * A full server without a token (every client slot taken) keeps the peer
   * in `accepted`, with no slot and no broadcasts, only to see whether it is
   * a monitor: its first frame must be a monitor `hello`; anything else, or
   * nothing within `registerGraceMs`, is refused `MAX_CONNECTIONS` as it
   * would have been at accept.
   */
  admitMonitorOnly(): void {
    if (this.#state !== 'accepted') return;
    this.#monitorOnly = true;
    this.#timer = startTimer(this.#host.settings.registerGraceMs, () => this.#host.refuseFull(this));
  }

  /** `accepted → awaiting`: starts the registration grace (no token) or the auth timeout (token). */
  admit(): void {
    if (this.#state !== 'accepted') return;
    this.#state = 'awaiting';
    const s = this.#host.settings;
    if (s.requireHello && this.#host.token === undefined) {
      this.#timer = startTimer(s.authTimeout, () =>
        this.#host.refuse(this, ErrorCode.TIMEOUT, `no hello within ${s.authTimeout} ms: this server requires the handshake (a socketkit client sends it)`),
      );
    } else if (this.#host.token === undefined) {
      this.#timer = startTimer(s.registerGraceMs, () => this.#register());
      // Broadcasts from accept (issue 23), once a socketkit client had its
      // chance to say hello. setImmediate: the poll phase between the timer
      // and the check reads a hello already in the socket, so a loaded server
      // never takes its own lag for the peer's silence.
      this.#windowTimer = startTimer(HELLO_WINDOW_MS, () => setImmediate(() => this.#goLive()));
    } else {
      this.#timer = startTimer(s.authTimeout, () =>
        this.#host.refuse(this, ErrorCode.UNAUTHORIZED, `no authentication within ${s.authTimeout} ms: pass the server's token in the client options`),
      );
    }
  }

  /**
   * Writes one frame, counting it against `maxPendingBytes`. Past the bound
   * the slow-consumer policy applies: `drop` drops this frame, `disconnect`
   * closes the peer with ERROR `SLOW_CONSUMER`.
   * `immediate` writes at once even while awaiting registration (the auth challenge).
   * @returns Whether the frame was written.
   */
  deliver(frame: Uint8Array, immediate = false): boolean {
    if (!this.open) return false;
    const s = this.#host.settings;
    const pending = this.conn.pendingBytes + this.#heldBytes;
    if (pending + frame.length > s.maxPendingBytes) {
      this.#host.counters.slowConsumerDisconnects++;
      if (s.slowConsumerPolicy === 'drop') {
        this.dropped++;
        this.counters.dropped++;
        this.#host.onDropped(this, this.dropped);
        return false;
      }
      this.slowConsumer(`${pending} bytes pending, above maxPendingBytes ${s.maxPendingBytes}`);
      return false;
    }
    this.#countOut(frame.length);
    if (this.#state === 'awaiting' && !immediate && !this.#live) {
      // Live broadcasts wait (counted above) until the peer registers, so a
      // client that says hello gets its welcome first (D3), then the queue,
      // then these, in order. A socketkit client's hello is its first frame,
      // so it arrives long before MAX_HELD_BYTES pile up; a peer that lets
      // them pile up is not waiting for a welcome (the Python module): it
      // gets what was held and then live broadcasts, as if never held.
      if (this.#heldBytes + frame.length <= MAX_HELD_BYTES) {
        this.#held.push(frame);
        this.#heldBytes += frame.length;
        return true;
      }
      this.#live = true;
      this.flushHeld();
    }
    if (!this.#hello) this.#wroteBeforeHello = true;
    return this.conn.write(frame);
  }

  /** The hello window ended: a peer still awaiting that sent nothing gets what was held, then broadcasts as they come. */
  #goLive(): void {
    if (this.#state !== 'awaiting' || this.#messages > 0 || this.#live) return;
    this.#live = true;
    this.flushHeld();
  }

  /** Writes the broadcasts held while the peer was awaiting registration (the host calls it after the queue). */
  flushHeld(): void {
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    // Already counted and checked against maxPendingBytes when they were held.
    if (!this.open || held.length === 0) return;
    if (!this.#hello) this.#wroteBeforeHello = true;
    for (const frame of held) this.conn.write(frame);
  }

  /** Disconnects with ERROR `SLOW_CONSUMER`. */
  slowConsumer(why: string): void {
    const name = this.#host.eventName;
    this.#host.log.warn(`client ${this.id} is not keeping up (${why}): disconnecting (SLOW_CONSUMER)`);
    void this.close(
      { code: ErrorCode.SLOW_CONSUMER, text: `slow consumer: ${why}` },
      this.#error(ErrorCode.SLOW_CONSUMER, `disconnected as a slow consumer of "${name}" (${why}): read faster, or ask the server to raise maxPendingBytes`),
    );
    // It does not read; whatever it still sends must not cost memory while its close runs out.
    this.conn.discardInput(true);
  }

  /**
   * `* → closing`: a refusal. The peer gets its ERROR and is closed after a
   * short, bounded linger (`refuseLingerMs`). Call it through the host,
   * which caps how many linger at once.
   */
  refuse(code: ErrorCode, text: string, replyTo?: string): Promise<void> {
    const linger = this.#host.settings.refuseLingerMs;
    // Already on its way out: its close is running (or done); nothing more is sent.
    if (this.#state === 'closing' || this.#state === 'closed') return this.conn.end(linger, undefined, linger);
    this.#toClosing({ code, text });
    return this.conn.end(linger, this.#error(code, text, replyTo), linger);
  }

  /** `* → closing`: graceful close, flushing what was written (plus `lastFrame`). */
  close(reason: DisconnectReason, lastFrame?: Uint8Array): Promise<void> {
    const s = this.#host.settings;
    if (this.#state !== 'closing' && this.#state !== 'closed') this.#toClosing(reason);
    return this.conn.end(s.closeTimeout, lastFrame, s.closeGraceMs);
  }

  /** `* → closing`: abrupt close, nothing more is written. */
  destroy(reason: DisconnectReason): Promise<void> {
    if (this.#state !== 'closing' && this.#state !== 'closed') this.#toClosing(reason);
    return this.conn.destroy();
  }

  #toClosing(reason: DisconnectReason): void {
    this.reason ??= reason;
    this.#wasRegistered = this.#state === 'registered';
    this.#state = 'closing';
    this.#held = [];
    this.#heldBytes = 0;
    this.#stopTimers();
    // Nothing a closing peer sends is acted on: do not even decode it.
    this.conn.discardInput();
  }

  #stopTimers(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#windowTimer);
    clearTimeout(this.#frameTimer);
    this.#frameTimer = undefined;
    this.#heartbeat?.stop();
  }

  /**
   * `awaiting → registered`, once: the host may refuse it (server full).
   * `first` runs right after the transition, before the host flushes the
   * queue (the welcome goes there: D3).
   */
  #register(first?: () => void): boolean {
    if (this.#state === 'registered') {
      first?.();
      return true;
    }
    if (this.#state !== 'awaiting') return false;
    clearTimeout(this.#timer);
    clearTimeout(this.#windowTimer);
    if (!this.#host.claimSlot(this)) return false;
    this.#state = 'registered';
    first?.();
    const s = this.#host.settings;
    if (this.#hello && s.heartbeatInterval > 0) {
      this.#heartbeat = new Heartbeat({
        intervalMs: s.heartbeatInterval,
        timeoutMs: s.heartbeatTimeout,
        ping: () => this.deliver(controlFrame(this.#host.eventName, { op: CONTROL_OPS.PING }, s.timezone)),
        dead: (silent) => {
          this.#host.log.warn(`client ${this.id} silent for ${silent} ms: dropping it (heartbeat)`);
          void this.destroy({ code: ErrorCode.TIMEOUT, text: 'heartbeat timeout' });
        },
      });
      this.#heartbeat.start();
    }
    this.#host.onRegistered(this);
    return true;
  }

  /** Counts one frame written (its length prefix included). */
  #countOut(total: number): void {
    if (!this.#host.settings.collectStats) return;
    this.counters.messagesOut++;
    this.counters.bytesOut += total;
    this.#host.counters.messagesOut++;
    this.#host.counters.bytesOut += total;
  }

  #onMessage(m: SocketMessage, payloadBytes: number): void {
    if (this.#host.settings.collectStats) {
      const bytes = payloadBytes + FRAME_HEADER;
      this.counters.messagesIn++;
      this.counters.bytesIn += bytes;
      this.#host.counters.messagesIn++;
      this.#host.counters.bytesIn += bytes;
    }
    if (this.#state === 'monitoring') {
      this.#onMonitorRequest(m);
      return;
    }
    if (this.#monitorOnly && this.#state === 'accepted') {
      // A full server: only a monitor may come in.
      if (this.#messages++ === 0 && this.#isHandshakeHello(m) && m.data.role === 'monitor') this.#onHello(m);
      else this.#host.refuseFull(this);
      return;
    }
    if (!this.open) return;
    this.#heartbeat?.seen();
    const first = this.#messages++ === 0;
    if (first && this.#isHandshakeHello(m)) {
      this.#onHello(m);
      return;
    }
    if (this.#hello && isReservedControl(m)) {
      if (m.data.op === CONTROL_OPS.AUTH_PROOF) this.#onAuthProof(m);
      // An unauthenticated peer gets nothing but the auth exchange.
      else if (m.data.op === CONTROL_OPS.PING && (this.#state === 'registered' || this.#host.token === undefined)) this.deliver(this.#host.pongFrame());
      return;
    }
    if (this.#state === 'awaiting') {
      if (this.#host.token !== undefined || this.#host.settings.requireHello) {
        const why = this.#host.token !== undefined ? 'requires a token: send hello with the token' : 'requires the handshake: send hello';
        this.#host.refuse(this, ErrorCode.UNAUTHORIZED, `server "${this.#host.eventName}" ${why} before anything else`);
        return;
      }
      if (!this.#register()) return;
    }
    this.#host.onMessage(this, m);
  }

  /** A hello is the handshake's only when it is the peer's first message and carries the handshake's own fields. */
  #isHandshakeHello(m: SocketMessage): boolean {
    const p = m.data.protocol;
    return m.messageType === MessageType.CONTROL && m.data.op === CONTROL_OPS.HELLO && typeof p === 'number' && Number.isInteger(p) && p >= 1;
  }

  // ---- handshake (issue 13): event check, protocol 2 challenge-response, welcome ----

  /**
   * hello: refuse another event (WRONG_EVENT) or, with a token, protocol 1
   * (PROTOCOL_MISMATCH); a monitor when stats are not exposed
   * (STATS_DISABLED); then challenge (token), or welcome / monitoring.
   */
  #onHello(m: SocketMessage): void {
    const host = this.#host;
    const monitor = m.data.role === 'monitor';
    const refusal = checkHello(m, host.eventName, host.token !== undefined, monitor ? 'monitor' : 'client');
    if (refusal !== undefined) {
      host.refuse(this, refusal.code, refusal.reason);
      return;
    }
    if (this.#wroteBeforeHello) {
      // Its hello came after its hello window, and frames were written to it
      // already: a socketkit client has taken them for a server without the
      // handshake. A clean, retryable refusal instead of a half-working session.
      host.refuse(
        this,
        ErrorCode.ADMISSION_FULL,
        `the hello reached "${host.eventName}" ${Date.now() - this.connectedAt} ms after the connection, once broadcasts had been ` +
          `written to it (a peer has ${HELLO_WINDOW_MS} ms to say hello): reconnect (a socketkit client retries with backoff)`,
      );
      return;
    }
    if (monitor && !host.settings.exposeStats) {
      host.refuse(this, ErrorCode.STATS_DISABLED, `server "${host.eventName}" does not expose stats to monitors: start it with exposeStats: true`);
      return;
    }
    this.#hello = true;
    this.#monitor = monitor;
    this.#sender = m.data.role === 'sender';
    // A sender takes no broadcasts: drop what was held for it since its accept.
    if (this.#sender) {
      this.#held = [];
      this.#heldBytes = 0;
    }
    if (host.token === undefined) {
      if (monitor) this.#enterMonitoring();
      else this.#welcome();
      return;
    }
    this.#auth = new ServerAuth(host.token, host.eventName);
    const step = this.#auth.onHello(m.data);
    if (!step.ok) host.refuse(this, step.code, step.reason);
    // The challenge goes out now (counted), not held like broadcasts until registration.
    else if (step.send !== undefined) this.deliver(controlFrame(host.eventName, step.send, host.settings.timezone), true);
  }

  /**
   * `awaiting | accepted → monitoring`: a monitor (`hello` with `role:
   * "monitor"`; with a token, once it proved it) is answered before
   * registration and never registers: it takes no client slot, never the
   * queue, gets no broadcasts and fires no `clientConnected`. It gets a
   * `welcome` with `role: "monitor"` (so a monitor holding a token can tell
   * a server that never proved it), may ask one `stats` request, then it is
   * closed; it has `authTimeout` to ask. At most `maxMonitors` at once.
   */
  #enterMonitoring(): void {
    const host = this.#host;
    const s = host.settings;
    clearTimeout(this.#timer);
    if (!host.claimMonitor(this)) return;
    this.#state = 'monitoring';
    this.#monitorOnly = false;
    this.#held = [];
    this.#heldBytes = 0;
    const welcome = controlFrame(host.eventName, { op: CONTROL_OPS.WELCOME, protocol: PROTOCOL_VERSION, event: host.eventName, role: 'monitor' }, s.timezone);
    this.#countOut(welcome.length);
    this.conn.write(welcome);
    this.#timer = startTimer(s.authTimeout, () => host.refuse(this, ErrorCode.TIMEOUT, `no stats request within ${s.authTimeout} ms`));
  }

  #onMonitorRequest(m: SocketMessage): void {
    if (m.messageType !== MessageType.CONTROL || m.data.op !== CONTROL_OPS.STATS || m.id === undefined) {
      this.#host.refuse(this, ErrorCode.INVALID_MESSAGE, 'a monitor may only send one {op: "stats"} CONTROL request with an id');
      return;
    }
    clearTimeout(this.#timer);
    const s = this.#host.settings;
    const frame = controlReply(this.#host.eventName, { op: CONTROL_OPS.STATS, stats: this.#host.stats() as unknown as MessageData }, s.timezone, m.id);
    this.#countOut(frame.length);
    this.#toClosing({ code: ErrorCode.CLOSED, text: 'monitor answered' });
    void this.conn.end(s.closeTimeout, frame, s.closeGraceMs);
  }

  /** auth_proof: the client's proof; welcome on success, UNAUTHORIZED otherwise. */
  #onAuthProof(m: SocketMessage): void {
    if (this.#state !== 'awaiting') return;
    if (this.#auth === undefined) {
      this.#host.refuse(this, ErrorCode.UNAUTHORIZED, `auth_proof before hello on "${this.#host.eventName}": send hello first`);
      return;
    }
    const step = this.#auth.onProof(m.data);
    if (!step.ok) {
      this.#host.refuse(this, step.code, step.reason);
      return;
    }
    // The client proved the token: a transport that authenticates frames (NATS) keys itself before the welcome.
    const key = this.#auth.sessionKey;
    if (key !== undefined) this.conn.stream.authenticated?.(key);
    if (this.#monitor) this.#enterMonitoring();
    else this.#welcome();
  }

  /** Registers with the welcome (naming the event) as the first frame (D3). */
  #welcome(): void {
    const host = this.#host;
    const s = host.settings;
    this.#register(() => {
      this.deliver(
        controlFrame(
          host.eventName,
          {
            op: CONTROL_OPS.WELCOME,
            protocol: PROTOCOL_VERSION,
            event: host.eventName,
            client_id: this.id,
            allow_client_send: s.allowClientSend,
            max_message_size: s.maxMessageSize,
            // Tells a sender its role was honoured (a server older than issue 23 ignores it).
            ...(this.#sender ? { role: 'sender' } : {}),
          },
          s.timezone,
        ),
      );
    });
  }

  #error(code: string, text: string, replyTo?: string): Buffer {
    return errorFrame(this.#host.eventName, code as ErrorCode, text, this.#host.settings.timezone, replyTo);
  }

  /** Sends an ERROR reply (counted like any frame). */
  sendError(code: string, text: string, replyTo?: string): boolean {
    return this.deliver(this.#error(code, text, replyTo));
  }

  /** Builds and delivers a reply to `request`; an oversized reply becomes ERROR `FRAME_TOO_LARGE` to the client. */
  reply(request: SocketMessage, data: MessageData, type: MessageType = MessageType.DATA): boolean {
    const s = this.#host.settings;
    let frame: Buffer;
    try {
      frame = encodeFrame(createMessage(this.#host.eventName, type, data, { timezone: s.timezone, replyTo: request.id as string }), s.maxMessageSize);
    } catch (err) {
      // The library could not send the reply (e.g. FRAME_TOO_LARGE): a library error, with its code.
      const code = err instanceof SocketError ? err.code : ErrorCode.HANDLER_FAILED;
      this.#host.log.warn(`the reply to a request on "${this.#host.eventName}" could not be sent (${code}): ${describeThrown(err).slice(0, 200)}`);
      this.sendError(code, `the reply could not be sent: ${describeThrown(err)}`, request.id as string);
      return false;
    }
    return this.deliver(frame);
  }

  /** Sends a handler failure back as an ERROR reply; the text is cut to fit `maxMessageSize`. */
  replyError(request: SocketMessage, err: unknown): void {
    if (!this.open) return;
    const code = handlerCode(err);
    let text = describeThrown(err);
    // Leave room for the envelope (~200 bytes) and multi-byte characters.
    const room = Math.max(64, Math.floor((this.#host.settings.maxMessageSize - 512) / 4));
    if (text.length > room) text = `${text.slice(0, room)}… (cut: ${text.length} characters)`;
    this.#host.log.warn(`request handler for "${this.#host.eventName}" failed (${code}): ${text.slice(0, 200)}`);
    // origin "handler": the code is the application's, rebuilt as a RemoteError by the client.
    this.deliver(errorFrame(this.#host.eventName, code, text, this.#host.settings.timezone, request.id, HANDLER_ORIGIN));
  }

  /**
   * A skipped invalid message: reported (the host rate-limits its log), and
   * counted in a one-second window; past `maxInvalidPerSecond` the peer is
   * disconnected with `TOO_MANY_INVALID`.
   */
  #onInvalid(err: MessageError): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    const max = this.#host.settings.maxInvalidPerSecond;
    const now = Date.now();
    if (now - this.#invalidWindow >= 1000) {
      this.#invalidWindow = now;
      this.#invalidInWindow = 0;
    }
    if (++this.#invalidInWindow > max) {
      this.#host.refuse(
        this,
        ErrorCode.TOO_MANY_INVALID,
        `more than ${max} invalid messages within one second (maxInvalidPerSecond) from this connection to ` +
          `"${this.#host.eventName}": fix the sender; closing this connection`,
      );
      return;
    }
    this.#host.onPeerError(this, err);
  }

  #onBrokenFraming(err: MessageError): void {
    // Reported once as an error, and as a refusal (event, rate-limited warning).
    this.#host.onPeerError(this, err);
    this.#host.refuse(this, err.code, `${err.message}; closing this connection`);
  }

  /** A started frame must be finished within `frameTimeoutMs` (a peer cannot hold a slot by trickling one frame). */
  #checkFrameTimer(): void {
    if (!this.open) return;
    const buffered = this.conn.decoder.bufferedBytes;
    if (buffered === 0) {
      clearTimeout(this.#frameTimer);
      this.#frameTimer = undefined;
      return;
    }
    const mark = this.conn.framesReceived + this.conn.invalidMessages;
    if (this.#frameTimer !== undefined && mark === this.#frameMark) return;
    this.#frameMark = mark;
    clearTimeout(this.#frameTimer);
    const ms = this.#host.settings.frameTimeoutMs;
    this.#frameTimer = startTimer(ms, () => {
      this.#host.refuse(this, ErrorCode.TIMEOUT, `a frame was started but not finished within ${ms} ms (frameTimeoutMs): send whole frames`);
    });
  }

  #onClose(err: Error | undefined): void {
    const was = this.#state === 'registered' || (this.#state === 'closing' && this.#wasRegistered);
    if (this.#state !== 'closing') {
      this.#wasRegistered = this.#state === 'registered';
      this.reason ??=
        err !== undefined
          ? {
              code: ErrorCode.CONNECTION_LOST,
              text: `connection error: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
            }
          : { code: ErrorCode.CLOSED, text: 'client disconnected' };
    }
    this.#stopTimers();
    this.#state = 'closed';
    this.#host.onClosed(this, was);
  }
}
