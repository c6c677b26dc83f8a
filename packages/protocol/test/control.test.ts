import { describe, it, expect } from '@jest/globals';
import { CONTROL_OPS, PROTOCOL_VERSION, isReservedControl, createMessage, type MessageType } from '../src/index.js';

describe('CONTROL_OPS', () => {
  it('lists the reserved ops of the handshake and heartbeats', () => {
    expect(CONTROL_OPS).toEqual({
      HELLO: 'hello',
      WELCOME: 'welcome',
      PING: 'ping',
      PONG: 'pong',
      AUTH_CHALLENGE: 'auth_challenge',
      AUTH_PROOF: 'auth_proof',
      STATS: 'stats',
    });
    // Adding a reserved op raises the protocol number (auth made it 2, stats 3).
    expect(PROTOCOL_VERSION).toBe(3);
  });
});

describe('isReservedControl', () => {
  const msg = (type: MessageType, data: Record<string, unknown>) => createMessage('e', type, data);

  it.each(Object.values(CONTROL_OPS))('is true for a CONTROL message with op %s', (op) => {
    expect(isReservedControl(msg('control', { op }))).toBe(true);
  });

  it('is true for a full hello / welcome', () => {
    expect(isReservedControl(msg('control', { op: 'hello', protocol: PROTOCOL_VERSION }))).toBe(true);
    expect(
      isReservedControl(
        msg('control', { op: 'welcome', client_id: 'c1', allow_client_send: true, max_message_size: 1 }),
      ),
    ).toBe(true);
  });

  it.each([
    ['a user op', 'control', { op: 'reload' }],
    ['an upper-case op', 'control', { op: 'HELLO' }],
    ['no op', 'control', { command: 'ping' }],
    ['a non-string op', 'control', { op: 1 }],
    ['an array op', 'control', { op: ['hello'] }],
    ['a DATA message with op hello', 'data', { op: 'hello' }],
    ['an ERROR message with op ping', 'error', { op: 'ping' }],
  ] as const)('is false for %s', (_label, type, data) => {
    expect(isReservedControl(msg(type, data))).toBe(false);
  });
});
