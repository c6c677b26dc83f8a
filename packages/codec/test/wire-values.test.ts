// Wire fidelity (issue 14): values cross to a plain msgpack peer (Python's
// `msgpack` module) and back unchanged. Expected bytes are what
// `msgpack.packb` (1.0.3) writes for the same Python value.
import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { createMessage, ErrorCode, MessageError, type SocketMessage } from '@socketkit/protocol';
import {
  decodePayload,
  encodeFrame,
  encodePayload,
  frameBytes,
  FrameDecoder,
  MAX_NESTING_DEPTH,
  packValue,
  unpackValue,
} from '../src/index.js';
import { messageError, rawPackr } from './helpers.js';

const T = 1_700_000_000_000;
const msg = (data: Record<string, unknown>): SocketMessage => createMessage('e', 'data', data, { timestampMs: T });
/** A message payload whose `data.v` is the raw msgpack bytes `value`. */
const withRawValue = (value: Uint8Array): Buffer => {
  const head = encodePayload(msg({ v: null }));
  // data is the last entry: ... a1 76 c0 -> replace the nil
  expect(head[head.length - 1]).toBe(0xc0);
  return Buffer.concat([head.subarray(0, head.length - 1), value]);
};
const decodeRawValue = (value: Uint8Array): unknown => decodePayload(withRawValue(value)).data.v;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('integers are integers on the wire (bytes as msgpack.packb writes them)', () => {
  it.each<[string, number | bigint, string]>([
    ['2^31-1', 2 ** 31 - 1, 'ce7fffffff'],
    ['2^31', 2 ** 31, 'ce80000000'],
    ['-2^31', -(2 ** 31), 'd280000000'],
    ['-2^31-1', -(2 ** 31) - 1, 'd3ffffffff7fffffff'],
    ['2^32-1', 2 ** 32 - 1, 'ceffffffff'],
    ['2^32', 2 ** 32, 'cf0000000100000000'],
    ['2^53-1', 2 ** 53 - 1, 'cf001fffffffffffff'],
    ['-(2^53-1)', -(2 ** 53 - 1), 'd3ffe0000000000001'],
    ['an epoch-ms timestamp', 1764500000000, 'cf0000019ad4654d00'],
    ['a negative 64-bit number', -1764500000000, 'd3fffffe652b9ab300'],
    ['BigInt 2^53', 2n ** 53n, 'cf0020000000000000'],
    ['BigInt -2^53', -(2n ** 53n), 'd3ffe0000000000000'],
    ['BigInt 2^53+1', 2n ** 53n + 1n, 'cf0020000000000001'],
    ['BigInt 2^63-1', 2n ** 63n - 1n, 'cf7fffffffffffffff'],
    ['BigInt -2^63', -(2n ** 63n), 'd38000000000000000'],
    ['BigInt 2^63', 2n ** 63n, 'cf8000000000000000'],
    ['BigInt 2^64-1', 2n ** 64n - 1n, 'cfffffffffffffffff'],
    ['BigInt 5 (smallest format)', 5n, '05'],
    ['BigInt -1', -1n, 'ff'],
    ['BigInt 300', 300n, 'cd012c'],
    ['BigInt 2^32', 2n ** 32n, 'cf0000000100000000'],
  ])('%s', (_label, value, expected) => {
    expect(hex(packValue(value))).toBe(expected);
    // inside a message, too
    expect(hex(encodePayload(msg({ v: value })))).toBe(hex(withRawValue(Buffer.from(expected, 'hex'))));
  });

  it.each<[string, number, string]>([
    ['-0 as float64 -0.0', -0, 'cb8000000000000000'],
    ['1.5', 1.5, 'cb3ff8000000000000'],
    ['2^53 as a number (not a safe integer: stays float64)', 2 ** 53, 'cb4340000000000000'],
    ['NaN', Number.NaN, 'cb7ff8000000000000'],
    ['Infinity', Number.POSITIVE_INFINITY, 'cb7ff0000000000000'],
    ['-Infinity', Number.NEGATIVE_INFINITY, 'cbfff0000000000000'],
  ])('non-integers stay float64: %s', (_label, value, expected) => {
    expect(hex(packValue(value))).toBe(expected);
  });

  it('-0 comes back as -0', () => {
    const [m] = new FrameDecoder().push(encodeFrame(msg({ z: -0, list: [-0] })));
    expect(Object.is(m!.data.z, -0)).toBe(true);
    expect(Object.is((m!.data.list as number[])[0], -0)).toBe(true);
  });

  it.each([2n ** 64n, -(2n ** 63n) - 1n, 2n ** 70n])(
    'a BigInt outside the 64-bit range (%p) is INVALID_MESSAGE naming its path',
    (big) => {
      const err = messageError(() => encodeFrame(msg({ ids: [1, { big }] })));
      expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(err.message).toContain('data.ids[1].big');
      expect(err.message).toContain('64-bit');
    },
  );

  it.each<[string, string, number | bigint]>([
    ['uint64 2^53 as a BigInt (not a safe integer)', 'cf0020000000000000', 2n ** 53n],
    ['uint64 2^53+1 as a BigInt', 'cf0020000000000001', 2n ** 53n + 1n],
    ['uint64 2^64-1 as a BigInt', 'cfffffffffffffffff', 2n ** 64n - 1n],
    ['uint64 2^40 as a number', 'cf0000010000000000', 2 ** 40],
    ['int64 -2^53 as a BigInt (not a safe integer)', 'd3ffe0000000000000', -(2n ** 53n)],
    ['int64 -(2^53-1) as a number', 'd3ffe0000000000001', -(2 ** 53 - 1)],
    ['uint64 2^53-1 as a number', 'cf001fffffffffffff', 2 ** 53 - 1],
    ['int64 -2^53-1 as a BigInt', 'd3ffdfffffffffffff', -(2n ** 53n) - 1n],
    ['int64 -2^63 as a BigInt', 'd38000000000000000', -(2n ** 63n)],
    ['int64 2^62 (positive int64) as a BigInt', 'd34000000000000000', 2n ** 62n],
    ['int64 5 as a number', 'd30000000000000005', 5],
  ])('decodes %s, never rounded', (_label, bytes, expected) => {
    expect(decodeRawValue(Buffer.from(bytes, 'hex'))).toBe(expected);
    expect(unpackValue(Buffer.from(bytes, 'hex'))).toBe(expected);
  });

  it.each<[string, string]>([
    ['uint64 2^53', 'cf0020000000000000'],
    ['int64 -2^53', 'd3ffe0000000000000'],
    ['uint64 2^53-1', 'cf001fffffffffffff'],
    ['int64 -(2^53-1)', 'd3ffe0000000000001'],
    ['float64 2^53', 'cb4340000000000000'],
    ['float64 -2^53', 'cbc340000000000000'],
  ])(
    '%s from a Python peer is written back as the same bytes after a hop (the decoder and encoder agree on the ' +
      'boundary)',
    (_label, bytes) => {
      const wire = Buffer.from(bytes, 'hex');
      // A value received (through a frame and alone) and sent on unchanged.
      expect(hex(packValue(decodeRawValue(wire)))).toBe(bytes);
      expect(hex(packValue(unpackValue(wire)))).toBe(bytes);
    },
  );

  it('a frame with one big integer keeps the other 64-bit integers as numbers', () => {
    const [m] = new FrameDecoder().push(
      encodeFrame(msg({ big: 2n ** 60n, ts: 1764500000000, list: [2 ** 40, -(2 ** 40)] })),
    );
    expect(m!.data).toEqual({ big: 2n ** 60n, ts: 1764500000000, list: [2 ** 40, -(2 ** 40)] });
    expect(m!.timestampMs).toBe(T);
  });

  it('property: a safe integer is written in the smallest integer format and decodes to itself', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.integer(), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })), (n) => {
        const b = packValue(n);
        expect(b).toEqual(referencePackbInt(BigInt(n)));
        expect(Object.is(unpackValue(b), n === 0 ? 0 : n)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: a BigInt in [-2^63, 2^64-1] is written like packb and decodes exactly (number within ±2^53)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), (v) => {
        const b = packValue(v);
        expect(b).toEqual(referencePackbInt(v));
        const back = unpackValue(b);
        if (v >= -(2n ** 53n) && v <= 2n ** 53n) expect(back).toBe(Number(v));
        else expect(back).toBe(v);
        expect(decodeRawValue(b)).toBe(back);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: any double that is not a safe integer is float64 and round-trips bit for bit', () => {
    fc.assert(
      fc.property(fc.double(), (d) => {
        fc.pre(!Number.isSafeInteger(d) || Object.is(d, -0));
        const b = packValue(d);
        expect(b[0]).toBe(0xcb);
        expect(b.readDoubleBE(1)).toBe(d); // toBe: Object.is, so NaN and -0 are exact
        expect(unpackValue(b)).toBe(d);
      }),
      { numRuns: 2000 },
    );
  });
});

/** Python msgpack's int rule: smallest unsigned format for >= 0, smallest signed for < 0. */
function referencePackbInt(v: bigint): Buffer {
  const n = Number(v);
  if (v >= 0n) {
    if (v < 0x80n) return Buffer.from([n]);
    if (v < 0x100n) return Buffer.from([0xcc, n]);
    if (v < 0x10000n) return Buffer.from([0xcd, n >> 8, n & 0xff]);
    const b = Buffer.alloc(v < 0x100000000n ? 5 : 9);
    if (v < 0x100000000n) {
      b.writeUInt32BE(n, 1);
      b[0] = 0xce;
    } else {
      b.writeBigUInt64BE(v, 1);
      b[0] = 0xcf;
    }
    return b;
  }
  if (v >= -0x20n) return Buffer.from([n & 0xff]);
  if (v >= -0x80n) return Buffer.from([0xd0, n & 0xff]);
  const b = Buffer.alloc(v >= -0x8000n ? 3 : v >= -0x80000000n ? 5 : 9);
  if (v >= -0x8000n) {
    b.writeInt16BE(n, 1);
    b[0] = 0xd1;
  } else if (v >= -0x80000000n) {
    b.writeInt32BE(n, 1);
    b[0] = 0xd2;
  } else {
    b.writeBigInt64BE(v, 1);
    b[0] = 0xd3;
  }
  return b;
}

// ---- plain msgpack only --------------------------------------------------------

const expectRefused = (payload: Uint8Array, reason: string): MessageError => {
  const err = messageError(() => decodePayload(payload));
  expect(err.code).toBe(ErrorCode.MALFORMED_FRAME);
  expect(err.details.reason).toBe(reason);
  return err;
};

describe('plain msgpack only: extension types are refused on decode', () => {
  // What msgpackr writes with its extensions on (useBigIntExtension, moreTypes),
  // captured outside jest (its VM realm hides typed arrays from msgpackr's instanceof).
  it.each<[string, string]>([
    ['a Date (timestamp extension -1)', 'd7ff003d090000000000'],
    ['a BigInt beyond 64 bits (extension 0x42)', 'd84200000000000000400000000000000000'],
    ['a Float32Array (typed-array extension 0x74)', 'c70974070000803f00000040'],
    ['a Set (extension 0x73)', 'd473009101'],
    ['an Error (extension 0x65)', 'd4650093a54572726f72a178d40000'],
    ['a RegExp (extension 0x78)', 'd4780092a178a0'],
    ['undefined (fixext 1, type 0)', 'd40000'],
  ])('%s, as msgpackr writes it', (_label, bytes) => {
    const err = expectRefused(withRawValue(Buffer.from(bytes, 'hex')), 'extension');
    expect(err.message).toContain('extension');
  });

  it('a Date written by msgpackr in this realm is refused too', () => {
    const bytes = new Packr({ useRecords: false, variableMapSize: true }).pack({ v: new Date(T) });
    expectRefused(withRawValue(bytes.subarray(3)), 'extension');
  });

  it('msgpackr records (useRecords) are refused', () => {
    const recordPackr = new Packr({ useRecords: true });
    const bytes = recordPackr.pack([
      { a: 1, b: 2 },
      { a: 3, b: 4 },
    ]);
    expect(() => unpackValue(bytes)).toThrow(MessageError);
    expectRefused(withRawValue(bytes), 'extension');
  });

  it('property: any extension (every token, every type code) anywhere in data is refused, never decoded', () => {
    const ext = fc
      .tuple(
        fc.constantFrom(0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7, 0xc8, 0xc9),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 20 }),
      )
      .map(([token, type, body]) => {
        const fixed = { 212: 1, 213: 2, 214: 4, 215: 8, 216: 16 }[token as 0xd4];
        if (fixed !== undefined) return Buffer.concat([Buffer.from([token, type]), Buffer.alloc(fixed, 7)]);
        const len = body.length;
        const header = token === 0xc7 ? [token, len] : token === 0xc8 ? [token, 0, len] : [token, 0, 0, 0, len];
        return Buffer.concat([Buffer.from([...header, type]), body]);
      });
    fc.assert(
      fc.property(ext, fc.integer({ min: 0, max: 3 }), (e, nest) => {
        // wrap it in `nest` one-element arrays/maps
        let v = e;
        for (let i = 0; i < nest; i++)
          v = i % 2 ? Buffer.concat([Buffer.from([0x91]), v]) : Buffer.concat([Buffer.from([0x81, 0xa1, 0x6b]), v]);
        expectRefused(withRawValue(v), 'extension');
        expect(() => unpackValue(v)).toThrow(MessageError);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('plain msgpack only: encoding', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['a key', { a: { b: undefined } }, 'data.a.b'],
    ['an array element', { list: [1, undefined] }, 'data.list[1]'],
    ['a Map value', { m: new Map([['k', undefined]]) }, 'data.m.k'],
    ['an odd key', { 'x y': undefined }, 'data["x y"]'],
  ])('undefined in %s is INVALID_MESSAGE naming it', (_label, data, path) => {
    const err = messageError(() => encodeFrame(msg(data)));
    expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
    expect(err.message).toContain(path);
    expect(err.message).toContain('undefined');
    expect(err.details.path).toBe(path);
  });

  it.each<[string, unknown, string]>([
    ['a Date', new Date(T), 'getTime'],
    ['a Set', new Set([1]), 'array'],
    ['a Float32Array', new Float32Array(2), 'Buffer'],
    ['a function', () => 1, 'function'],
    ['a symbol', Symbol('s'), 'symbol'],
  ])('%s is INVALID_MESSAGE (no plain msgpack form)', (_label, value, hint) => {
    const err = messageError(() => encodeFrame(msg({ v: value })));
    expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
    expect(err.message).toContain('data.v');
    expect(err.message).toContain(hint);
  });

  it('Buffers and Uint8Arrays are bin; class instances are their fields, or their toJSON', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    class Money {
      toJSON(): string {
        return '1.50 EUR';
      }
    }
    const data = { buf: Buffer.from([0, 1, 255]), u8: new Uint8Array([9]), p: new Point(1, 2), j: new Money() };
    const [m] = new FrameDecoder().push(encodeFrame(msg(data)));
    expect(m!.data).toEqual({ buf: Buffer.from([0, 1, 255]), u8: Buffer.from([9]), p: { x: 1, y: 2 }, j: '1.50 EUR' });
  });

  it('a toJSON that itself encodes (re-entrant use of the writer) does not corrupt the outer frame', () => {
    class Nested {
      toJSON(): string {
        return packValue({ inner: [1, 2 ** 40, 'x'.repeat(100)] }).toString('hex');
      }
    }
    const data = { before: 'a'.repeat(50), n: new Nested(), after: 2 ** 33 };
    const [m] = new FrameDecoder().push(encodeFrame(msg(data)));
    expect(m!.data).toEqual({
      before: 'a'.repeat(50),
      n: hex(packValue({ inner: [1, 2 ** 40, 'x'.repeat(100)] })),
      after: 2 ** 33,
    });
  });

  it(
    'a message far above maxMessageSize is refused as soon as that is certain (FRAME_TOO_LARGE), and later encodes ' +
      'are fine',
    () => {
      for (const data of [
        { big: 'x'.repeat(8 * 1024 * 1024) },
        { bin: Buffer.alloc(8 * 1024 * 1024) },
        { many: Array.from({ length: 200_000 }, (_, i) => `item-${i}`) },
      ]) {
        const err = messageError(() => encodeFrame(msg(data), 1024 * 1024));
        expect(err.code).toBe(ErrorCode.FRAME_TOO_LARGE);
        expect(err.details.maxMessageSize).toBe(1024 * 1024);
        expect(err.details.size as number).toBeGreaterThan(1024 * 1024);
      }
      expect(new FrameDecoder().push(encodeFrame(msg({ ok: 1 })))[0]?.data).toEqual({ ok: 1 });
    },
  );

  it('a circular reference is INVALID_MESSAGE, not a stack overflow', () => {
    const a: Record<string, unknown> = { n: 1 };
    a.self = a;
    const err = messageError(() => encodeFrame(msg({ a })));
    expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
    expect(err.message).toContain('circular');
  });

  it.each<[string, string, string]>([
    ['20 chars, 40 bytes (fixstr guess -> str8)', 'é'.repeat(20), 'd928'],
    ['100 chars, 300 bytes (str8 guess -> str16)', '日'.repeat(100), 'da012c'],
    ['40,000 chars, 80,000 bytes (str16 guess -> str32)', 'é'.repeat(40000), 'db00013880'],
    ['70,000 ASCII chars (str32)', 'z'.repeat(70000), 'db00011170'],
  ])('a string whose UTF-8 needs a larger header than its length suggests: %s', (_label, s, header) => {
    const b = packValue(s);
    expect(hex(b.subarray(0, header.length / 2))).toBe(header);
    expect(b.subarray(header.length / 2).equals(Buffer.from(s))).toBe(true);
    expect(unpackValue(b)).toBe(s);
  });

  it('strings of any Unicode (NUL, emoji, lone surrogates) are written as Buffer.from writes them', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const utf8 = Buffer.from(s);
        const b = packValue(s);
        const n = utf8.length;
        const header = n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
        expect(b.length).toBe(header + n);
        expect(hex(b.subarray(header))).toBe(hex(utf8));
        expect(unpackValue(b)).toBe(utf8.toString());
      }),
      { numRuns: 1000 },
    );
  });
});

describe('property: any plain value round-trips exactly', () => {
  const leaf = fc.oneof(
    fc.integer(),
    fc.maxSafeInteger(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.double(),
    fc.string({ unit: 'grapheme' }),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
  );
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('value'), { maxLength: 5 }),
      fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 }),
    ),
  }));
  /** What decoding gives back: BigInts within ±2^53 become numbers, bytes become Buffers. */
  const expected = (v: unknown): unknown => {
    if (typeof v === 'bigint') return v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v;
    if (Array.isArray(v)) return v.map(expected);
    if (v instanceof Uint8Array || v === null || typeof v !== 'object') return v;
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v))
      Object.defineProperty(o, k, { value: expected(x), enumerable: true, writable: true, configurable: true });
    return o;
  };
  const same = (a: unknown, b: unknown): boolean => {
    if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
    if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
      const ka = Object.keys(a);
      return (
        ka.join('\u0001') === Object.keys(b).join('\u0001') &&
        ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
      );
    }
    return Object.is(a, b);
  };

  it('through encodeFrame and FrameDecoder (numbers, BigInts, -0, NaN, bytes, unicode, nesting, odd keys)', () => {
    fc.assert(
      fc.property(value, (v) => {
        const [m] = new FrameDecoder().push(encodeFrame(msg({ v })));
        expect(same(m!.data.v, expected(v))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('map keys come back exactly as sent (__proto__ as an own property)', () => {
  it('a __proto__ key in data is an own property and pollutes nothing', () => {
    const data = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as Record<string, unknown>;
    const frame = encodeFrame(msg(data));
    const [m] = new FrameDecoder().push(frame);
    expect(Object.keys(m!.data)).toEqual(['__proto__', 'ok']);
    expect(Object.getOwnPropertyDescriptor(m!.data, '__proto__')?.value).toEqual({ polluted: true });
    expect(Object.getPrototypeOf(m!.data)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((m!.data as { polluted?: unknown }).polluted).toBeUndefined();
    // and it re-encodes to the same bytes
    expect(hex(encodeFrame(m!))).toBe(hex(frame));
  });

  it('a __proto__ key at the top level or deep in arrays is harmless too', () => {
    const nested = rawPackr.pack(
      new Map<unknown, unknown>([
        ['__proto__', new Map([['polluted', 1]])],
        ['event_name', 'e'],
        ['timestamp_ms', T],
        ['timestamp_iso', 'x'],
        ['message_type', 'data'],
        ['data', new Map<unknown, unknown>([['list', [new Map([['__proto__', new Map([['isAdmin', true]])]])]]])],
      ]),
    );
    const m = decodePayload(nested);
    const el = (m.data.list as Array<Record<string, unknown>>)[0]!;
    expect(Object.keys(el)).toEqual(['__proto__']);
    expect(el.isAdmin).toBeUndefined();
    expect(Object.getPrototypeOf(el)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(m)).not.toContain('__proto__');
  });

  it('property: any string keys round-trip exactly, in order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty')),
          { maxLength: 8 },
        ),
        (keys) => {
          const data: Record<string, unknown> = {};
          keys.forEach((k, i) =>
            Object.defineProperty(data, k, { value: i, enumerable: true, writable: true, configurable: true }),
          );
          const [m] = new FrameDecoder().push(encodeFrame(msg(data)));
          expect(Object.entries(m!.data)).toEqual(Object.entries(data));
          expect(Object.getPrototypeOf(m!.data)).toBe(Object.prototype);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe(`nesting depth is bounded (${MAX_NESTING_DEPTH} containers, envelope included), checked before decoding`, () => {
  /** `data: { d: [[[...]]] }` with `total` containers in all (envelope and data map included). */
  const nestedPayload = (total: number): Buffer => {
    const arrays = total - 2;
    return withRawValue(Buffer.concat([Buffer.alloc(arrays - 1, 0x91), Buffer.from([0x90])]));
  };

  it('accepts exactly the limit', () => {
    const m = decodePayload(nestedPayload(MAX_NESTING_DEPTH));
    let v: unknown = m.data.v;
    let depth = 2;
    while (Array.isArray(v)) {
      depth++;
      v = v[0];
    }
    expect(depth).toBe(MAX_NESTING_DEPTH);
  });

  it.each([MAX_NESTING_DEPTH + 1, 5000, 1_000_000])(
    'refuses %i containers with MALFORMED_FRAME (reason "depth"), the decoder stays usable',
    (n) => {
      const err = expectRefused(nestedPayload(n), 'depth');
      expect(err.message).toContain(String(MAX_NESTING_DEPTH));
      expect(decodePayload(encodePayload(msg({ ok: 1 }))).data).toEqual({ ok: 1 });
    },
  );

  it('maps count like arrays', () => {
    const maps = (n: number): Buffer =>
      Buffer.concat([...Array.from({ length: n }, () => Buffer.from([0x81, 0xa1, 0x6b])), Buffer.from([0xc0])]);
    decodePayload(withRawValue(maps(MAX_NESTING_DEPTH - 2)));
    expectRefused(withRawValue(maps(MAX_NESTING_DEPTH - 1)), 'depth');
  });

  it('encoding refuses what decoding would refuse', () => {
    const nest = (n: number): unknown => {
      let v: unknown = [];
      for (let i = 1; i < n; i++) v = [v];
      return v;
    };
    expect(() => encodeFrame(msg({ v: nest(MAX_NESTING_DEPTH - 2) }))).not.toThrow();
    const err = messageError(() => encodeFrame(msg({ v: nest(MAX_NESTING_DEPTH - 1) })));
    expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
    expect(err.message).toContain(String(MAX_NESTING_DEPTH));
  });

  it('a deep frame in a stream fails only itself when decoded by payload', () => {
    const d = new FrameDecoder();
    const payloads: Uint8Array[] = [];
    d.feedPayloads(Buffer.concat([frameBytes(nestedPayload(100_000)), encodeFrame(msg({ after: true }))]), (p) =>
      payloads.push(Buffer.from(p)),
    );
    expect(payloads).toHaveLength(2);
    expectRefused(payloads[0]!, 'depth');
    expect(decodePayload(payloads[1]!).data).toEqual({ after: true });
  });
});
