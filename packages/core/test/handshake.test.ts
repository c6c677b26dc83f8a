// The one client handshake (wire/handshake.ts) that the client engine and monitors share.
import { describe, expect, it } from '@jest/globals';
import {
  CONTROL_OPS,
  ErrorCode,
  MessageType,
  PROTOCOL_VERSION,
  createMessage,
  type MessageData,
} from '@socketkit/protocol';
import { ServerAuth } from '../src/wire/auth.js';
import { ClientHandshake } from '../src/wire/handshake.js';

const TOKEN = 'correct horse battery staple 42';
const EVENT = 'orders';

const control = (data: MessageData) => createMessage(EVENT, MessageType.CONTROL, data);
const welcome = (extra: MessageData = {}) =>
  control({ op: CONTROL_OPS.WELCOME, protocol: PROTOCOL_VERSION, event: EVENT, client_id: 'client_1', ...extra });

describe('ClientHandshake without a token', () => {
  it('says hello (with the role of a sender) and takes the welcome', () => {
    const hs = new ClientHandshake(EVENT, { role: 'sender' });
    expect(hs.hello()).toEqual({ op: 'hello', protocol: PROTOCOL_VERSION, event: EVENT, role: 'sender' });
    expect(hs.authenticates).toBe(false);
    expect(hs.onFrame(welcome())).toEqual({ kind: 'welcome' });
    expect(hs.state).toBe('done');
    expect(hs.onFrame(welcome())).toEqual({ kind: 'ignored' });
  });

  it('a first frame that is not a welcome marks a server without the handshake', () => {
    const hs = new ClientHandshake(EVENT);
    expect(hs.onFrame(createMessage(EVENT, MessageType.DATA, { x: 1 }))).toEqual({ kind: 'foreign' });
    expect(hs.state).toBe('foreign');
  });

  it('a welcome naming another event is refused with WRONG_EVENT', () => {
    const hs = new ClientHandshake(EVENT);
    const step = hs.onFrame(welcome({ event: 'other' }));
    expect(step.kind === 'refused' && step.refusal.code).toBe(ErrorCode.WRONG_EVENT);
    expect(hs.state).toBe('refused');
  });

  it("a monitor takes a welcome without a client id, and reads on past other frames (never 'foreign')", () => {
    const hs = new ClientHandshake(EVENT, { role: 'monitor' });
    expect(hs.hello().role).toBe('monitor');
    expect(hs.onFrame(control({ op: 'something' }))).toEqual({ kind: 'ignored' });
    expect(hs.onFrame(control({ op: CONTROL_OPS.WELCOME, event: EVENT, role: 'monitor' }))).toEqual({
      kind: 'welcome',
    });
  });
});

describe('ClientHandshake with a token', () => {
  it('proves itself after the server did, then takes the welcome; both sides share the session key', () => {
    const hs = new ClientHandshake(EVENT, { token: TOKEN });
    const server = new ServerAuth(TOKEN, EVENT);
    const challenge = server.onHello(hs.hello());
    if (!challenge.ok) throw new Error('server refused the hello');
    expect(hs.onFrame(createMessage(EVENT, MessageType.DATA, { stray: true }))).toEqual({ kind: 'ignored' });
    const step = hs.onFrame(control(challenge.send as MessageData));
    if (step.kind !== 'proof') throw new Error(`expected a proof, got ${step.kind}`);
    expect(server.onProof(step.send).ok).toBe(true);
    expect(step.sessionKey?.equals(server.sessionKey as Buffer)).toBe(true);
    expect(hs.onFrame(welcome())).toEqual({ kind: 'welcome' });
  });

  it('a welcome before the server proved the token is refused (UNAUTHORIZED), as is a wrong proof', () => {
    const early = new ClientHandshake(EVENT, { token: TOKEN });
    early.hello();
    const step = early.onFrame(welcome());
    expect(step.kind === 'refused' && step.refusal.code).toBe(ErrorCode.UNAUTHORIZED);

    const hs = new ClientHandshake(EVENT, { token: TOKEN });
    const impostor = new ServerAuth('another token of enough bytes', EVENT);
    const challenge = impostor.onHello(hs.hello());
    if (!challenge.ok) throw new Error('server refused the hello');
    const refused = hs.onFrame(control(challenge.send as MessageData));
    expect(refused.kind === 'refused' && refused.refusal.code).toBe(ErrorCode.UNAUTHORIZED);
  });
});
