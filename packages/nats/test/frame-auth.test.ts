import { describe, expect, it } from '@jest/globals';
import { createCipheriv } from 'node:crypto';
import { encodeFrame } from '@socketkit/codec';
import { MessageType, createMessage } from '@socketkit/protocol';
import {
  authValue,
  macOf,
  newBroadcastKey,
  parseSeq,
  streamKeys,
  unwrapGrant,
  verifyAuth,
  wrapGrant,
} from '../src/frame-auth.js';
import { broadcastProblem } from '../src/nats-transport.js';

const session = Buffer.alloc(32, 9);
const payload = Buffer.from('whole frames');

describe('NATS message authentication (issue 22 item 2)', () => {
  it("a server's outbound key is its client's inbound key, the directions differ, and the wrap key is shared", () => {
    const s = streamKeys(session, 'server');
    const c = streamKeys(session, 'client');
    expect(s.out.equals(c.in)).toBe(true);
    expect(s.in.equals(c.out)).toBe(true);
    expect(s.out.equals(s.in)).toBe(false);
    expect(s.wrap.equals(c.wrap)).toBe(true);
    expect(streamKeys(Buffer.alloc(32, 8), 'server').out.equals(s.out)).toBe(false);
  });

  it('a value verifies only with its key, seq, payload and extra', () => {
    const key = streamKeys(session, 'server').out;
    const v = authValue(key, 7, payload, 'extra');
    expect(verifyAuth(key, v, payload, 'extra')).toBe(7);
    expect(verifyAuth(key, v, payload)).toBe(0);
    expect(verifyAuth(key, v, Buffer.from('whole framez'), 'extra')).toBe(0);
    expect(verifyAuth(streamKeys(session, 'client').out, v, payload, 'extra')).toBe(0);
    expect(verifyAuth(key, v.replace(/^7\./, '8.'), payload, 'extra')).toBe(0);
    for (const bad of [
      '',
      '7',
      '.x',
      '0.abc',
      `7.${'A'.repeat(21)}`,
      `7.${'A'.repeat(43)}`,
      `-1.${v.slice(2)}`,
      `${'9'.repeat(16)}.${v.slice(2)}`,
    ])
      expect(verifyAuth(key, bad, payload)).toBe(0);
    expect(parseSeq(v)).toBe(7);
    // a seq above 2^48 − 1 (the MAC input holds 6 bytes) is malformed, not an exception
    expect(verifyAuth(key, `${2 ** 48}.${v.slice(2)}`, payload)).toBe(0);
    expect(verifyAuth(key, `999999999999999.${v.slice(2)}`, payload)).toBe(0);
    expect(parseSeq(`${2 ** 48 - 1}.x`)).toBe(2 ** 48 - 1);
    expect(macOf(key, 7, payload, 'extra').length).toBe(16);
    expect(macOf(key, 7, payload, 'extra').equals(macOf(key, 7, payload, 'extra'))).toBe(true);
    expect(macOf(key, 7, payload).equals(macOf(key, 8, payload))).toBe(false);
  });

  it('the broadcast grant unwraps only under the wrap key it was wrapped with', () => {
    const grant = { key: newBroadcastKey(), seq: 123_456 };
    const wrap = streamKeys(session, 'server').wrap;
    const value = wrapGrant(wrap, grant);
    expect(unwrapGrant(streamKeys(session, 'client').wrap, value)).toEqual(grant);
    expect(unwrapGrant(streamKeys(Buffer.alloc(32, 1), 'client').wrap, value)).toBeUndefined();
    const raw = Buffer.from(value, 'base64url');
    raw[20] = (raw[20] as number) ^ 1;
    expect(unwrapGrant(wrap, raw.toString('base64url'))).toBeUndefined();
    expect(unwrapGrant(wrap, 'short')).toBeUndefined();
    expect(wrapGrant(wrap, grant)).not.toBe(value); // fresh IV each time
  });

  it(
    'broadcastProblem: a zero-length frame, a library ERROR or broken framing is refused; user data and user ERRORs ' +
      'pass',
    () => {
      const frame = (type: MessageType, data: Record<string, unknown>) => encodeFrame(createMessage('ev', type, data));
      const data = frame(MessageType.DATA, { origin: 'socketkit', n: 1 });
      expect(broadcastProblem(data)).toBeUndefined();
      expect(broadcastProblem(frame(MessageType.ERROR, { code: 'X', error: 'user error' }))).toBeUndefined();
      expect(broadcastProblem(Buffer.concat([data, new Uint8Array(4)]))).toMatch(/zero-length/);
      expect(
        broadcastProblem(
          Buffer.concat([data, frame(MessageType.ERROR, { code: 'UNAUTHORIZED', error: 'x', origin: 'socketkit' })]),
        ),
      ).toMatch(/library ERROR/);
      expect(broadcastProblem(data.subarray(0, data.length - 1))).toMatch(/not whole/);
    },
  );
});

describe('NATS message authentication: the two setAAD calls (review of issue 22)', () => {
  it(
    'the tag is the GMAC of u32(len(extra)) ‖ extra ‖ payload as one additional data, and a bit flipped in either ' +
      'part changes it',
    () => {
      const key = streamKeys(session, 'server').out;
      const extra = 'wrapped-grant-value';
      const body = Buffer.from('frames of one batch, longer than one 16-byte GCM block, not a multiple of it');
      const nonce = Buffer.alloc(12);
      nonce.writeUInt32BE(0x736b3100, 0);
      nonce.writeUIntBE(42, 6, 6);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(Buffer.byteLength(extra), 0);
      const one = createCipheriv('aes-256-gcm', key, nonce);
      one.setAAD(Buffer.concat([len, Buffer.from(extra), body]));
      one.final();
      const tag = macOf(key, 42, body, extra);
      expect(tag.equals(one.getAuthTag())).toBe(true);
      // every bit of both parts is covered
      let changed = 0;
      let total = 0;
      for (let i = 0; i < extra.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const x = Buffer.from(extra);
          x[i] = (x[i] as number) ^ (1 << bit);
          total++;
          if (!macOf(key, 42, body, x.toString('latin1')).equals(tag)) changed++;
        }
      }
      for (let i = 0; i < body.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const b = Buffer.from(body);
          b[i] = (b[i] as number) ^ (1 << bit);
          total++;
          if (!macOf(key, 42, b, extra).equals(tag)) changed++;
        }
      }
      expect(changed).toBe(total);
      // moving bytes across the boundary of the two parts changes the tag (the length prefix binds it)
      expect(macOf(key, 42, body.subarray(1), extra + body.toString('latin1', 0, 1)).equals(tag)).toBe(false);
    },
  );
});
