import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { createMessage, toWireMessage, ErrorCode, type SocketMessage } from '@socketkit/protocol';
import {
  decodePayload,
  encodeFrame,
  encodeFrameParts,
  encodePayload,
  frameBytes,
  packValue,
  unpackValue,
  FrameDecoder,
  FRAME_HEADER_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
  MAX_FRAME_PAYLOAD,
} from '../src/index.js';
import { plainUnpackr, messageError } from './helpers.js';

const T = 1_700_000_000_000;

/** Byte offset of the value that follows the fixstr key `name` in a payload. */
function valueOffset(payload: Buffer, name: string): number {
  const keyBytes = Buffer.concat([Buffer.from([0xa0 | name.length]), Buffer.from(name)]);
  const at = payload.indexOf(keyBytes);
  expect(at).toBeGreaterThanOrEqual(0);
  return at + keyBytes.length;
}

describe('constants', () => {
  it('match the wire format', () => {
    expect(FRAME_HEADER_SIZE).toBe(4);
    expect(DEFAULT_MAX_MESSAGE_SIZE).toBe(1024 * 1024);
    expect(MAX_FRAME_PAYLOAD).toBe(0xffffffff);
  });
});

describe('encodeFrame', () => {
  it('writes a 4-byte big-endian length and a plain msgpack map with snake_case keys', () => {
    const m = createMessage(
      'orders',
      'data',
      { qty: 3, tags: ['a', 'b'], nested: { ok: true, none: null } },
      { timestampMs: T },
    );
    const frame = encodeFrame(m);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    const payload = frame.subarray(4);
    expect(payload[0]).toBe(0x85); // fixmap with 5 entries: no records, no extensions
    const decoded = plainUnpackr.unpack(payload) as Record<string, unknown>;
    expect(Object.keys(decoded)).toEqual(['event_name', 'timestamp_ms', 'timestamp_iso', 'message_type', 'data']);
    expect(decoded).toEqual(toWireMessage(m));
    expect(decoded).toEqual({
      event_name: 'orders',
      timestamp_ms: T,
      timestamp_iso: '2023-11-14T22:13:20+00:00',
      message_type: 'data',
      data: { qty: 3, tags: ['a', 'b'], nested: { ok: true, none: null } },
    });
  });

  it('produces exactly the bytes the spec describes (plain map, minimal headers, Python key order)', () => {
    const m = createMessage('e', 'data', { a: { b: [1, 'x'] }, n: null, t: true }, { timestampMs: 5 });
    const str = (s: string): Buffer => {
      const b = Buffer.from(s);
      return Buffer.concat([b.length < 32 ? Buffer.from([0xa0 | b.length]) : Buffer.from([0xd9, b.length]), b]);
    };
    const expected = Buffer.concat([
      Buffer.from([0x85]),
      str('event_name'),
      str('e'),
      str('timestamp_ms'),
      Buffer.from([0x05]),
      str('timestamp_iso'),
      str('1970-01-01T00:00:00.005000+00:00'),
      str('message_type'),
      str('data'),
      str('data'),
      Buffer.from([0x83]),
      str('a'),
      Buffer.from([0x81]),
      str('b'),
      Buffer.from([0x92, 0x01]),
      str('x'),
      str('n'),
      Buffer.from([0xc0]),
      str('t'),
      Buffer.from([0xc3]),
    ]);
    const frame = encodeFrame(m);
    expect(frame.subarray(4).toString('hex')).toBe(expected.toString('hex'));
    expect(frame.subarray(0, 4).toString('hex')).toBe(expected.length.toString(16).padStart(8, '0'));
  });

  it.each(['data', 'error', 'control'] as const)('encodes message_type %s', (t) => {
    const decoded = plainUnpackr.unpack(encodeFrame(createMessage('e', t, {})).subarray(4)) as Record<string, unknown>;
    expect(decoded.message_type).toBe(t);
  });

  it('encodes timestamp_ms above 2^32 as uint64 (0xcf), not float64 (0xcb)', () => {
    const payload = encodeFrame(createMessage('e', 'data', {}, { timestampMs: T })).subarray(4);
    const at = valueOffset(payload, 'timestamp_ms');
    expect(payload[at]).toBe(0xcf);
    expect(payload.readBigUInt64BE(at + 1)).toBe(BigInt(T));
    // With msgpackr defaults (no int64AsType) it is a BigInt, i.e. an integer on the wire.
    expect(
      new (plainUnpackr.constructor as typeof import('msgpackr').Unpackr)({ useRecords: false }).unpack(payload),
    ).toMatchObject({
      timestamp_ms: BigInt(T),
    });
  });

  it.each([
    [0, 0x00, 1],
    [0x7f, 0x7f, 1],
    [0x80, 0xcc, 2],
    [0xff, 0xcc, 2],
    [0x100, 0xcd, 3],
    [0xffff, 0xcd, 3],
    [0x10000, 0xce, 5],
    [0xffffffff, 0xce, 5],
    [2 ** 32, 0xcf, 9],
    [Number.MAX_SAFE_INTEGER, 0xcf, 9],
    [-1, 0xff, 1],
    [-32, 0xe0, 1],
    [-33, 0xd0, 2],
    [-128, 0xd0, 2],
    [-129, 0xd1, 3],
    [-32768, 0xd1, 3],
    [-32769, 0xd2, 5],
    [-(2 ** 31), 0xd2, 5],
    [-(2 ** 31) - 1, 0xd3, 9],
    [Number.MIN_SAFE_INTEGER, 0xd3, 9],
  ])('encodes timestamp_ms %d as the smallest integer (type byte %i, %i bytes)', (ms, typeByte, width) => {
    // Build at a valid instant, then set the raw timestampMs (some are outside Date's range).
    const m = { ...createMessage('e', 'data', {}, { timestampMs: 0 }), timestampMs: ms };
    const frame = encodeFrame(m);
    const payload = frame.subarray(4);
    const at = valueOffset(payload, 'timestamp_ms');
    expect(payload[at]).toBe(typeByte);
    // The next key starts right after the integer: the width is exact.
    expect(payload.subarray(at + width, at + width + 14).toString('latin1')).toBe('\xadtimestamp_iso');
    expect((plainUnpackr.unpack(payload) as { timestamp_ms: number }).timestamp_ms).toBe(ms);
    expect(new FrameDecoder().push(frame)[0]?.timestampMs).toBe(ms);
  });

  it.each([1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('rejects a non-integer timestampMs %p', (ms) => {
    const m = { ...createMessage('e', 'data', {}), timestampMs: ms };
    expect(messageError(() => encodeFrame(m)).code).toBe(ErrorCode.INVALID_MESSAGE);
  });

  it('adds id and reply_to, which round-trip', () => {
    const req = createMessage('e', 'data', { q: 1 }, { id: 'req-1', timestampMs: T });
    const reply = createMessage('e', 'data', { a: 2 }, { replyTo: 'req-1', timestampMs: T });
    const both = createMessage('e', 'data', {}, { id: 'x', replyTo: 'y', timestampMs: T });
    const reqPayload = encodeFrame(req).subarray(4);
    expect(reqPayload[0]).toBe(0x86);
    expect(Object.keys(plainUnpackr.unpack(reqPayload) as object)).toEqual([
      'event_name',
      'timestamp_ms',
      'timestamp_iso',
      'message_type',
      'data',
      'id',
    ]);
    expect(encodeFrame(reply)[4]).toBe(0x86);
    expect(encodeFrame(both)[4]).toBe(0x87);
    expect(plainUnpackr.unpack(encodeFrame(both).subarray(4))).toEqual(toWireMessage(both));
    const decoder = new FrameDecoder();
    expect(decoder.push(Buffer.concat([encodeFrame(req), encodeFrame(reply), encodeFrame(both)]))).toEqual([
      req,
      reply,
      both,
    ]);
  });

  it.each([
    [0, 0xa0],
    [31, 0xbf],
    [32, 0xd9],
    [255, 0xd9],
    [256, 0xda],
    [65535, 0xda],
    [65536, 0xdb],
  ])('uses the minimal string header for a %i-byte reply_to (header byte %i)', (len, header) => {
    const replyTo = 'r'.repeat(len);
    const id = 'é'.repeat(len); // 2 bytes per character
    const m = createMessage('e', 'data', {}, { id, replyTo, timestampMs: T });
    const frame = encodeFrame(m);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    const headerLen = header <= 0xbf ? 1 : header === 0xd9 ? 2 : header === 0xda ? 3 : 5;
    // reply_to is the last value: header, then exactly `len` bytes to the end.
    expect(frame[frame.length - len - headerLen]).toBe(header);
    expect(plainUnpackr.unpack(frame.subarray(4))).toEqual(toWireMessage(m));
  });

  it('property: id, reply_to, iso and data strings of any Unicode round-trip', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        (id, replyTo, text) => {
          const m = createMessage('e', 'data', { text }, { id, replyTo, timestampMs: T });
          m.timestampIso = text;
          const frame = encodeFrame(m);
          expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
          expect(new FrameDecoder().push(frame)).toEqual([m]);
        },
      ),
    );
  });

  it('throws FRAME_TOO_LARGE when the payload exceeds maxMessageSize', () => {
    const m = createMessage('e', 'data', { blob: 'x'.repeat(1000) }, { timestampMs: T });
    const size = encodeFrame(m).length - 4;
    expect(encodeFrame(m, size).length).toBe(size + 4); // exactly at the limit is fine
    const err = messageError(() => encodeFrame(m, size - 1));
    expect(err.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(err.details).toEqual({ size, maxMessageSize: size - 1 });
    expect(err.message).toContain(String(size));
    expect(messageError(() => encodeFrame(m, 10)).code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(messageError(() => encodePayload(m, 10)).code).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('rejects data msgpack cannot carry with INVALID_MESSAGE', () => {
    const bad = [{ s: Symbol('x') }, { big: 2n ** 70n }];
    for (const data of bad) {
      const err = messageError(() => encodeFrame(createMessage('e', 'data', data)));
      expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(err.message).toContain('"e"');
    }
  });

  it('rejects a Map with non-string keys in data (the peer could not decode the frame)', () => {
    for (const map of [
      new Map([[1, 'a']]),
      new Map([[true, 'a']]),
      new Map([[null, 'a']]),
      new Map([[Buffer.from('k'), 'a']]),
    ]) {
      const err = messageError(() => encodeFrame(createMessage('e', 'data', { nested: [{ map }] })));
      expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(err.message).toContain('not a string');
    }
    // A Map with string keys is a plain msgpack map and is fine.
    const ok = encodeFrame(createMessage('e', 'data', { map: new Map([['k', 1]]) }));
    expect(new FrameDecoder().push(ok)[0]?.data).toEqual({ map: { k: 1 } });
  });
});

describe('encodePayload / frameBytes / packValue', () => {
  it('encodePayload is the frame without its header; frameBytes adds it back', () => {
    const m: SocketMessage = createMessage('e', 'error', { code: 'X' }, { id: 'i', timestampMs: T });
    const frame = encodeFrame(m);
    const payload = encodePayload(m);
    expect(Buffer.compare(payload, frame.subarray(4))).toBe(0);
    expect(Buffer.compare(frameBytes(payload), frame)).toBe(0);
    expect(frameBytes(new Uint8Array(0))).toEqual(Buffer.from([0, 0, 0, 0]));
    expect(frameBytes(new Uint8Array(258)).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 2]));
  });

  it('packValue results stay intact after later packs, and unpackValue reads them', () => {
    const a = packValue({ a: 1 });
    const copy = Buffer.from(a);
    const b = packValue({ b: 'two' });
    expect(Buffer.compare(a, copy)).toBe(0);
    expect(unpackValue(a)).toEqual({ a: 1 });
    expect(unpackValue(b)).toEqual({ b: 'two' });
    expect(unpackValue(packValue({ big: 2 ** 40 }))).toEqual({ big: 2 ** 40 });
  });
});

describe('envelope reuse within a millisecond (issue 16)', () => {
  const decode = (frame: Buffer): unknown => plainUnpackr.unpack(frame.subarray(4));

  it('every message in a sequence sharing stamps, names and types encodes its own fields', () => {
    const names = ['a', 'orders', 'b-2'];
    const types = ['data', 'error', 'control'] as const;
    const stamps = [T, T + 1, 0, -0, 2 ** 40];
    const msg = fc.record({
      eventName: fc.constantFrom(...names),
      messageType: fc.constantFrom(...types),
      timestampMs: fc.constantFrom(...stamps),
      timestampIso: fc.constantFrom('2023-11-14T22:13:20+00:00', '2023-11-14T22:13:20.001000+00:00'),
      id: fc.option(fc.constantFrom('r1', 'r2'), { nil: undefined }),
      replyTo: fc.option(fc.constantFrom('q1', 'q2'), { nil: undefined }),
      n: fc.integer(),
    });
    fc.assert(
      fc.property(fc.array(msg, { minLength: 1, maxLength: 12 }), (list) => {
        for (const r of list) {
          const m: SocketMessage = {
            eventName: r.eventName,
            messageType: r.messageType,
            timestampMs: r.timestampMs,
            timestampIso: r.timestampIso,
            data: { n: r.n },
          };
          if (r.id !== undefined) m.id = r.id;
          if (r.replyTo !== undefined) m.replyTo = r.replyTo;
          expect(decode(encodeFrame(m))).toEqual(toWireMessage(m));
        }
      }),
    );
  });

  it('0 and -0 stamps keep their own bytes (integer 0, float -0) one after the other', () => {
    const base = { eventName: 'e', messageType: 'data' as const, timestampIso: 'x', data: {} };
    const zero = encodeFrame({ ...base, timestampMs: 0 });
    const minusZero = encodeFrame({ ...base, timestampMs: -0 });
    expect(Object.is((decode(minusZero) as { timestamp_ms: number }).timestamp_ms, -0)).toBe(true);
    expect(minusZero.length).toBe(zero.length + 8);
    expect(encodeFrame({ ...base, timestampMs: 0 }).equals(zero)).toBe(true);
  });

  it('an encode nested in a toJSON does not change the outer envelope', () => {
    const inner = createMessage('inner', 'control', { op: 'x' }, { timestampMs: T });
    class Nested {
      toJSON(): number {
        return encodeFrame(inner).length;
      }
    }
    const outer = createMessage('outer', 'data', { v: new Nested() }, { timestampMs: T });
    const twice = [encodeFrame(outer), encodeFrame(outer)];
    for (const f of twice)
      expect(decode(f)).toEqual({ ...toWireMessage(outer), data: { v: encodeFrame(inner).length } });
    expect(decode(encodeFrame(inner))).toEqual(toWireMessage(inner));
  });
});

describe('large frames (issue 16)', () => {
  it('each large frame keeps its own bytes after later encodes, and holds at most 4/3 of its size', () => {
    // a message above 1 MiB first: the writer then starts again from its initial buffer
    const huge = encodeFrame(
      createMessage('big', 'data', { payload: Buffer.alloc(1100 * 1024) }, { timestampMs: T }),
      2 * 1024 * 1024,
    );
    expect(huge.buffer.byteLength).toBeLessThanOrEqual(Math.ceil((huge.length * 4) / 3));
    const frames: Buffer[] = [];
    for (let i = 0; i < 6; i++) {
      const size = i % 2 === 0 ? 64 * 1024 : 20_000 + i;
      frames.push(
        encodeFrame(
          createMessage('big', 'data', { i, payload: Buffer.alloc(size, 0x61 + i) }, { timestampMs: T }),
          1024 * 1024,
        ),
      );
    }
    frames.forEach((f, i) => {
      const m = plainUnpackr.unpack(f.subarray(4)) as { data: { i: number; payload: Uint8Array } };
      expect(m.data.i).toBe(i);
      expect(Buffer.from(m.data.payload).equals(Buffer.alloc(i % 2 === 0 ? 64 * 1024 : 20_000 + i, 0x61 + i))).toBe(
        true,
      );
      expect(f.buffer.byteLength).toBeLessThanOrEqual(Math.ceil((f.length * 4) / 3));
    });
  });
});

describe('encodeFrameParts (issue 28)', () => {
  const T2 = 1_700_000_000_000;
  const blob = (n: number, seed: number): Buffer => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = (i * 11 + seed) & 0xff;
    return b;
  };

  it('the parts joined are the bytes of encodeFrame; bins of minBin bytes or more are the caller’s own, not copies', () => {
    const big1 = blob(70_000, 1);
    const big2 = blob(20_000, 2);
    const small = blob(100, 3);
    const m = createMessage(
      'parts',
      'data',
      { a: big1, nested: { list: [small, big2, 'x'] }, tail: 7 },
      { timestampMs: T2, id: 'req-1' },
    );
    const parts = encodeFrameParts(m, DEFAULT_MAX_MESSAGE_SIZE, 16 * 1024);
    expect(Buffer.concat(parts).equals(encodeFrame(m, DEFAULT_MAX_MESSAGE_SIZE))).toBe(true);
    expect(parts.filter((p) => p === big1 || p === big2)).toHaveLength(2);
    expect(parts.some((p) => p === small)).toBe(false);
    // the length prefix counts the bins
    expect(Buffer.from(parts[0] as Uint8Array).readUInt32BE(0)).toBe(Buffer.concat(parts).length - 4);
    // below minBin everything is one copied frame
    const one = encodeFrameParts(m, DEFAULT_MAX_MESSAGE_SIZE, 100_000);
    expect(one).toHaveLength(1);
    expect(Buffer.from(one[0] as Uint8Array).equals(encodeFrame(m))).toBe(true);
    // the next encode does not disturb the parts of this one
    const copy = Buffer.concat(parts);
    encodeFrame(createMessage('other', 'data', { z: blob(80_000, 9) }, { timestampMs: T2 + 1 }));
    encodeFrameParts(createMessage('other', 'data', { z: blob(80_000, 8) }, { timestampMs: T2 + 2 }));
    expect(Buffer.concat(parts).equals(copy)).toBe(true);
  });

  it('counts referenced bins against maxMessageSize (FRAME_TOO_LARGE)', () => {
    const m = createMessage('parts', 'data', { a: blob(40_000, 1), b: blob(40_000, 2) }, { timestampMs: T2 });
    expect(() => encodeFrameParts(m, 70_000)).toThrow(expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }));
    expect(() => encodeFrame(m, 70_000)).toThrow(expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }));
    expect(() => encodeFrameParts(m, 90_000)).not.toThrow();
  });

  it('an encode nested in a toJSON during a parts encode keeps both frames whole', () => {
    const inner = blob(30_000, 5);
    const outerBin = blob(30_000, 6);
    let nestedFrame: Buffer | undefined;
    class Hook {
      toJSON(): string {
        nestedFrame = encodeFrame(createMessage('in', 'data', { inner }, { timestampMs: T2 }));
        return 'done';
      }
    }
    const data = { first: outerBin, hook: new Hook(), after: blob(20_000, 7) };
    const m = createMessage('parts', 'data', data, { timestampMs: T2 });
    const parts = encodeFrameParts(m);
    expect(Buffer.concat(parts).equals(encodeFrame(m))).toBe(true);
    expect(decodePayload((nestedFrame as Buffer).subarray(4)).data.inner).toEqual(inner);
  });
});
