import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { createMessage } from '@socketkit/protocol';
import { encodeFrame, encodePayload } from '../src/index.js';
import { decodeEnvelope } from '../src/envelope.js';
import { decodePayload, decodePayloadGeneral } from '../src/frame-decoder.js';
import { rawPackr, wireEntries } from './helpers.js';

/** What a decode gives: the message, or the error's class, code and text. */
function outcome(decode: () => unknown): unknown {
  try {
    return { message: decode() };
  } catch (e) {
    const err = e as Error & { code?: string; details?: unknown };
    return { error: { type: err.constructor.name, code: err.code, message: err.message, details: err.details } };
  }
}

/** The fast path must give exactly what the general path gives, message or error, with and without copied bins. */
function expectSameAsGeneral(bytes: Uint8Array): void {
  for (const copyBins of [false, true]) {
    const fast = outcome(() => decodePayload(bytes, copyBins));
    const general = outcome(() => decodePayloadGeneral(bytes, copyBins));
    expect(fast).toEqual(general);
    // toEqual tells 0 from -0, but not key order or own-property shape: compare those too.
    if ((fast as { message?: unknown }).message !== undefined) {
      expect(JSON.stringify(fast, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).toBe(
        JSON.stringify(general, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)),
      );
    }
  }
}

const pack = (m: Map<unknown, unknown>): Uint8Array => rawPackr.pack(m);

/** A map header for `n` entries followed by the given entries' bytes (duplicate keys allowed). */
function mapOf(entries: [string, Uint8Array][]): Uint8Array {
  const parts = entries.flatMap(([k, v]) => [rawPackr.pack(k), v]);
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...parts]);
}

const goodEntries = (): [string, Uint8Array][] => [
  ['event_name', rawPackr.pack('evt')],
  ['timestamp_ms', Buffer.from([0xcf, 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00])],
  ['timestamp_iso', rawPackr.pack('2023-11-14T22:13:20+00:00')],
  ['message_type', rawPackr.pack('data')],
  ['data', rawPackr.pack(new Map([['ok', true]]))],
];

describe('the envelope fast path', () => {
  it('takes what socketkit writes and what the Python module writes (golden frames)', () => {
    const ours = [
      createMessage('alpha', 'data', { seq: 1, text: 'hello', bin: Buffer.from([1, 2]) }),
      createMessage('beta', 'error', { code: 'X' }, { id: 'req-9' }),
      createMessage('gamma', 'control', { op: 'ping' }, { replyTo: 'req-9', timestampMs: 0 }),
    ];
    for (const m of ours) {
      const payload = encodePayload(m);
      expect(decodeEnvelope(payload, false)).toEqual(m);
      expectSameAsGeneral(payload);
    }
    const goldenPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'golden.json');
    const frames = (JSON.parse(readFileSync(goldenPath, 'utf8')) as { frames: { name: string; frame_hex: string }[] })
      .frames;
    const taken = frames
      .filter((f) => decodeEnvelope(Buffer.from(f.frame_hex, 'hex').subarray(4), false) !== undefined)
      .map((f) => f.name);
    // Every golden frame whose strings are all ASCII takes the fast path.
    expect(taken.length).toBeGreaterThanOrEqual(frames.length - 2);
    for (const f of frames) expectSameAsGeneral(Buffer.from(f.frame_hex, 'hex').subarray(4));
  });

  it('gives the same message or error as the general path for every timestamp encoding', () => {
    const stamps: number[][] = [
      [0x00],
      [0x7f],
      [0xe0],
      [0xff],
      [0xcc, 0xff],
      [0xcd, 0xff, 0xff],
      [0xce, 0xff, 0xff, 0xff, 0xff],
      [0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // 2^53 - 1
      [0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0], // 2^53
      [0xcf, 0, 0x20, 0, 0, 0, 0, 0, 1],
      [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      [0xd0, 0x80],
      [0xd1, 0x80, 0x00],
      [0xd2, 0x80, 0, 0, 0],
      [0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 1], // -(2^53) + 1
      [0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 0], // -(2^53)
      [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
      [0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      [0xcb, 0x42, 0x78, 0xbc, 0xfe, 0x56, 0x80, 0, 0], // 1.7e12, integral
      [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], // 1.5
      [0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0], // -0
      [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], // NaN
      [0xca, 0x47, 0x80, 0, 0], // 65536 as float32
      [0xca, 0x3f, 0xc0, 0, 0], // 1.5 as float32
      [0xc0],
      [0xc2],
      [0xa1, 0x31],
      [0xcf, 0, 0], // truncated
    ];
    for (const s of stamps) {
      const entries = goodEntries();
      entries[1] = ['timestamp_ms', Buffer.from(s)];
      expectSameAsGeneral(mapOf(entries));
    }
  });

  it('gives the same message or error as the general path for repeated, missing, extra and odd keys', () => {
    const g = goodEntries();
    const cases: [string, Uint8Array][][] = [
      [...g, ['event_name', rawPackr.pack('other')]],
      [...g, ['data', rawPackr.pack(new Map([['x', 1]]))]],
      [...g, ['id', rawPackr.pack('a')], ['id', rawPackr.pack('b')]],
      g.slice(1),
      g.slice(0, 4),
      [...g, ['extra', rawPackr.pack([1, 2, { a: 1 }])]],
      [...g, ['__proto__', rawPackr.pack(new Map([['polluted', true]]))]],
      [...g, ['extra', Buffer.from([0xd4, 0x01, 0x02])]], // an extension in an unknown key
      [...g, ['extra', Buffer.from([0xc1])]],
      [...g, ['id', Buffer.from([0xc0])]],
      [...g, ['reply_to', rawPackr.pack(42)]],
      [['data', rawPackr.pack(new Map([['__proto__', 1]]))], ...g.slice(0, 4)],
      [['data', rawPackr.pack(new Map([['n', 2n ** 60n]]))], ...g.slice(0, 4)],
      [['data', rawPackr.pack(new Map([['b', Buffer.from([9, 9, 9])]]))], ...g.slice(0, 4)],
      [['data', rawPackr.pack([1, 2])], ...g.slice(0, 4)],
      [['data', Buffer.from([0xc0])], ...g.slice(0, 4)],
      [['data', Buffer.from([0x81, 0x01, 0x02])], ...g.slice(0, 4)], // a non-string key
      [['data', Buffer.from([0x82, 0xa1, 0x61, 0x01])], ...g.slice(0, 4)], // truncated data
      [['data', Buffer.from([0xde, 0x00, 0x01, 0xa1, 0x61, 0x01])], ...g.slice(0, 4)], // map16
    ];
    for (const entries of cases) expectSameAsGeneral(mapOf(entries));
    // Non-fixmap headers, a key that is not a string, trailing bytes.
    const body = Buffer.concat(g.flatMap(([k, v]) => [rawPackr.pack(k), v]));
    expectSameAsGeneral(Buffer.concat([Buffer.from([0xde, 0x00, 0x05]), body]));
    expectSameAsGeneral(Buffer.concat([Buffer.from([0xdf, 0, 0, 0, 0x05]), body]));
    expectSameAsGeneral(Buffer.concat([Buffer.from([0x86, 0x01, 0x02]), body]));
    expectSameAsGeneral(Buffer.concat([mapOf(g), Buffer.from([0x00])]));
    expectSameAsGeneral(Buffer.from([0x90]));
    expectSameAsGeneral(Buffer.from([]));
  });

  it('gives the same message or error as the general path for any wire map (property)', () => {
    const ascii = fc.string({ maxLength: 70 });
    const any = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
    );
    const field = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
      fc.oneof(
        { weight: 6, arbitrary: good },
        { weight: 1, arbitrary: any },
        { weight: 1, arbitrary: fc.constant(undefined) },
      );
    const wire = fc.record({
      event_name: field(fc.oneof(fc.constantFrom('evt', 'a-b_C9', 'x'.repeat(64), 'x'.repeat(65), ''), ascii)),
      timestamp_ms: field(
        fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.double(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n })),
      ),
      timestamp_iso: field(
        fc.oneof(fc.constant('2023-11-14T22:13:20.123000+00:00'), fc.string({ unit: 'grapheme', maxLength: 40 })),
      ),
      message_type: field(fc.constantFrom('data', 'error', 'control', 'Data', 'other')),
      data: field(
        fc.oneof(
          fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })),
          fc.jsonValue({ maxDepth: 1 }),
        ),
      ),
      id: field(ascii),
      reply_to: field(fc.string({ unit: 'grapheme', maxLength: 20 })),
      extra: field(fc.jsonValue({ maxDepth: 1 })),
    });
    fc.assert(
      fc.property(wire, fc.boolean(), (w, reverse) => {
        const entries = Object.entries(w).filter(([, v]) => v !== undefined);
        if (reverse) entries.reverse();
        expectSameAsGeneral(pack(new Map(entries)));
      }),
      { numRuns: 3000 },
    );
  });

  it('gives the same message or error as the general path for damaged frames (property)', () => {
    const base = [
      encodePayload(
        createMessage('evt', 'data', { a: [1, 'two', { three: 3 }], b: Buffer.from([1, 2, 3]) }, { id: 'i-1' }),
      ),
      pack(wireEntries({ reply_to: 'r-1', extra: { k: 'v' } })),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...base),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.nat(),
        fc.boolean(),
        (payload, flips, cut, truncate) => {
          const b = Buffer.from(payload);
          for (const [at, v] of flips) b[at % b.length] = v;
          expectSameAsGeneral(truncate ? b.subarray(0, cut % b.length) : b);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never keeps a view into the payload for a string, and copies bins when asked', () => {
    const payload = Buffer.from(
      encodePayload(createMessage('evt', 'data', { b: Buffer.from([1, 2, 3]), s: 'text' }, { id: 'id-1' })),
    );
    const copied = decodePayload(payload, true);
    const viewed = decodePayload(payload, false);
    payload.fill(0);
    expect(copied.data).toEqual({ b: Buffer.from([1, 2, 3]), s: 'text' });
    expect(copied.id).toBe('id-1');
    expect(copied.eventName).toBe('evt');
    expect((viewed.data as { b: Buffer }).b).toEqual(Buffer.from([0, 0, 0]));
  });
});

describe('a "__proto__" key behind any string header', () => {
  const str = (s: string): Buffer => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);
  const proto = {
    fixstr: Buffer.concat([Buffer.from([0xa9]), Buffer.from('__proto__')]),
    str8: Buffer.concat([Buffer.from([0xd9, 9]), Buffer.from('__proto__')]),
    str16: Buffer.concat([Buffer.from([0xda, 0, 9]), Buffer.from('__proto__')]),
    str32: Buffer.concat([Buffer.from([0xdb, 0, 0, 0, 9]), Buffer.from('__proto__')]),
  };
  /**
   * A message whose data is { __proto__: 1 } (key written with `key`), plus an unknown top-level key holding `extra`.
   */
  const payload = (key: Buffer, extra: Buffer): Buffer =>
    Buffer.concat([
      Buffer.from([0x86]),
      str('event_name'),
      str('evt'),
      str('timestamp_ms'),
      Buffer.from([0x00]),
      str('timestamp_iso'),
      str('2023-11-14T22:13:20+00:00'),
      str('message_type'),
      str('data'),
      str('data'),
      Buffer.from([0x81]),
      key,
      Buffer.from([0x01]),
      str('extra'),
      extra,
    ]);
  const extras = {
    'a small integer': Buffer.from([0x00]),
    'a uint64 beyond 2^53': Buffer.from([0xcf, 0x10, 0, 0, 0, 0, 0, 0, 0]),
    'a map with a fixstr __proto__ key': Buffer.concat([Buffer.from([0x81]), proto.fixstr, Buffer.from([0x02])]),
  };

  for (const [header, key] of Object.entries(proto)) {
    for (const [what, extra] of Object.entries(extras)) {
      it(`stays an own "__proto__" property (${header} key; the unknown key holds ${what}), on both paths`, () => {
        const p = payload(key, extra);
        const m = decodePayload(p);
        expect(Object.keys(m.data)).toEqual(['__proto__']);
        expect(Object.getPrototypeOf(m.data)).toBe(Object.prototype);
        expect(Object.getOwnPropertyDescriptor(m.data, '__proto__')?.value).toBe(1);
        expectSameAsGeneral(p);
      });
    }
  }
});

describe('decoding from a reused or large ArrayBuffer', () => {
  it('sees new bytes written into the same memory between two decodes (a reused receive buffer)', () => {
    const segment = Buffer.allocUnsafeSlow(64 * 1024);
    const a = encodePayload(createMessage('evt', 'data', { n: 1, s: 'first', b: Buffer.from([1, 1]) }));
    const b = encodePayload(createMessage('evt', 'data', { n: 2, s: 'second', b: Buffer.from([2, 2]) }));
    a.copy(segment, 100);
    const first = decodePayload(segment.subarray(100, 100 + a.length), true);
    b.copy(segment, 100);
    const second = decodePayload(segment.subarray(100, 100 + b.length), true);
    expect(first.data).toEqual({ n: 1, s: 'first', b: Buffer.from([1, 1]) });
    expect(second.data).toEqual({ n: 2, s: 'second', b: Buffer.from([2, 2]) });
  });

  it('decodes from an ArrayBuffer larger than the one it keeps a view of (256 KiB) the same way', () => {
    const big = Buffer.allocUnsafeSlow(300 * 1024);
    const p = encodePayload(createMessage('evt', 'data', { n: 3, b: Buffer.from([3]) }, { id: 'x' }));
    p.copy(big, 200 * 1024);
    const view = big.subarray(200 * 1024, 200 * 1024 + p.length);
    expect(decodePayload(view).data).toEqual({ n: 3, b: Buffer.from([3]) });
    expectSameAsGeneral(view);
  });
});

describe('the envelope fast path on any byte view', () => {
  it('reads a plain Uint8Array, and one at an offset into a larger ArrayBuffer, like a Buffer', () => {
    const m = createMessage('evt', 'data', { a: 1, s: 'hello' }, { id: 'abc', replyTo: 'r-1' });
    const payload = encodePayload(m);
    const plain = new Uint8Array(payload);
    const offset = new Uint8Array(new ArrayBuffer(payload.length + 10), 5, payload.length);
    offset.set(payload);
    for (const view of [plain, offset]) {
      expect(decodeEnvelope(view, false)).toEqual(m);
      expectSameAsGeneral(view);
    }
  });
});

describe('the envelope fast path inside a frame', () => {
  it('decodes frames of every size class the same way', () => {
    for (const n of [0, 10, 300, 70_000]) {
      const frame = encodeFrame(createMessage('evt', 'data', { s: 'x'.repeat(n) }));
      expectSameAsGeneral(frame.subarray(4));
    }
  });
});
