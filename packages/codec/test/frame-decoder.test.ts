import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { createMessage, ErrorCode, MessageError, type SocketMessage, type MessageType } from '@socketkit/protocol';
import {
  encodeFrame,
  frameBytes,
  packValue,
  FrameDecoder,
  decodePayload,
  DEFAULT_MAX_MESSAGE_SIZE,
  BIN_SHARE_FREE,
  BIN_SHARE_RATIO,
} from '../src/index.js';
import { bytewise, decodeChunks, messageError, rawPackr, splitAt, wireEntries } from './helpers.js';

const T = 1_700_000_000_000;
const sample = (): SocketMessage[] => [
  createMessage('alpha', 'data', { seq: 1, text: 'hello' }, { timestampMs: T }),
  createMessage('beta', 'error', { code: 'X', detail: { n: [1, 2, 3] } }, { timestampMs: T + 1, id: 'req-9' }),
  createMessage('gamma', 'control', { op: 'ping' }, { timestampMs: T + 2, replyTo: 'req-9' }),
  createMessage('delta', 'data', {}, { timestampMs: 0 }),
];
const concatFrames = (ms: SocketMessage[]): Buffer => Buffer.concat(ms.map((m) => encodeFrame(m)));

describe('FrameDecoder: chunking', () => {
  it('decodes many frames in one chunk', () => {
    const ms = sample();
    const d = new FrameDecoder();
    expect(d.push(concatFrames(ms))).toEqual(ms);
    expect(d.framesDecoded).toBe(ms.length);
    expect(d.bytesReceived).toBe(concatFrames(ms).length);
    expect(d.bufferedBytes).toBe(0);
    expect(d.error).toBeUndefined();
  });

  it('decodes one byte at a time', () => {
    const ms = sample();
    const d = new FrameDecoder();
    const bytes = concatFrames(ms);
    const out: SocketMessage[] = [];
    for (const b of bytewise(bytes)) out.push(...d.push(b));
    expect(out).toEqual(ms);
    expect(d.bytesReceived).toBe(bytes.length);
    expect(d.bufferedBytes).toBe(0);
  });

  it('decodes a frame split across chunks, including inside the header', () => {
    const [m] = sample();
    const frame = encodeFrame(m!);
    for (let cut = 1; cut < frame.length; cut++) {
      const d = new FrameDecoder();
      expect(d.push(frame.subarray(0, cut))).toEqual([]);
      expect(d.bufferedBytes).toBe(cut);
      expect(d.push(frame.subarray(cut))).toEqual([m]);
      expect(d.bufferedBytes).toBe(0);
    }
  });

  it('returns nothing for an empty chunk and keeps state across it', () => {
    const [m] = sample();
    const frame = encodeFrame(m!);
    const d = new FrameDecoder();
    expect(d.push(new Uint8Array(0))).toEqual([]);
    expect(d.push(frame.subarray(0, 2))).toEqual([]);
    expect(d.push(new Uint8Array(0))).toEqual([]);
    expect(d.push(frame.subarray(2))).toEqual([m]);
  });

  it('handles a chunk that ends one frame and starts the next, then a whole frame', () => {
    const ms = sample();
    const bytes = concatFrames(ms);
    const f0 = encodeFrame(ms[0]!).length;
    const d = new FrameDecoder();
    expect(d.push(bytes.subarray(0, f0 - 3))).toEqual([]);
    expect(d.push(bytes.subarray(f0 - 3, f0 + 6))).toEqual([ms[0]]);
    expect(d.push(bytes.subarray(f0 + 6))).toEqual(ms.slice(1));
  });

  it('yields the same messages for random splits (fixed sample)', () => {
    const ms = sample();
    const bytes = concatFrames(ms);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), (cuts) => {
        expect(decodeChunks(splitAt(bytes, cuts))).toEqual(ms);
      }),
    );
  });

  it('feed delivers each message through the callback in order', () => {
    const ms = sample();
    const got: SocketMessage[] = [];
    const d = new FrameDecoder();
    d.feed(concatFrames(ms), (m) => got.push(m));
    expect(got).toEqual(ms);
  });

  it(
    'a callback that throws still gets the rest of the chunk, then its first error is thrown and the decoder stays ' +
      'usable',
    () => {
      const ms = sample();
      const got: string[] = [];
      const d = new FrameDecoder();
      const boom = new Error('listener failed');
      expect(() =>
        d.feed(concatFrames(ms), (m) => {
          got.push(m.eventName);
          if (got.length <= 2) throw got.length === 1 ? boom : new Error('second');
        }),
      ).toThrow(boom);
      expect(got).toEqual(ms.map((m) => m.eventName));
      expect(d.error).toBeUndefined();
      expect(d.push(concatFrames(ms))).toEqual(ms);
    },
  );

  it('when a callback threw and a later frame in the same chunk is too large, the frame error is the one thrown', () => {
    const [m] = sample();
    const tooLarge = Buffer.from([0x7f, 0xff, 0xff, 0xff]);
    const d = new FrameDecoder({ maxMessageSize: 1024 });
    const err = messageError(() =>
      d.feed(Buffer.concat([encodeFrame(m!), tooLarge]), () => {
        throw new Error('listener failed');
      }),
    );
    expect(err.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(d.error).toBe(err);
  });

  it.each([
    ['one chunk', (b: Buffer) => [b]],
    [
      'chunks of 7 bytes',
      (b: Buffer) =>
        splitAt(
          b,
          Array.from({ length: Math.ceil(b.length / 7) }, (_, i) => i * 7),
        ),
    ],
  ])('a throwing onMessage loses nothing and keeps frame boundaries (%s)', (_label, chunker) => {
    const ms = sample();
    const d = new FrameDecoder();
    const got: SocketMessage[] = [];
    const thrownErrors: unknown[] = [];
    const boom = new Error('handler failed');
    for (const chunk of chunker(concatFrames([...ms, ...ms]))) {
      try {
        d.feed(chunk, (m) => {
          got.push(m);
          if (m.eventName === 'alpha' || m.eventName === 'beta') throw boom;
        });
      } catch (err) {
        thrownErrors.push(err);
      }
    }
    expect(got).toEqual([...ms, ...ms]);
    expect(thrownErrors.length).toBeGreaterThan(0);
    expect(thrownErrors.every((e) => e === boom)).toBe(true);
    expect(d.error).toBeUndefined();
    expect(d.push(encodeFrame(ms[3]!))).toEqual([ms[3]]);
  });

  it('a decode error after a throwing onMessage still fails the decoder at once', () => {
    const ms = sample();
    const d = new FrameDecoder();
    const got: SocketMessage[] = [];
    const chunk = Buffer.concat([
      concatFrames(ms.slice(0, 2)),
      frameBytes(packValue('nope')),
      concatFrames(ms.slice(2)),
    ]);
    const err = messageError(() =>
      d.feed(chunk, (m) => {
        got.push(m);
        throw new Error('handler failed');
      }),
    );
    expect(err.code).toBe(ErrorCode.MALFORMED_FRAME);
    expect(d.error).toBe(err);
    expect(got).toEqual(ms.slice(0, 2));
  });

  it('feedPayloads splits raw payloads without decoding them', () => {
    const payloads = [Buffer.from([1, 2, 3]), Buffer.alloc(0), Buffer.from('not msgpack at all')];
    const bytes = Buffer.concat(payloads.map((p) => frameBytes(p)));
    for (const chunks of [[bytes], bytewise(bytes)]) {
      const got: Buffer[] = [];
      const d = new FrameDecoder();
      for (const c of chunks) d.feedPayloads(c, (p) => got.push(Buffer.from(p)));
      expect(got).toEqual(payloads);
      expect(d.framesDecoded).toBe(0);
    }
  });
});

// ---- property-based round trip -------------------------------------------------

const EVENT_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'.split('');
const eventName = fc.string({ unit: fc.constantFrom(...EVENT_ALPHABET), minLength: 1, maxLength: 64 });
const key = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((k) => k !== '__proto__');
const double = fc.double().map((d) => (Object.is(d, -0) ? 0 : d)); // msgpackr writes -0 as the integer 0
const { value: dataValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.boolean(),
    fc.constant(null),
    double,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  ),
}));
const data = fc.dictionary(key, dataValue, { maxKeys: 6, noNullPrototype: true });
const message: fc.Arbitrary<SocketMessage> = fc
  .record({
    eventName,
    messageType: fc.constantFrom<MessageType>('data', 'error', 'control'),
    data,
    // An instant Python's datetime can show (years 1-9999), and sometimes any raw
    // safe integer on the wire (the decoder does not interpret timestamps).
    instant: fc.integer({ min: Date.UTC(1, 0, 2), max: Date.UTC(9999, 11, 30) }),
    rawMs: fc.option(fc.maxSafeInteger(), { nil: undefined, freq: 3 }),
    zone: fc.constantFrom('UTC', 'Asia/Kathmandu', 'America/New_York'),
    id: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    replyTo: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
  })
  .map(({ eventName: e, messageType, data: d, instant, rawMs, zone, id, replyTo }) => {
    const m = createMessage(e, messageType, d, {
      timestampMs: instant,
      timezone: zone,
      ...(id === undefined ? {} : { id }),
      ...(replyTo === undefined ? {} : { replyTo }),
    });
    if (rawMs !== undefined) m.timestampMs = rawMs;
    return m;
  });

describe('FrameDecoder: property-based round trip', () => {
  it('random messages survive encode + random chunk splits + decode', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (ms, rawCuts) => {
          const bytes = concatFrames(ms);
          const cuts = rawCuts.map((c) => c % (bytes.length + 1));
          const d = new FrameDecoder();
          const out: SocketMessage[] = [];
          for (const chunk of splitAt(bytes, cuts)) out.push(...d.push(chunk));
          expect(out).toEqual(ms);
          expect(d.framesDecoded).toBe(ms.length);
          expect(d.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('one byte at a time equals one chunk for random messages', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 3 }), (ms) => {
        const bytes = concatFrames(ms);
        expect(decodeChunks(bytewise(bytes))).toEqual(decodeChunks([bytes]));
      }),
      { numRuns: 50 },
    );
  });
});

// ---- bounded, linear buffering ------------------------------------------------

describe('FrameDecoder: buffering', () => {
  it('buffers a 512 KiB frame fed one byte at a time without ever holding more than the frame', () => {
    const PAYLOAD = 512 * 1024;
    // A blob sized so that the payload is exactly 512 KiB.
    const blobFor = (n: number): Buffer => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
      return b;
    };
    const probe = encodeFrame(createMessage('big', 'data', { blob: blobFor(PAYLOAD - 200) }, { timestampMs: T }));
    const blob = blobFor(PAYLOAD - 200 + (PAYLOAD - (probe.length - 4)));
    const big = createMessage('big', 'data', { blob }, { timestampMs: T });
    const bigFrame = encodeFrame(big);
    expect(bigFrame.length).toBe(524_292);
    expect(bigFrame.readUInt32BE(0)).toBe(PAYLOAD);

    const small = Array.from({ length: 300 }, (_, i) => createMessage('small', 'data', { i }, { timestampMs: T + i }));
    const smallBytes = concatFrames(small);

    const d = new FrameDecoder();
    const out: SocketMessage[] = [];
    let maxBuffered = 0;
    let expectedBuffered = 0;
    let bufferedMismatch = 0;
    for (let i = 0; i < bigFrame.length; i++) {
      const got = d.push(bigFrame.subarray(i, i + 1));
      out.push(...got);
      expectedBuffered = got.length === 0 ? expectedBuffered + 1 : 0;
      if (d.bufferedBytes !== expectedBuffered) bufferedMismatch++;
      if (d.bufferedBytes > maxBuffered) maxBuffered = d.bufferedBytes;
    }
    // Held bytes grow by exactly one per pushed byte (nothing duplicated or dropped)
    // and never exceed the declared frame (size + 4-byte header).
    expect(bufferedMismatch).toBe(0);
    expect(maxBuffered).toBeLessThanOrEqual(PAYLOAD + 4);
    expect(out).toHaveLength(1);
    const gotBlob = out[0]!.data.blob as Uint8Array;
    expect(gotBlob.length).toBe(blob.length);
    expect(Buffer.compare(Buffer.from(gotBlob), blob)).toBe(0);
    expect({ ...out[0], data: {} }).toEqual({ ...big, data: {} });

    let maxSmall = 0;
    for (const b of bytewise(smallBytes)) {
      out.push(...d.push(b));
      maxSmall = Math.max(maxSmall, d.bufferedBytes);
    }
    const largestSmall = Math.max(...small.map((m) => encodeFrame(m).length));
    expect(maxSmall).toBeLessThanOrEqual(largestSmall);
    expect(out.slice(1)).toEqual(small);
    expect(d.bytesReceived).toBe(bigFrame.length + smallBytes.length);
    expect(d.framesDecoded).toBe(301);
    expect(d.bufferedBytes).toBe(0);
  });

  it('decoded binary data is not disturbed by later chunks', () => {
    const a = createMessage('e', 'data', { bin: Buffer.from([1, 2, 3, 4]) }, { timestampMs: T });
    const b = createMessage('e', 'data', { bin: Buffer.from([9, 9, 9, 9]) }, { timestampMs: T });
    const d = new FrameDecoder();
    const chunks = bytewise(concatFrames([a, b]));
    const out: SocketMessage[] = [];
    for (const c of chunks) out.push(...d.push(c));
    expect(Buffer.from(out[0]!.data.bin as Uint8Array)).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(Buffer.from(out[1]!.data.bin as Uint8Array)).toEqual(Buffer.from([9, 9, 9, 9]));
  });
});

// ---- hostile sizes -----------------------------------------------------------

describe('FrameDecoder: FRAME_TOO_LARGE', () => {
  it.each([
    ['0xFFFFFFFF', 0xffffffff, DEFAULT_MAX_MESSAGE_SIZE],
    ['default limit + 1', DEFAULT_MAX_MESSAGE_SIZE + 1, DEFAULT_MAX_MESSAGE_SIZE],
    ['custom limit + 1', 101, 100],
  ])('throws after only the 4 header bytes (%s), one byte at a time', (_label, declared, max) => {
    const d = new FrameDecoder({ maxMessageSize: max });
    const header = Buffer.alloc(4);
    header.writeUInt32BE(declared, 0);
    expect(d.push(header.subarray(0, 1))).toEqual([]);
    expect(d.push(header.subarray(1, 2))).toEqual([]);
    expect(d.push(header.subarray(2, 3))).toEqual([]);
    const err = messageError(() => d.push(header.subarray(3, 4)));
    expect(err.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(err.details).toEqual({ size: declared, maxMessageSize: max });
    expect(err.message).toContain(String(declared));
    expect(d.error).toBe(err);
    expect(d.bufferedBytes).toBe(0);
    expect(d.bytesReceived).toBe(4);
    // Later pushes fail again with the same error, without reading anything.
    expect(messageError(() => d.push(Buffer.from([1, 2, 3])))).toBe(err);
    expect(messageError(() => d.push(new Uint8Array(0)))).toBe(err);
    expect(d.bytesReceived).toBe(4);
  });

  it('throws when the 4 header bytes arrive as one chunk (no body yet)', () => {
    const d = new FrameDecoder();
    const err = messageError(() => d.push(Buffer.from([0xff, 0xff, 0xff, 0xff])));
    expect(err.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(d.error).toBe(err);
    expect(messageError(() => d.push(Buffer.from([0])))).toBe(err);
  });

  it('accepts a frame of exactly maxMessageSize', () => {
    const m = createMessage('e', 'data', { s: 'x'.repeat(50) }, { timestampMs: T });
    const frame = encodeFrame(m);
    const d = new FrameDecoder({ maxMessageSize: frame.length - 4 });
    expect(d.maxMessageSize).toBe(frame.length - 4);
    expect(d.push(frame)).toEqual([m]);
    const tight = new FrameDecoder({ maxMessageSize: frame.length - 5 });
    expect(messageError(() => tight.push(frame)).code).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('feed delivers the messages before an oversized header, then throws', () => {
    const ms = sample();
    const got: SocketMessage[] = [];
    const d = new FrameDecoder({ maxMessageSize: 1000 });
    const chunk = Buffer.concat([
      concatFrames(ms.slice(0, 2)),
      Buffer.from([0, 0, 0x10, 0]),
      concatFrames(ms.slice(2)),
    ]);
    const err = messageError(() => d.feed(chunk, (m) => got.push(m)));
    expect(err.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(got).toEqual(ms.slice(0, 2));
  });
});

// ---- malformed payloads -------------------------------------------------------

const malformedFrame = (payload: Uint8Array, chunks: 'one' | 'bytes' = 'one'): MessageError => {
  const d = new FrameDecoder();
  const frame = frameBytes(payload);
  const err = messageError(() => {
    for (const c of chunks === 'one' ? [frame] : bytewise(frame)) d.push(c);
  });
  expect(err.code).toBe(ErrorCode.MALFORMED_FRAME);
  expect(d.error).toBe(err);
  expect(messageError(() => d.push(encodeFrame(sample()[0]!)))).toBe(err);
  return err;
};

describe('FrameDecoder: MALFORMED_FRAME', () => {
  it.each(['one', 'bytes'] as const)('rejects a zero-length frame (%s chunk)', (mode) => {
    expect(malformedFrame(new Uint8Array(0), mode).message).toContain('zero-length');
  });

  it.each([
    ['truncated map', [0x85, 0xaa]],
    ['reserved byte 0xc1', [0xc1]],
    ['unknown extension', [0xd4, 0x05, 0x00]],
    ['str32 longer than the frame', [0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]],
    [
      'trailing bytes after a valid message',
      [...encodeFrame(createMessage('e', 'data', {}, { timestampMs: T })).subarray(4), 0x00],
    ],
    ['plain text', [...Buffer.from('GET / HTTP/1.1\r\n\r\n')]],
  ])('rejects non-msgpack / broken msgpack bytes: %s', (_label, bytes) => {
    for (const mode of ['one', 'bytes'] as const) malformedFrame(Uint8Array.from(bytes), mode);
  });

  it('property: random payload bytes yield one message or MALFORMED_FRAME, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (payload) => {
        const d = new FrameDecoder();
        try {
          expect(d.push(frameBytes(payload))).toHaveLength(1);
        } catch (err) {
          expect(err).toBeInstanceOf(MessageError);
          expect((err as MessageError).code).toBe(ErrorCode.MALFORMED_FRAME);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['an array', [1, 2, 3], 'expected a map, got array'],
    ['a string', 'hello', 'expected a map, got string'],
    ['a number', 42, 'expected a map, got number'],
    ['nil', null, 'expected a map, got null'],
    ['a map missing keys', { event_name: 'e', data: {} }, '"timestamp_ms"'],
    ['an empty map', {}, '"event_name"'],
    ['a bad event name', { ...Object.fromEntries(wireEntries()), event_name: '../etc/passwd' }, '"event_name"'],
    ['a string timestamp', { ...Object.fromEntries(wireEntries()), timestamp_ms: '1700000000000' }, '"timestamp_ms"'],
    ['a float timestamp', { ...Object.fromEntries(wireEntries()), timestamp_ms: 1.5 }, '"timestamp_ms"'],
    ['an unknown message_type', { ...Object.fromEntries(wireEntries()), message_type: 'info' }, '"message_type"'],
    ['data as an array', { ...Object.fromEntries(wireEntries()), data: [1] }, '"data"'],
    ['data as nil', { ...Object.fromEntries(wireEntries()), data: null }, '"data"'],
    ['a numeric id', { ...Object.fromEntries(wireEntries()), id: 7 }, '"id"'],
  ])('rejects valid msgpack that is not a message: %s', (_label, value, inMessage) => {
    for (const mode of ['one', 'bytes'] as const) {
      expect(malformedFrame(packValue(value), mode).message).toContain(inMessage);
    }
  });

  it.each([
    ['an integer', 1],
    ['a negative integer', -5],
    ['a boolean', true],
    ['nil', null],
    ['a float', 1.5],
    ['binary', Buffer.from('event_name')],
    ['an array', ['k']],
  ])('rejects a top-level map key that is %s', (_label, badKey) => {
    const map = wireEntries();
    map.set(badKey, 'x');
    const err = malformedFrame(rawPackr.pack(map));
    expect(err.message).toMatch(/string/);
  });

  it('rejects a top-level map made only of non-string keys', () => {
    malformedFrame(
      rawPackr.pack(
        new Map<unknown, unknown>([
          [0, 'evt'],
          [1, 1],
          [2, 'iso'],
          [3, 'data'],
          [4, new Map()],
        ]),
      ),
    );
  });

  it.each([
    ['an integer key in data', new Map([[1, 'a']])],
    ['a boolean key deep in data', { list: [{ ok: new Map([[false, 1]]) }] }],
    ['a nil key in data', new Map([[null, 'a']])],
  ])('rejects %s (the Python peer rejects the whole frame)', (_label, data) => {
    const err = malformedFrame(rawPackr.pack(wireEntries({ data })));
    expect(err.message).toContain('not a string');
  });

  it('accepts str8/str16 map keys and unknown top-level keys', () => {
    const map = wireEntries({
      data: new Map([
        ['k'.repeat(40), 1],
        ['q'.repeat(300), 2],
      ]),
    });
    map.set('x'.repeat(300), 'future field');
    const [m] = new FrameDecoder().push(frameBytes(rawPackr.pack(map)));
    expect(m?.data).toEqual({ ['k'.repeat(40)]: 1, ['q'.repeat(300)]: 2 });
    expect(Object.keys(m!)).not.toContain('x'.repeat(300));
  });

  it('feed delivers the messages before a bad frame in the same chunk, then throws', () => {
    const ms = sample();
    const got: SocketMessage[] = [];
    const d = new FrameDecoder();
    const chunk = Buffer.concat([
      concatFrames(ms.slice(0, 3)),
      frameBytes(packValue([1, 2])),
      concatFrames(ms.slice(3)),
    ]);
    const err = messageError(() => d.feed(chunk, (m) => got.push(m)));
    expect(err.code).toBe(ErrorCode.MALFORMED_FRAME);
    expect(got).toEqual(ms.slice(0, 3));
    expect(d.framesDecoded).toBe(3);
    expect(d.error).toBe(err);
    // The frame after the bad one is never delivered: boundaries can no longer be trusted.
    expect(messageError(() => d.feed(concatFrames(ms), (m) => got.push(m)))).toBe(err);
    expect(got).toHaveLength(3);
  });

  it('push throws on a bad frame (messages earlier in that chunk are dropped with it)', () => {
    const ms = sample();
    const d = new FrameDecoder();
    expect(messageError(() => d.push(Buffer.concat([concatFrames(ms), frameBytes(Buffer.alloc(0))]))).code).toBe(
      ErrorCode.MALFORMED_FRAME,
    );
    expect(d.framesDecoded).toBe(ms.length);
  });
});

describe('decodePayload', () => {
  it('decodes a payload without the length prefix', () => {
    const [m] = sample();
    expect(decodePayload(encodeFrame(m!).subarray(4))).toEqual(m);
  });

  it('accepts a BigInt-range uint64 timestamp as written by Python', () => {
    const map = wireEntries();
    const payload = Buffer.from(rawPackr.pack(map));
    // rawPackr writes 1.7e12 as float64 (0xcb); rewrite it as uint64 (0xcf) like Python does.
    const at = payload.indexOf(0xcb);
    expect(at).toBeGreaterThan(0);
    payload[at] = 0xcf;
    payload.writeBigUInt64BE(1_700_000_000_000n, at + 1);
    expect(decodePayload(payload).timestampMs).toBe(1_700_000_000_000);
  });

  it('throws MALFORMED_FRAME with the msgpack error as cause', () => {
    let err: unknown;
    try {
      decodePayload(Uint8Array.from([0x92, 0x01]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MessageError);
    expect((err as MessageError).code).toBe(ErrorCode.MALFORMED_FRAME);
    expect((err as MessageError).cause).toBeInstanceOf(Error);
  });
});

describe('prototype pollution', () => {
  it('a data map with key "__proto__" does not pollute Object.prototype', () => {
    const data = new Map<string, unknown>([
      [
        '__proto__',
        new Map<string, unknown>([
          ['polluted', 'yes'],
          ['isAdmin', true],
        ]),
      ],
      ['safe', 1],
    ]);
    const payload = rawPackr.pack(wireEntries({ data }));
    const [m] = new FrameDecoder().push(frameBytes(payload));
    expect(m).toBeDefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.getPrototypeOf(m!.data)).toBe(Object.prototype);
    expect(m!.data.polluted).toBeUndefined();
    expect(m!.data.isAdmin).toBeUndefined();
    expect(m!.data.safe).toBe(1);
  });

  it('a top-level "__proto__" key does not pollute anything either', () => {
    const map = wireEntries();
    map.set('__proto__', new Map([['polluted', 'yes']]));
    const [m] = new FrameDecoder().push(frameBytes(rawPackr.pack(map)));
    expect(m?.eventName).toBe('evt');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
  });

  it('an own "__proto__" property (e.g. from JSON.parse) round-trips without polluting', () => {
    const data = JSON.parse('{"__proto__": {"polluted": "yes"}, "a": 1}') as Record<string, unknown>;
    const [m] = new FrameDecoder().push(encodeFrame(createMessage('e', 'data', data, { timestampMs: T })));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(m!.data)).toBe(Object.prototype);
    expect(m!.data.a).toBe(1);
  });
});

describe('decodePayload: bins', () => {
  it(
    'copyBins copies every bin out of the payload (bin 8, 16, 32; also with a __proto__ key); by default a bin is a ' +
      'view',
    () => {
      const proto = '__proto__';
      for (const n of [3, 300, 70_000]) {
        const frame = encodeFrame(
          createMessage('bins', 'data', { b: Buffer.alloc(n, 1), [proto]: { c: Buffer.alloc(n, 1) } }),
        );
        const payload = Buffer.from(frame.subarray(4));
        const copied = decodePayload(payload, true);
        const viewed = decodePayload(payload);
        payload.fill(7);
        expect((copied.data.b as Uint8Array).every((x) => x === 1)).toBe(true);
        expect(((copied.data[proto] as Record<string, unknown>).c as Uint8Array).every((x) => x === 1)).toBe(true);
        expect((viewed.data.b as Uint8Array)[0]).toBe(7);
      }
    },
  );
});

describe('decodePayload: bins small against their buffer are copied (BIN_SHARE_RATIO)', () => {
  it('a bin stays a view only while its buffer is at most 64× its size or 8 KiB; nested, in arrays, __proto__', () => {
    const proto = '__proto__';
    const sizes = [10, 1000, 3000, 4096, 5000, 40_000];
    for (const big of [false, true]) {
      const data: Record<string, unknown> = { n: 2n ** 60n, list: sizes.map((n) => Buffer.alloc(n, 1)) };
      Object.defineProperty(data, proto, {
        value: { deep: [{ b: Buffer.alloc(1000, 1) }] },
        enumerable: true,
        writable: true,
        configurable: true,
      });
      if (!big) delete data.n;
      const frame = encodeFrame(createMessage('bins', 'data', data));
      // The payload inside a 256 KiB buffer, as a read slab holds it.
      const slab = Buffer.alloc(256 * 1024);
      frame.copy(slab, 100, 4);
      const m = decodePayload(slab.subarray(100, 100 + frame.length - 4));
      const bins = [...(m.data.list as Buffer[])];
      bins.push(((m.data[proto] as { deep: Array<{ b: Buffer }> }).deep[0] as { b: Buffer }).b);
      for (const b of bins) {
        expect(b.every((x) => x === 1)).toBe(true);
        const viewed = b.buffer === slab.buffer;
        expect({ len: b.length, viewed }).toEqual({ len: b.length, viewed: b.length * BIN_SHARE_RATIO >= slab.length });
        expect(b.buffer.byteLength).toBeLessThanOrEqual(Math.max(BIN_SHARE_RATIO * b.length, BIN_SHARE_FREE));
      }
      expect(Object.getPrototypeOf(m.data)).toBe(Object.prototype);
    }
  });

  it('a payload in a buffer of 8 KiB or less keeps every bin as a view', () => {
    const frame = encodeFrame(createMessage('bins', 'data', { a: Buffer.alloc(10, 1), b: Buffer.alloc(100, 2) }));
    const payload = Buffer.from(frame.subarray(4));
    const m = decodePayload(payload);
    expect((m.data.a as Buffer).buffer).toBe(payload.buffer);
    expect((m.data.b as Buffer).buffer).toBe(payload.buffer);
  });
});

// ---- keepChunks: frames split across reads into one large buffer -------------------------------------------------

describe('FrameDecoder: keepChunks', () => {
  const bigMessage = (seq: number, size: number): SocketMessage => {
    const blob = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) blob[i] = (i * 13 + seq) & 0xff;
    return createMessage('big', 'data', { seq, blob }, { timestampMs: T + seq });
  };

  it('delivers a frame split across consecutive ranges of one buffer as a view into it, without a copy', () => {
    const ms = [bigMessage(1, 70_000), bigMessage(2, 100), bigMessage(3, 70_000)];
    // One large buffer filled front to back, read by read (what a socket reading into a slab hands over).
    const slab = Buffer.concat([Buffer.alloc(16), concatFrames(ms)]);
    const d = new FrameDecoder({ keepChunks: true });
    const payloads: Uint8Array[] = [];
    for (let at = 16; at < slab.length; at += 50_000) {
      d.feedPayloads(slab.subarray(at, Math.min(at + 50_000, slab.length)), (p) => payloads.push(p));
      if (at + 50_000 < slab.length) expect(d.bufferedBytes).toBeGreaterThan(0);
    }
    expect(payloads).toHaveLength(3);
    expect(payloads.map((p) => p.buffer === slab.buffer)).toEqual([true, true, true]);
    expect(payloads.map((p) => decodePayload(p))).toEqual(ms);
    expect(d.bufferedBytes).toBe(0);
  });

  it('copies a kept partial frame once the next chunk is not its continuation, and decodes it whole', () => {
    const ms = [bigMessage(1, 70_000), bigMessage(2, 30)];
    const bytes = concatFrames(ms);
    const d = new FrameDecoder({ keepChunks: true });
    const out: SocketMessage[] = [];
    // Every chunk a fresh buffer (what node:net's default reads hand over).
    for (let at = 0; at < bytes.length; at += 20_000) out.push(...d.push(Buffer.from(bytes.subarray(at, at + 20_000))));
    expect(out).toEqual(ms);
    expect(d.bufferedBytes).toBe(0);
  });

  it('gives the same messages and buffered bytes as the copying decoder for random splits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        (cuts, fresh) => {
          const ms = [bigMessage(1, 2500), bigMessage(2, 10), bigMessage(3, 1500), bigMessage(4, 0)];
          const bytes = concatFrames(ms);
          const keep = new FrameDecoder({ keepChunks: true });
          const copy = new FrameDecoder();
          const got: SocketMessage[] = [];
          const want: SocketMessage[] = [];
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const end = Math.min(bytes.length, at + (cuts[i % cuts.length] as number));
            // Adjacent views of one buffer, or a fresh copy (not a continuation).
            const chunk = fresh[i % fresh.length] ? Buffer.from(bytes.subarray(at, end)) : bytes.subarray(at, end);
            got.push(...keep.push(chunk));
            want.push(...copy.push(chunk));
            expect(keep.bufferedBytes).toBe(copy.bufferedBytes);
            at = end;
          }
          expect(got).toEqual(ms);
          expect(want).toEqual(ms);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('checks the declared size against maxMessageSize before keeping anything', () => {
    const d = new FrameDecoder({ keepChunks: true, maxMessageSize: 1000 });
    const frame = encodeFrame(bigMessage(1, 2000));
    expect(() => d.push(frame.subarray(0, 500))).toThrow(MessageError);
    expect(d.error?.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(d.bufferedBytes).toBe(0);
  });
});
