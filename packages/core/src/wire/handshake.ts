/**
 * The client side of the handshake, written once for the client engine and
 * for monitors (PROTOCOL.md "Handshake"): the `hello` to send, then, frame by
 * frame until the server answered, the token challenge–response (see
 * {@link ClientAuth}) and the checks of the `welcome`.
 *
 * It is pure (no I/O): the caller feeds it the server's frames (never a
 * library ERROR, which the caller handles first) while {@link
 * ClientHandshake.state} is `pending`, and sends what it returns.
 * @packageDocumentation
 */
import { CONTROL_OPS, MessageType, type MessageData, type SocketMessage } from '@socketkit/protocol';
import { ClientAuth, checkWelcomeEvent, plainHello, type AuthRefusal, type RandomSource } from './auth.js';

/**
 * Where a client handshake stands. `pending`: hello sent, no answer yet.
 * `done`: welcomed (and, with a token, the server proved it). `foreign`
 * (clients without a token only): the server's first frame was not a
 * welcome, so it does not speak the handshake. `refused`: the server failed
 * a check; the caller raises the refusal and closes.
 */
export type ClientHandshakeState = 'pending' | 'done' | 'foreign' | 'refused';

/**
 * What one frame did to the handshake. `proof`: the server proved the token;
 * send `send` (the `auth_proof`) and key the transport with `sessionKey` if it
 * authenticates frames. `welcome`: welcomed. `refused`: final. `foreign`: the
 * first frame of a server without the handshake (it is application data).
 * `ignored`: not part of the handshake (a token session drops it; a monitor
 * reads on).
 */
export type HandshakeStep =
  | { readonly kind: 'proof'; readonly send: MessageData; readonly sessionKey: Buffer | undefined }
  | { readonly kind: 'welcome' }
  | { readonly kind: 'refused'; readonly refusal: AuthRefusal }
  | { readonly kind: 'foreign' }
  | { readonly kind: 'ignored' };

/** Options of {@link ClientHandshake}. */
export interface ClientHandshakeOptions {
  /** The server's token: the challenge–response of protocol 2 runs before the welcome counts. */
  token?: string | undefined;
  /**
   * The role the hello announces: `sender` (a send-only client) or
   * `monitor` (a stats request; its welcome carries no client id).
   * Absent: a client.
   */
  role?: 'sender' | 'monitor' | undefined;
  /** Source of the nonce (tests). */
  random?: RandomSource;
}

const IGNORED: HandshakeStep = { kind: 'ignored' };

/** One connection's client handshake; create one per connection (fresh nonce). */
export class ClientHandshake {
  /** The event this client speaks for. */
  readonly eventName: string;
  readonly #auth: ClientAuth | undefined;
  readonly #role: 'sender' | 'monitor' | undefined;
  #state: ClientHandshakeState = 'pending';

  constructor(eventName: string, options: ClientHandshakeOptions = {}) {
    this.eventName = eventName;
    this.#role = options.role;
    this.#auth = options.token === undefined ? undefined : new ClientAuth(options.token, eventName, options.random);
  }

  /** True when it authenticates with a token (sends wait for the welcome). */
  get authenticates(): boolean {
    return this.#auth !== undefined;
  }

  /** Where it stands (see {@link ClientHandshakeState}). */
  get state(): ClientHandshakeState {
    return this.#state;
  }

  /** The `hello` to send first: the current protocol, the event, the nonce with a token, the role if not a client. */
  hello(): MessageData {
    const hello = this.#auth?.hello() ?? plainHello(this.eventName);
    if (this.#role !== undefined) hello.role = this.#role;
    return hello;
  }

  /**
   * Takes one frame from the server (not a library ERROR) while `pending`:
   * an `auth_challenge` (with a token), the `welcome` (checked: the event it
   * names, and with a token that the server proved itself first), or
   * anything else (see {@link HandshakeStep}).
   */
  onFrame(m: SocketMessage): HandshakeStep {
    if (this.#state !== 'pending') return IGNORED;
    const auth = this.#auth;
    if (auth !== undefined && m.messageType === MessageType.CONTROL && m.data.op === CONTROL_OPS.AUTH_CHALLENGE) {
      const step = auth.onChallenge(m.data);
      if (!step.ok) return this.#refuse(step);
      return { kind: 'proof', send: step.send as MessageData, sessionKey: auth.sessionKey };
    }
    if (this.#isWelcome(m)) {
      const refusal = checkWelcomeEvent(m.data, this.eventName) ?? auth?.onWelcome();
      if (refusal !== undefined) return this.#refuse(refusal);
      this.#state = 'done';
      return { kind: 'welcome' };
    }
    // With a token: not part of the handshake (e.g. a NATS broadcast that
    // overtook the welcome), never taken for an impostor; only a failed proof
    // is. A monitor reads on to its reply.
    if (auth !== undefined || this.#role === 'monitor') return IGNORED;
    // A socketkit server writes welcome before anything else to a peer that
    // said hello: anything else first means this server does not speak the
    // handshake, and its reserved ops are application data.
    this.#state = 'foreign';
    return { kind: 'foreign' };
  }

  /** A client's welcome names the client id the server assigned; a monitor's names none. */
  #isWelcome(m: SocketMessage): boolean {
    if (m.messageType !== MessageType.CONTROL || m.data.op !== CONTROL_OPS.WELCOME) return false;
    return this.#role === 'monitor' || typeof m.data.client_id === 'string';
  }

  #refuse(refusal: AuthRefusal): HandshakeStep {
    this.#state = 'refused';
    return { kind: 'refused', refusal: { code: refusal.code, reason: refusal.reason } };
  }
}
