// The codec decodes with msgpackr's JavaScript decoder (`msgpackr/unpack`) until it has decoded NATIVE_AFTER sources
// of at least NATIVE_MIN_BYTES, then with the full msgpackr and its native string extractor (issue 28: importing
// msgpackr with the extractor was about half of its import cost). Both must decode every value the same way; the
// module graph side (an import does not load the extractor) is pinned in packages/unix/test/lazy-load.test.ts.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decodeValue, packValue, unpackValue, useFullMsgpackr } from '../src/msgpack.js';

const strings = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`key${i}`, `välue ${i} ✓ of twenty`]));
const samples: unknown[] = [
  strings,
  { seq: 1, blob: 'b'.repeat(83), nested: { list: ['a', 'bé', 'c'.repeat(200)], n: -1.5, big: 2n ** 60n } },
  { ['__proto__']: { polluted: true }, text: 'x'.repeat(70_000) },
  [Buffer.from('bytes'), null, true, 2 ** 53 - 1, -(2 ** 53 - 1)],
];

describe('decoding before and after the switch to the full msgpackr', () => {
  it('decodes the same values with the JavaScript decoder and with the full msgpackr', () => {
    const arb = fc.anything({ withBigInt: true, withNullPrototype: false, withObjectString: false, withMap: false });
    const values = [
      ...samples,
      ...fc.sample(
        arb.filter((v) => safePack(v) !== undefined),
        300,
      ),
    ];
    const bytes = values.map((v) => packValue(v));
    const before = bytes.map((b) => unpackValue(b));
    const copiedBefore = bytes.map((b) => decodeValue(b, true));
    useFullMsgpackr();
    expect(bytes.map((b) => unpackValue(b))).toEqual(before);
    expect(bytes.map((b) => decodeValue(b, true))).toEqual(copiedBefore);
    expect(unpackValue(packValue(strings))).toEqual(strings);
  });
});

function safePack(v: unknown): Buffer | undefined {
  try {
    return packValue(v);
  } catch {
    return undefined;
  }
}
