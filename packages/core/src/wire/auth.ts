/**
 * Token authentication of protocol 2: a challenge–response in which both
 * sides prove they know the token without sending it.
 *
 *   client → server  hello           {op, protocol: 3 (PROTOCOL_VERSION, ≥ 2), event, nonce: Nc}
 *   server → client  auth_challenge  {op, protocol: 2, nonce: Ns, proof: HMAC(token, T("server"))}
 *   client → server  auth_proof      {op, proof: HMAC(token, T("client"))}
 *   server → client  welcome         (or ERROR UNAUTHORIZED)
 *
 * T(role) = "socketkit-auth-v2" NUL role NUL event NUL Nc NUL Ns, HMAC-SHA256.
 * Nonces are 32 fresh random bytes (hex) from each side, so a recorded proof
 * never verifies in another session (no replay), and the role in the
 * transcript keeps a server proof from passing as a client proof
 * (reflection). The server proves first: an impostor server without the
 * token cannot produce its proof, and the client sends nothing derived from
 * the token before it has checked that proof, so the impostor learns nothing
 * it could test guesses against offline. Proofs are compared in constant time.
 *
 * Both sides then know a session key, HMAC-SHA256(token, "socketkit-session-v1"
 * NUL event NUL Nc NUL Ns) ({@link deriveSessionKey}): a transport that must
 * authenticate its frames itself (NATS, where other publishers share the
 * broker) derives its keys from it. It is never sent and is unique per
 * connection (both nonces).
 *
 * This module is pure (no I/O): the server and client feed it the `data` of
 * the peer's control messages and send what it returns.
 * @packageDocumentation
 */
import {
  CONTROL_OPS,
  ErrorCode,
  PROTOCOL_VERSION,
  ValidationError,
  type MessageData,
  type SocketMessage,
} from '@socketkit/protocol';

/**
 * node:crypto, loaded on first use: its ~20 internal modules would add milliseconds to every process's start-up
 * (issue 28), and a connection without a token never needs them.
 */
const crypto = () => process.getBuiltinModule('node:crypto');

/** Protocol version that introduced the challenge–response. */
export const AUTH_PROTOCOL = 2;
/** Shortest token accepted, in bytes (UTF-8): shorter ones fall to an offline guess of the HMAC. */
export const MIN_TOKEN_BYTES = 16;
/** Size of each side's nonce in bytes (sent as 64 hex characters). */
export const NONCE_BYTES = 32;

const LABEL = 'socketkit-auth-v2';
const HEX64 = /^[0-9a-f]{64}$/;

/** A refused handshake step: the ERROR code and text to send (server) or raise (client). */
export interface AuthRefusal {
  code: ErrorCode;
  reason: string;
}

/** Outcome of one handshake step: go on (sending `send` if present) or refuse. */
export type AuthStep = { ok: true; send?: MessageData } | ({ ok: false } & AuthRefusal);

/** Source of random bytes (replaceable in tests). */
export type RandomSource = (size: number) => Buffer;

/**
 * Validates a token option: undefined (no authentication) or a string of at
 * least {@link MIN_TOKEN_BYTES} bytes.
 * @throws ValidationError `INVALID_CONFIG` saying how to make a good token.
 */
export function validateToken(token: unknown, eventName: string): string | undefined {
  if (token === undefined) return undefined;
  if (typeof token !== 'string') {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `token for "${eventName}" must be a string of at least ${MIN_TOKEN_BYTES} bytes`,
      {
        details: { key: 'token' },
      },
    );
  }
  const bytes = Buffer.byteLength(token);
  if (bytes < MIN_TOKEN_BYTES) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `token for "${eventName}" is ${bytes} bytes, below the minimum of ${MIN_TOKEN_BYTES}: a ` +
        'short token can be guessed offline from one exchange; use random bytes, e.g. the output ' +
        'of "openssl rand -hex 32"',
      { details: { key: 'token', bytes } },
    );
  }
  return token;
}

function transcript(role: 'server' | 'client', event: string, clientNonce: string, serverNonce: string): string {
  return [LABEL, role, event, clientNonce, serverNonce].join('\0');
}

function proofOf(
  token: string,
  role: 'server' | 'client',
  event: string,
  clientNonce: string,
  serverNonce: string,
): Buffer {
  return crypto()
    .createHmac('sha256', token)
    .update(transcript(role, event, clientNonce, serverNonce))
    .digest();
}

/** Label of the session key's input (distinct from the proofs' transcript label). */
const SESSION_LABEL = 'socketkit-session-v1';

/**
 * The session key of one authenticated connection: HMAC-SHA256(token,
 * "socketkit-session-v1" NUL event NUL Nc NUL Ns), 32 bytes. Only holders of
 * the token can compute it, and each connection's (fresh nonces) differs.
 * Transports that need to authenticate frames (NATS) derive their keys from it.
 */
export function deriveSessionKey(token: string, eventName: string, clientNonce: string, serverNonce: string): Buffer {
  return crypto()
    .createHmac('sha256', token)
    .update([SESSION_LABEL, eventName, clientNonce, serverNonce].join('\0'))
    .digest();
}

function isNonce(v: unknown): v is string {
  return typeof v === 'string' && HEX64.test(v);
}

/** Constant-time check of a hex proof against the expected HMAC. */
function proofMatches(received: unknown, expected: Buffer): boolean {
  if (typeof received !== 'string' || !HEX64.test(received)) return false;
  return crypto().timingSafeEqual(Buffer.from(received, 'hex'), expected);
}

/**
 * The `hello` of a client without a token: the current {@link PROTOCOL_VERSION} and the event (named since protocol 2).
 */
export function plainHello(eventName: string): MessageData {
  return { op: CONTROL_OPS.HELLO, protocol: PROTOCOL_VERSION, event: eventName };
}

/**
 * Checks a `hello` against a server before any authentication: the event it
 * names (`WRONG_EVENT`; a hello without `event` is judged by the envelope's
 * `event_name`), and for a token server that the client speaks protocol 2
 * (`PROTOCOL_MISMATCH` for protocol 1, which sent the token in clear; a
 * plaintext `token` field is never accepted).
 * @returns the refusal, or undefined when the hello may proceed.
 */
export function checkHello(
  hello: Pick<SocketMessage, 'data' | 'eventName'>,
  serverEvent: string,
  tokenRequired: boolean,
  role: 'client' | 'monitor' = 'client',
): AuthRefusal | undefined {
  const data = hello.data;
  const event = typeof data.event === 'string' ? data.event : hello.eventName;
  if (event !== serverEvent) {
    return {
      code: ErrorCode.WRONG_EVENT,
      reason:
        `this server serves event "${serverEvent}", not "${event}": connect to the server of ` +
        `"${event}" (over TCP: its own port, or the address file of that event)`,
    };
  }
  if (!tokenRequired) return undefined;
  const protocol = typeof data.protocol === 'number' ? data.protocol : 1;
  if (protocol < AUTH_PROTOCOL || data.token !== undefined) {
    return {
      code: ErrorCode.PROTOCOL_MISMATCH,
      reason:
        `server "${serverEvent}" requires a token by challenge-response (socketkit ` +
        `protocol ${AUTH_PROTOCOL}); this client speaks protocol ${protocol}, which would send the ` +
        "token in clear: upgrade the client's socketkit",
    };
  }
  if (!isNonce(data.nonce)) {
    const where =
      role === 'monitor'
        ? 'to the monitor (socketkit stats/ls/top --token-file FILE, or the token option of fetchStats)'
        : 'in the client options';
    return {
      code: ErrorCode.UNAUTHORIZED,
      reason: `server "${serverEvent}" requires a token: pass the server's token ${where}`,
    };
  }
  return undefined;
}

/**
 * The server side of one connection's authentication. Feed it the client's
 * `hello`, send the challenge it returns, then feed it the `auth_proof`.
 */
export class ServerAuth {
  readonly #token: string;
  readonly #event: string;
  readonly #random: RandomSource;
  #clientNonce: string | undefined;
  #serverNonce: string | undefined;
  #state: 'hello' | 'proof' | 'done' | 'failed' = 'hello';

  constructor(token: string, eventName: string, random: RandomSource = (size) => crypto().randomBytes(size)) {
    this.#token = token;
    this.#event = eventName;
    this.#random = random;
  }

  /** True once the client proved it knows the token. */
  get authenticated(): boolean {
    return this.#state === 'done';
  }

  /** The session key ({@link deriveSessionKey}), once the client proved it knows the token; undefined before. */
  get sessionKey(): Buffer | undefined {
    if (this.#state !== 'done') return undefined;
    return deriveSessionKey(this.#token, this.#event, this.#clientNonce as string, this.#serverNonce as string);
  }

  /** Step 1: the client's `hello` data → the `auth_challenge` to send (the server's nonce and proof). */
  onHello(data: MessageData): AuthStep {
    if (this.#state !== 'hello')
      return this.#fail(ErrorCode.UNAUTHORIZED, 'hello repeated during authentication: start a new connection');
    if (!isNonce(data.nonce))
      return this.#fail(
        ErrorCode.UNAUTHORIZED,
        `server "${this.#event}" requires a token: pass the server's token in the client options`,
      );
    this.#clientNonce = data.nonce;
    this.#serverNonce = this.#random(NONCE_BYTES).toString('hex');
    this.#state = 'proof';
    const proof = proofOf(this.#token, 'server', this.#event, this.#clientNonce, this.#serverNonce).toString('hex');
    return {
      ok: true,
      send: { op: CONTROL_OPS.AUTH_CHALLENGE, protocol: AUTH_PROTOCOL, nonce: this.#serverNonce, proof },
    };
  }

  /** Step 2: the client's `auth_proof` data → ok (send welcome) or `UNAUTHORIZED`. */
  onProof(data: MessageData): AuthStep {
    if (this.#state !== 'proof') return this.#fail(ErrorCode.UNAUTHORIZED, 'auth_proof out of order: send hello first');
    const expected = proofOf(
      this.#token,
      'client',
      this.#event,
      this.#clientNonce as string,
      this.#serverNonce as string,
    );
    if (!proofMatches(data.proof, expected))
      return this.#fail(
        ErrorCode.UNAUTHORIZED,
        `wrong token for "${this.#event}": pass the server's token in the client options`,
      );
    this.#state = 'done';
    return { ok: true };
  }

  #fail(code: ErrorCode, reason: string): AuthStep {
    this.#state = 'failed';
    return { ok: false, code, reason };
  }
}

/**
 * The client side of one connection's authentication: send {@link hello},
 * feed it the server's `auth_challenge` and send the `auth_proof` it
 * returns; check the `welcome` with {@link ClientAuth.onWelcome}. Create one
 * per connection (fresh nonce).
 */
export class ClientAuth {
  readonly #token: string;
  readonly #event: string;
  readonly #clientNonce: string;
  #state: 'new' | 'challenge' | 'proved' | 'failed' = 'new';
  #serverNonce: string | undefined;

  constructor(token: string, eventName: string, random: RandomSource = (size) => crypto().randomBytes(size)) {
    this.#token = token;
    this.#event = eventName;
    this.#clientNonce = random(NONCE_BYTES).toString('hex');
  }

  /** True once the server proved it knows the token. */
  get serverProved(): boolean {
    return this.#state === 'proved';
  }

  /** The session key ({@link deriveSessionKey}), once the server proved it knows the token; undefined before. */
  get sessionKey(): Buffer | undefined {
    if (this.#state !== 'proved') return undefined;
    return deriveSessionKey(this.#token, this.#event, this.#clientNonce, this.#serverNonce as string);
  }

  /**
   * The `hello` to send: the current {@link PROTOCOL_VERSION} (at least {@link AUTH_PROTOCOL}), the event name and this
   * connection's nonce.
   */
  hello(): MessageData {
    this.#state = 'challenge';
    return { op: CONTROL_OPS.HELLO, protocol: PROTOCOL_VERSION, event: this.#event, nonce: this.#clientNonce };
  }

  /**
   * The server's `auth_challenge` data → the `auth_proof` to send, or `UNAUTHORIZED` if the server did not prove
   * itself.
   */
  onChallenge(data: MessageData): AuthStep {
    if (this.#state !== 'challenge') return this.#fail(`unexpected auth_challenge from the server of "${this.#event}"`);
    const serverNonce = data.nonce;
    if (!isNonce(serverNonce) || serverNonce === this.#clientNonce)
      return this.#fail(`the server of "${this.#event}" sent a malformed challenge`);
    const expected = proofOf(this.#token, 'server', this.#event, this.#clientNonce, serverNonce);
    if (!proofMatches(data.proof, expected)) {
      return this.#fail(
        `the server of "${this.#event}" could not prove it knows the token: it may be an ` +
          'impostor, or its token differs; check the address (host, port, socketDir) and that both ' +
          'sides use the same token',
      );
    }
    this.#state = 'proved';
    this.#serverNonce = serverNonce;
    const proof = proofOf(this.#token, 'client', this.#event, this.#clientNonce, serverNonce).toString('hex');
    return { ok: true, send: { op: CONTROL_OPS.AUTH_PROOF, proof } };
  }

  /** A `welcome` arrived: refused unless the server proved itself first. */
  onWelcome(): AuthRefusal | undefined {
    if (this.#state === 'proved') return undefined;
    this.#state = 'failed';
    return {
      code: ErrorCode.UNAUTHORIZED,
      reason:
        `the server of "${this.#event}" welcomed this client without proving it knows the token: ` +
        "it may be an impostor (or an old server without token support); check the address and the server's token",
    };
  }

  #fail(reason: string): AuthStep {
    this.#state = 'failed';
    return { ok: false, code: ErrorCode.UNAUTHORIZED, reason };
  }
}

/**
 * Checks the event a `welcome` names (protocol 2) against the client's.
 * @returns `WRONG_EVENT`, or undefined when it matches or is absent (older servers).
 */
export function checkWelcomeEvent(welcome: MessageData, clientEvent: string): AuthRefusal | undefined {
  if (typeof welcome.event !== 'string' || welcome.event === clientEvent) return undefined;
  return {
    code: ErrorCode.WRONG_EVENT,
    reason:
      `connected to the server of event "${welcome.event}", not "${clientEvent}": use the port or socketDir of ` +
      `the "${clientEvent}" server`,
  };
}
