import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { ErrorCode, PROTOCOL_VERSION, ValidationError, type MessageData } from '@socketkit/protocol';
import {
  ClientAuth,
  MIN_TOKEN_BYTES,
  ServerAuth,
  checkHello,
  checkWelcomeEvent,
  plainHello,
  validateToken,
  type AuthStep,
} from '../src/wire/auth.js';

const TOKEN = 'correct horse battery staple 42';
const EVENT = 'orders';

function sent(step: AuthStep): MessageData {
  if (!step.ok) throw new Error(`refused: ${step.code} ${step.reason}`);
  return step.send as MessageData;
}

/** One full exchange; returns every message produced, in order. */
function handshake(
  clientToken: string,
  serverToken: string,
): { messages: MessageData[]; server: ServerAuth; client: ClientAuth; last: AuthStep } {
  const client = new ClientAuth(clientToken, EVENT);
  const server = new ServerAuth(serverToken, EVENT);
  const hello = client.hello();
  const challenge = sent(server.onHello(hello));
  const reply = client.onChallenge(challenge);
  if (!reply.ok) return { messages: [hello, challenge], server, client, last: reply };
  const proof = sent(reply);
  return { messages: [hello, challenge, proof], server, client, last: server.onProof(proof) };
}

describe('token validation', () => {
  it(`tokens under ${MIN_TOKEN_BYTES} bytes are INVALID_CONFIG saying how to make one`, () => {
    expect(validateToken(undefined, EVENT)).toBeUndefined();
    expect(validateToken('x'.repeat(16), EVENT)).toBe('x'.repeat(16));
    for (const bad of ['', 'hunter2', 'x'.repeat(15)]) {
      const err = (() => {
        try {
          validateToken(bad, EVENT);
        } catch (e) {
          return e;
        }
        return undefined;
      })() as ValidationError;
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.code).toBe(ErrorCode.INVALID_CONFIG);
      expect(err.message).toContain('openssl rand');
      expect(err.message).not.toContain(bad === '' ? '\u0000' : bad);
    }
    // bytes, not characters: 8 two-byte characters are 16 bytes
    expect(validateToken('é'.repeat(8), EVENT)).toBe('é'.repeat(8));
    expect(() => validateToken(1234567890123456, EVENT)).toThrow(ValidationError);
  });
});

describe('challenge-response', () => {
  it('both sides with the same token: the server proves first, then the client; both end authenticated', () => {
    const { messages, server, client, last } = handshake(TOKEN, TOKEN);
    expect(messages.map((m) => m.op)).toEqual(['hello', 'auth_challenge', 'auth_proof']);
    expect(messages[0]).toMatchObject({ protocol: PROTOCOL_VERSION, event: EVENT });
    expect(String(messages[0]?.nonce)).toMatch(/^[0-9a-f]{64}$/);
    expect(String(messages[1]?.nonce)).toMatch(/^[0-9a-f]{64}$/);
    expect(last).toEqual({ ok: true });
    expect(server.authenticated).toBe(true);
    expect(client.serverProved).toBe(true);
    expect(client.onWelcome()).toBeUndefined();
  });

  it('the token never appears in any message produced (raw, hex or base64)', () => {
    const { messages } = handshake(TOKEN, TOKEN);
    const wire = JSON.stringify(messages);
    for (const form of [TOKEN, Buffer.from(TOKEN).toString('hex'), Buffer.from(TOKEN).toString('base64'), 'battery'])
      expect(wire).not.toContain(form);
  });

  it(
    'an impostor server without the token is refused by the client with UNAUTHORIZED, before the client sends any ' +
      'proof',
    () => {
      const client = new ClientAuth(TOKEN, EVENT);
      const impostor = new ServerAuth('an impostor guessing 1234', EVENT);
      const challenge = sent(impostor.onHello(client.hello()));
      const verdict = client.onChallenge(challenge);
      expect(verdict.ok).toBe(false);
      expect(verdict).toMatchObject({ code: ErrorCode.UNAUTHORIZED });
      expect((verdict as { reason: string }).reason).toContain('impostor');
      expect('send' in verdict).toBe(false);
      expect(client.serverProved).toBe(false);
    },
  );

  it('an impostor that skips the challenge and welcomes at once is refused (UNAUTHORIZED)', () => {
    const client = new ClientAuth(TOKEN, EVENT);
    client.hello();
    expect(client.onWelcome()).toMatchObject({ code: ErrorCode.UNAUTHORIZED });
  });

  it('an impostor echoing proofs or garbage gets nothing', () => {
    for (const challenge of [
      { op: 'auth_challenge' },
      { op: 'auth_challenge', nonce: 'zz', proof: 'x' },
      { op: 'auth_challenge', nonce: 'a'.repeat(64), proof: 'b'.repeat(64) },
      { op: 'auth_challenge', nonce: 1, proof: ['x'] },
    ]) {
      const client = new ClientAuth(TOKEN, EVENT);
      client.hello();
      expect(client.onChallenge(challenge as MessageData)).toMatchObject({ ok: false, code: ErrorCode.UNAUTHORIZED });
    }
    // reflecting the client's own nonce back
    const client = new ClientAuth(TOKEN, EVENT);
    const hello = client.hello();
    expect(
      client.onChallenge({ op: 'auth_challenge', nonce: hello.nonce as string, proof: 'c'.repeat(64) }),
    ).toMatchObject({ ok: false });
  });

  it('a client with the wrong token is refused by the server with UNAUTHORIZED', () => {
    // The client cannot verify the server, so it stops there: it never sends a proof.
    const r = handshake('the wrong token, 16+ bytes', TOKEN);
    expect(r.last).toMatchObject({ ok: false, code: ErrorCode.UNAUTHORIZED });
    expect(r.messages).toHaveLength(2);
    // A client that sends a proof anyway (made without the token) is refused by the server.
    const server = new ServerAuth(TOKEN, EVENT);
    sent(server.onHello(new ClientAuth(TOKEN, EVENT).hello()));
    expect(server.onProof({ op: 'auth_proof', proof: randomBytes(32).toString('hex') })).toMatchObject({
      ok: false,
      code: ErrorCode.UNAUTHORIZED,
    });
    expect(server.authenticated).toBe(false);
  });

  it('a replayed client proof fails in a new session (fresh server nonce)', () => {
    const first = handshake(TOKEN, TOKEN);
    const recordedHello = first.messages[0] as MessageData;
    const recordedProof = first.messages[2] as MessageData;
    const server = new ServerAuth(TOKEN, EVENT);
    sent(server.onHello(recordedHello));
    expect(server.onProof(recordedProof)).toMatchObject({ ok: false, code: ErrorCode.UNAUTHORIZED });
  });

  it('a replayed server challenge fails for a new client (fresh client nonce)', () => {
    const first = handshake(TOKEN, TOKEN);
    const client = new ClientAuth(TOKEN, EVENT);
    client.hello();
    expect(client.onChallenge(first.messages[1] as MessageData)).toMatchObject({
      ok: false,
      code: ErrorCode.UNAUTHORIZED,
    });
  });

  it('a server proof never passes as a client proof (the role is in the transcript)', () => {
    const client = new ClientAuth(TOKEN, EVENT);
    const server = new ServerAuth(TOKEN, EVENT);
    const challenge = sent(server.onHello(client.hello()));
    expect(server.onProof({ op: 'auth_proof', proof: challenge.proof as string })).toMatchObject({ ok: false });
  });

  it('proofs are bound to the event name', () => {
    const client = new ClientAuth(TOKEN, 'jobs');
    const server = new ServerAuth(TOKEN, EVENT);
    const challenge = sent(server.onHello(client.hello()));
    expect(client.onChallenge(challenge)).toMatchObject({ ok: false, code: ErrorCode.UNAUTHORIZED });
  });

  it('out-of-order steps are refused', () => {
    const server = new ServerAuth(TOKEN, EVENT);
    expect(server.onProof({ op: 'auth_proof', proof: 'a'.repeat(64) })).toMatchObject({ ok: false });
    const s2 = new ServerAuth(TOKEN, EVENT);
    expect(s2.onHello({ op: 'hello', protocol: 2 })).toMatchObject({ ok: false, code: ErrorCode.UNAUTHORIZED });
    const client = new ClientAuth(TOKEN, EVENT);
    expect(client.onChallenge({ op: 'auth_challenge', nonce: 'a'.repeat(64), proof: 'b'.repeat(64) })).toMatchObject({
      ok: false,
    });
  });

  it('every session uses fresh nonces', () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 50; i++) nonces.add(String(new ClientAuth(TOKEN, EVENT).hello().nonce));
    expect(nonces.size).toBe(50);
  });
});

describe('hello checks', () => {
  const msg = (data: MessageData, eventName = EVENT) => ({ data, eventName });

  it('a hello naming another event is WRONG_EVENT (the event field first, else the envelope)', () => {
    expect(checkHello(msg(plainHello('jobs')), EVENT, false)).toMatchObject({ code: ErrorCode.WRONG_EVENT });
    expect(checkHello(msg({ op: 'hello', protocol: 1 }, 'jobs'), EVENT, false)).toMatchObject({
      code: ErrorCode.WRONG_EVENT,
    });
    expect(checkHello(msg(plainHello(EVENT)), EVENT, false)).toBeUndefined();
    expect(checkHello(msg({ op: 'hello', protocol: 1 }), EVENT, false)).toBeUndefined();
  });

  it('a token server refuses protocol 1 and plaintext tokens with PROTOCOL_MISMATCH saying to upgrade', () => {
    const p1 = checkHello(msg({ op: 'hello', protocol: 1, token: TOKEN }), EVENT, true);
    expect(p1).toMatchObject({ code: ErrorCode.PROTOCOL_MISMATCH });
    expect(p1?.reason).toContain('upgrade');
    expect(p1?.reason).not.toContain(TOKEN);
    expect(
      checkHello(msg({ op: 'hello', protocol: 2, event: EVENT, nonce: 'a'.repeat(64), token: TOKEN }), EVENT, true),
    ).toMatchObject({
      code: ErrorCode.PROTOCOL_MISMATCH,
    });
    expect(checkHello(msg({ op: 'hello' }), EVENT, true)).toMatchObject({ code: ErrorCode.PROTOCOL_MISMATCH });
    expect(checkHello(msg(plainHello(EVENT)), EVENT, true)).toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    expect(checkHello(msg(new ClientAuth(TOKEN, EVENT).hello()), EVENT, true)).toBeUndefined();
  });

  it('a welcome naming another event is WRONG_EVENT; older welcomes without event pass', () => {
    expect(checkWelcomeEvent({ op: 'welcome', event: 'jobs' }, EVENT)).toMatchObject({ code: ErrorCode.WRONG_EVENT });
    expect(checkWelcomeEvent({ op: 'welcome', event: EVENT }, EVENT)).toBeUndefined();
    expect(checkWelcomeEvent({ op: 'welcome' }, EVENT)).toBeUndefined();
  });
});
