import { CONTROL_OPS, ErrorCode, MessageType, isReservedControl } from '@socketkit/protocol';
import type { MessageData, MessageError, SocketMessage } from '@socketkit/protocol';
import { PeerCounters } from '../ops/stats.js';
import { startTimer } from '../settings.js';
import type { TransportStream } from '../transport.js';
import { ServerAuth } from '../wire/auth.js';
import { FramedConnection, type OutFrame } from '../wire/connection.js';
import { controlFrame, errorFrame } from '../wire/frames.js';
import type { Heartbeat } from '../wire/heartbeat.js';
import { InputGuard } from './input-guard.js';
import type { PeerContext, PeerHost as PeerHostOf } from './peer-host.js';
import { type DisconnectReason, type Held, type PeerState, type Phase, FRAME_HEADER } from './peer-state.js';
import { HELLO_WINDOW_MS, awaitingRule, closeReason, countFrame } from './peer-state.js';
import { firstMessageRefusal, helloRefusal, isHandshakeHello, isOpen, roleOf, settlesWithin } from './peer-state.js';
import { countFrames, hold, peerHeartbeat, recount } from './peer-state.js';
import { handlerErrorFrame, monitorAnswer, monitorWelcomeFrame, replyFrame, welcomeFrame } from './replies.js';

export { type DisconnectReason, HELLO_WINDOW_MS, MAX_HELD_BYTES, type PeerState } from './peer-state.js';
export type { PeerContext } from './peer-host.js';

/** What a {@link ServerPeer} asks of its server. */
export type PeerHost = PeerHostOf<ServerPeer>;

let peerCounter = 0;

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
  #phase: Phase = { name: 'accepted', refuseFull: undefined };
  readonly #host: PeerHost;
  readonly #c: PeerContext;
  /** Application and control messages received (the first one may be the hello). */
  #messages = 0;
  /** The registration grace, auth, or monitor timer of the current state. */
  #timer: NodeJS.Timeout | undefined;
  /** The hello window (HELLO_WINDOW_MS) of a peer admitted without a token. */
  #windowTimer: NodeJS.Timeout | undefined;
  /** The invalid-message rate and the frame timer. */
  readonly #guard: InputGuard;
  #heartbeat: Heartbeat | undefined;
  /** Messages dropped under `slowConsumerPolicy: 'drop'`. */
  dropped = 0;
  /** This peer's traffic (counters only; see stats.ts). */
  readonly counters = new PeerCounters();
  /** Why it was disconnected (set on the way to `closing`). */
  reason: DisconnectReason | undefined;
  /** The server's accept order (the oldest waiting peer is evicted first). */
  admissionSeq = 0;

  constructor(stream: TransportStream, host: PeerHost) {
    this.#host = host;
    this.#c = host.context;
    this.id = `client_${++peerCounter}_${this.connectedAt}`;
    this.#guard = new InputGuard(this.#c.settings, this.#c.eventName, (code, text) => this.#refuse(code, text));
    this.conn = new FramedConnection(
      stream,
      this.#c.settings.maxMessageSize,
      {
        onMessage: (m, bytes) => this.#onMessage(m, bytes),
        onInvalidMessage: (err) => this.#onInvalid(err),
        onProtocolError: (err) => this.#onBrokenFraming(err),
        onEndOfStream: () =>
          void this.close({ code: ErrorCode.CLOSED, text: 'peer ended the stream (zero-length frame)' }),
        afterChunk: () => {
          if (this.open) this.#guard.afterChunk(this.conn);
        },
        onClose: (err) => this.#onClose(err),
        onRunWritten: (n, bytes) => this.#countOut(bytes, n),
      },
      this.#c.batchShare,
    );
  }

  /** Current state. */
  get state(): PeerState {
    return this.#phase.name;
  }

  /** True once the peer announced itself with a handshake `hello`. */
  get hello(): boolean {
    const ph = this.#phase;
    return ph.name === 'monitoring' || (isOpen(ph) && ph.role !== undefined);
  }

  /** True when its hello said `role: "sender"` (`socketkit send`): never the queue nor broadcasts, only unicasts. */
  get sender(): boolean {
    const ph = this.#phase;
    return isOpen(ph) && ph.role === 'sender';
  }

  /** True while awaiting with its auth exchange started (challenge sent): never evicted by newer connections. */
  get inExchange(): boolean {
    return this.#phase.name === 'awaiting' && this.#phase.auth !== undefined;
  }

  /** True in `awaiting` or `registered` (live broadcasts go to such peers when the server has no token). */
  get open(): boolean {
    return isOpen(this.#phase);
  }

  /**
   * Whether a broadcast goes to this peer, the one rule of the fan-out: a
   * registered client that is not a sender, or (a server without a token) a
   * peer awaiting registration, which holds it until then (see `deliver`).
   */
  get takesBroadcasts(): boolean {
    const ph = this.#phase;
    if (ph.name === 'registered') return ph.role !== 'sender';
    return ph.name === 'awaiting' && this.#c.token === undefined;
  }

  /** True while it holds one of the `maxMonitors` places: a monitor, or a possible one on a full server. */
  get holdsMonitorPlace(): boolean {
    const ph = this.#phase;
    return ph.name === 'monitoring' || (ph.name === 'accepted' && ph.refuseFull !== undefined);
  }

  /** True when `drain()` gave up on this peer (drop policy): not waited for again until it drained. */
  get drainGaveUp(): boolean {
    const ph = this.#phase;
    return isOpen(ph) && ph.gaveUp;
  }

  /**
   * A full server without a token (every client slot taken) keeps the peer
   * in `accepted`, with no slot and no broadcasts, only to see whether it is
   * a monitor: its first frame must be a monitor `hello`; anything else, or
   * nothing within `registerGraceMs`, is refused with `refuseFull` (the
   * server's `MAX_CONNECTIONS` refusal, as at accept).
   */
  admitMonitorOnly(refuseFull: () => void): void {
    if (this.#phase.name !== 'accepted') return;
    this.#enter({ name: 'accepted', refuseFull });
    this.#timer = startTimer(this.#c.settings.registerGraceMs, refuseFull);
  }

  /** `accepted → awaiting`: starts the registration grace (no token) or the auth timeout (token). */
  admit(): void {
    if (this.#phase.name !== 'accepted') return;
    const held: Held = { frames: [], bytes: 0 };
    this.#enter({ name: 'awaiting', role: undefined, auth: undefined, held, wrote: false, gaveUp: false });
    const rule = awaitingRule(this.#c);
    this.#timer = startTimer(rule.ms, () =>
      rule.refusal === undefined ? this.#register() : this.#refuse(rule.refusal.code, rule.refusal.reason),
    );
    // setImmediate: the poll phase between the timer and the check reads a
    // hello already in the socket (a loaded server's lag is not the peer's silence).
    if (rule.helloWindow)
      this.#windowTimer = startTimer(HELLO_WINDOW_MS, () => setImmediate(() => this.#endHelloWindow()));
  }

  /**
   * Writes one frame, counting it against `maxPendingBytes` (past it:
   * the slow-consumer rule, `#overLimit`). A broadcast to a peer awaiting
   * registration is held (counted now) until it registers, so a client that
   * says hello gets its welcome first, then the queue, then these, in order;
   * `immediate` writes at once (the auth challenge).
   * @returns Whether the frame was written (or held).
   */
  deliver(frame: OutFrame, immediate = false): boolean {
    const ph = this.#phase;
    if (!isOpen(ph)) return false;
    const max = this.#c.settings.maxPendingBytes;
    const held = ph.held;
    const pending = this.conn.pendingBytes + (held?.bytes ?? 0);
    if (pending + frame.length > max) {
      this.#overLimit('frame', `${pending} bytes pending, above maxPendingBytes ${max}`);
      return false;
    }
    this.#countOut(frame.length);
    if (ph.name === 'awaiting' && held !== undefined && !immediate) {
      // A socketkit client's hello is its first frame, so it arrives long
      // before MAX_HELD_BYTES pile up; a peer that lets them pile up is not
      // waiting for a welcome (the Python module): it gets what was held and
      // then live broadcasts, as if never held.
      if (hold(held, frame)) return true;
      this.#goLive();
    }
    this.#wrote();
    return this.conn.write(frame);
  }

  /**
   * A broadcast of `bytes` through the server's shared run (see BroadcastRun): a registered client with room under
   * `maxPendingBytes` takes it (its connection joins the run: written and counted once per tick); others: `deliver`.
   * @returns Its room left under `maxPendingBytes` once it took the frame, or -1 (not taken: call `deliver`).
   */
  share(bytes: number): number {
    const ph = this.#phase;
    if (ph.name !== 'registered' || ph.held !== undefined || this.conn.closing) return -1;
    const room = this.#c.settings.maxPendingBytes - this.conn.pendingBytes - bytes;
    if (room < 0) return -1;
    this.#wrote();
    return room;
  }

  /**
   * The slow-consumer rule, in one place: the peer is over its bound (a
   * `frame` would pass `maxPendingBytes`, or it did not `drain` within
   * `drainTimeout`). Under `disconnect` it is cut off (counted once in
   * `slowConsumerDisconnects`); under `drop` the frame is dropped (counted in
   * the peer's `dropped`, `messageDropped`), or `drain()` stops waiting for
   * it until it has drained.
   */
  #overLimit(cause: 'frame' | 'drain', why: string): void {
    const ph = this.#phase;
    if (!isOpen(ph)) return;
    if (this.#c.settings.slowConsumerPolicy === 'disconnect') {
      this.slowConsumer(why);
      return;
    }
    if (cause === 'frame') {
      this.dropped++;
      this.counters.dropped++;
      this.#host.onDropped(this, this.dropped);
      return;
    }
    ph.gaveUp = true;
    void this.conn.waitForDrain().then(() => {
      const now = this.#phase;
      if (isOpen(now)) now.gaveUp = false;
    });
  }

  /**
   * Resolves once its pending bytes fell under its stream's high-water mark
   * (at once if they already are, or when it is not open or `drain()` gave
   * up on it); past `drainTimeout` the slow-consumer policy applies.
   */
  async drain(): Promise<void> {
    if (!this.open || this.drainGaveUp || !this.conn.needsDrain) return;
    const drained = this.conn.waitForDrain(); // hands this tick's batch to the stream first
    if (!this.conn.needsDrain) return; // that was all it took: no wait, so no drainTimeout timer
    const ms = this.#c.settings.drainTimeout;
    if (!(await settlesWithin(drained, ms))) this.#overLimit('drain', `did not drain within ${ms} ms`);
  }

  /** Disconnects with ERROR `SLOW_CONSUMER`, counted once in `slowConsumerDisconnects`. */
  slowConsumer(why: string): void {
    if (!this.open) return;
    const name = this.#c.eventName;
    this.#c.counters.slowConsumerDisconnects++;
    this.#c.log.warn(`client ${this.id} is not keeping up (${why}): disconnecting (SLOW_CONSUMER)`);
    void this.close(
      { code: ErrorCode.SLOW_CONSUMER, text: `slow consumer: ${why}` },
      this.#error(
        ErrorCode.SLOW_CONSUMER,
        `disconnected as a slow consumer of "${name}" (${why}): ` +
          'read faster, or ask the server to raise maxPendingBytes',
      ),
    );
    // It does not read; whatever it still sends must not cost memory while its close runs out.
    this.conn.discardInput(true);
  }

  /** Sends an ERROR reply (counted like any frame). */
  sendError(code: string, text: string, replyTo?: string): boolean {
    return this.deliver(this.#error(code, text, replyTo));
  }

  /** Builds and delivers a reply to `request`; an oversized reply becomes ERROR `FRAME_TOO_LARGE` to the client. */
  reply(request: SocketMessage, data: MessageData, type: MessageType = MessageType.DATA): boolean {
    const { frame, ok } = replyFrame(this.#c.eventName, this.#c.settings, this.#c.log, request, data, type);
    return this.deliver(frame) && ok;
  }

  /** Sends a handler failure back as an ERROR reply; the text is cut to fit `maxMessageSize`. */
  replyError(request: SocketMessage, err: unknown): void {
    if (!this.open) return;
    this.deliver(handlerErrorFrame(this.#c.eventName, this.#c.settings, this.#c.log, request, err));
  }

  /**
   * `* → closing`: a refusal. The peer gets its ERROR and is closed after a
   * short, bounded linger (`refuseLingerMs`). Call it through the host,
   * which caps how many linger at once.
   */
  refuse(code: ErrorCode, text: string, replyTo?: string): Promise<void> {
    const linger = this.#c.settings.refuseLingerMs;
    // Already on its way out: its close is running (or done); nothing more is sent.
    if (!this.#toClosing({ code, text })) return this.conn.end(linger, undefined, linger);
    return this.conn.end(linger, this.#error(code, text, replyTo), linger);
  }

  /** `* → closing`: graceful close, flushing what was written (plus `lastFrame`). */
  close(reason: DisconnectReason, lastFrame?: Uint8Array): Promise<void> {
    const s = this.#c.settings;
    this.#toClosing(reason);
    return this.conn.end(s.closeTimeout, lastFrame, s.closeGraceMs);
  }

  /** `* → closing`: abrupt close, nothing more is written. */
  destroy(reason: DisconnectReason): Promise<void> {
    this.#toClosing(reason);
    return this.conn.destroy();
  }

  /** Every state change goes through here: it keeps the server's census of awaiting and registered peers. */
  #enter(next: Phase): void {
    recount(this.#c.census, this.#phase.name, next.name);
    this.#phase = next;
  }

  /** @returns false when it was closing or closed already. */
  #toClosing(reason: DisconnectReason): boolean {
    const ph = this.#phase;
    if (ph.name === 'closing' || ph.name === 'closed') return false;
    this.reason ??= reason;
    this.#enter({ name: 'closing', wasRegistered: ph.name === 'registered' });
    this.#stopTimers();
    // Nothing a closing peer sends is acted on: do not even decode it.
    this.conn.discardInput();
    return true;
  }

  #refuse(code: ErrorCode, text: string): void {
    this.#host.refuse(this, code, text);
  }

  #stopTimers(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#windowTimer);
    this.#guard.stop();
    this.#heartbeat?.stop();
  }

  /** A frame is written: before any hello, that is remembered (a late hello is then refused). */
  #wrote(): void {
    const ph = this.#phase;
    if (isOpen(ph) && ph.role === undefined) ph.wrote = true;
  }

  /**
   * Writes what was held for the peer; an awaiting one then gets broadcasts
   * as they come (`#register` calls it once the queue was written).
   */
  #goLive(): void {
    const ph = this.#phase;
    if (!isOpen(ph) || ph.held === undefined) return;
    const { frames } = ph.held;
    ph.held = undefined;
    // Already counted and checked against maxPendingBytes when they were held.
    if (frames.length === 0) return;
    this.#wrote();
    for (const frame of frames) this.conn.write(frame);
  }

  /** The hello window ended: a peer still awaiting that sent nothing goes live. */
  #endHelloWindow(): void {
    if (this.#messages === 0) this.#goLive();
  }

  /**
   * `awaiting → registered`, once, when the server has a slot (else it
   * refused the peer). On the wire: its welcome when it said hello, the
   * no-client queue (older than the peer), the broadcasts held since its
   * accept (none for a sender); then the server announces it.
   */
  #register(): boolean {
    const ph = this.#phase;
    if (ph.name !== 'awaiting') return false;
    clearTimeout(this.#timer);
    clearTimeout(this.#windowTimer);
    return this.#host.register(this, (takeQueue) => {
      const { role, held, wrote, gaveUp } = ph;
      this.#enter({ name: 'registered', role, held, wrote, gaveUp });
      if (role !== undefined) this.#welcome();
      this.#startHeartbeat();
      if (this.open && !this.sender) for (const frame of takeQueue()) this.deliver(frame);
      this.#goLive();
    });
  }

  /** Writes the welcome (naming the event), the first frame of a registered client. */
  #welcome(): void {
    const c = this.#c;
    this.deliver(welcomeFrame(c.eventName, c.settings, this.id, this.sender));
  }

  #startHeartbeat(): void {
    if (!this.open || !this.hello) return;
    this.#heartbeat = peerHeartbeat(this.#c, this.id, (frame) => this.deliver(frame), this.destroy.bind(this));
  }

  /** Counts `n` frames written, of `bytes` bytes in all (length prefixes included). */
  #countOut(bytes: number, n = 1): void {
    if (this.#c.settings.collectStats) countFrames(this.counters, this.#c.counters, n, bytes);
  }

  #onMessage(m: SocketMessage, payloadBytes: number): void {
    const c = this.#c;
    if (c.settings.collectStats) countFrame(this.counters, c.counters, 'in', payloadBytes + FRAME_HEADER);
    const ph = this.#phase;
    if (ph.name === 'monitoring') {
      this.#onMonitorRequest(m);
      return;
    }
    if (ph.name === 'accepted' && ph.refuseFull !== undefined) {
      // A full server: only a monitor may come in.
      if (this.#messages++ === 0 && isHandshakeHello(m) && m.data.role === 'monitor') this.#onHello(m);
      else ph.refuseFull();
      return;
    }
    if (!isOpen(ph)) return;
    this.#heartbeat?.seen();
    const first = this.#messages++ === 0;
    if (first && isHandshakeHello(m)) {
      this.#onHello(m);
      return;
    }
    if (ph.role !== undefined && isReservedControl(m)) {
      if (m.data.op === CONTROL_OPS.AUTH_PROOF) this.#onAuthProof(m);
      // An unauthenticated peer gets nothing but the auth exchange.
      else if (m.data.op === CONTROL_OPS.PING && (ph.name === 'registered' || c.token === undefined))
        this.deliver(c.pong.frame());
      return;
    }
    if (ph.name === 'awaiting') {
      const refusal = firstMessageRefusal(c);
      if (refusal !== undefined) return this.#refuse(refusal.code, refusal.reason);
      if (!this.#register()) return;
    }
    this.#host.onMessage(this, m);
  }

  // ---- handshake (PROTOCOL.md): event check, protocol 2 challenge-response, welcome ----

  /**
   * hello: refused when {@link helloRefusal} says so; then the challenge
   * (token), or the welcome / monitoring.
   */
  #onHello(m: SocketMessage): void {
    const c = this.#c;
    const role = roleOf(m);
    const ph = this.#phase;
    const wrote = isOpen(ph) && ph.wrote;
    const refusal = helloRefusal(m, c, wrote, this.connectedAt);
    if (refusal !== undefined) {
      this.#refuse(refusal.code, refusal.reason);
      return;
    }
    if (isOpen(ph)) {
      ph.role = role;
      // A sender takes no broadcasts: drop what was held for it since its accept.
      if (role === 'sender' && ph.held !== undefined) ph.held = { frames: [], bytes: 0 };
    }
    if (c.token === undefined) {
      if (role === 'monitor') this.#enterMonitoring();
      else if (ph.name === 'registered') this.#welcome();
      else this.#register();
      return;
    }
    if (ph.name !== 'awaiting') return;
    ph.auth = new ServerAuth(c.token, c.eventName);
    const step = ph.auth.onHello(m.data);
    if (!step.ok) this.#refuse(step.code, step.reason);
    // The challenge goes out now (counted), not held like broadcasts until registration.
    else if (step.send !== undefined) this.deliver(controlFrame(c.eventName, step.send, c.settings.timezone), true);
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
    const { settings: s, eventName } = this.#c;
    clearTimeout(this.#timer);
    if (!this.#host.claimMonitor(this)) return;
    this.#enter({ name: 'monitoring' });
    const welcome = monitorWelcomeFrame(eventName, s.timezone);
    this.#countOut(welcome.length);
    this.conn.write(welcome);
    this.#timer = startTimer(s.authTimeout, () =>
      this.#refuse(ErrorCode.TIMEOUT, `no stats request within ${s.authTimeout} ms`),
    );
  }

  #onMonitorRequest(m: SocketMessage): void {
    const s = this.#c.settings;
    const frame = monitorAnswer(this.#c.eventName, s.timezone, m, () => this.#host.stats());
    if (frame === undefined) {
      this.#refuse(ErrorCode.INVALID_MESSAGE, 'a monitor may only send one {op: "stats"} CONTROL request with an id');
      return;
    }
    clearTimeout(this.#timer);
    this.#countOut(frame.length);
    this.#toClosing({ code: ErrorCode.CLOSED, text: 'monitor answered' });
    void this.conn.end(s.closeTimeout, frame, s.closeGraceMs);
  }

  /** auth_proof: the client's proof; welcome on success, UNAUTHORIZED otherwise. */
  #onAuthProof(m: SocketMessage): void {
    const ph = this.#phase;
    if (ph.name !== 'awaiting') return;
    if (ph.auth === undefined) {
      this.#refuse(ErrorCode.UNAUTHORIZED, `auth_proof before hello on "${this.#c.eventName}": send hello first`);
      return;
    }
    const step = ph.auth.onProof(m.data);
    if (!step.ok) {
      this.#refuse(step.code, step.reason);
      return;
    }
    // The client proved the token: a transport that authenticates frames (NATS) keys itself before the welcome.
    const key = ph.auth.sessionKey;
    if (key !== undefined) this.conn.stream.authenticated?.(key);
    if (ph.role === 'monitor') this.#enterMonitoring();
    else this.#register();
  }

  #error(code: string, text: string, replyTo?: string): Buffer {
    return errorFrame(this.#c.eventName, code as ErrorCode, text, this.#c.settings.timezone, replyTo);
  }

  /** A skipped invalid message: reported (the server rate-limits its log), unless it was one too many. */
  #onInvalid(err: MessageError): void {
    if (this.#phase.name === 'closing' || this.#phase.name === 'closed') return;
    if (this.#guard.invalid()) this.#host.onPeerError(this, err);
  }

  #onBrokenFraming(err: MessageError): void {
    // Reported once as an error, and as a refusal (event, rate-limited warning).
    this.#host.onPeerError(this, err);
    this.#refuse(err.code, `${err.message}; closing this connection`);
  }

  #onClose(err: Error | undefined): void {
    const ph = this.#phase;
    const was = ph.name === 'registered' || (ph.name === 'closing' && ph.wasRegistered);
    if (ph.name !== 'closing') this.reason ??= closeReason(err);
    this.#stopTimers();
    this.#enter({ name: 'closed', wasRegistered: was });
    this.#host.onClosed(this, was);
  }
}
