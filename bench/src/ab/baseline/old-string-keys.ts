// FROZEN COPY of @socketkit/codec's encoder before issue 14 (msgpackr for `data`,
// then a byte walk for string keys), kept only as the baseline of encoder-ab.ts.
// Do not fix or extend: it must stay what was measured against.
/* eslint-disable */
/**
 * Byte-level check that every msgpack map key in a value is a string.
 *
 * msgpackr (with `mapsAsObjects`) silently turns integer, boolean and nil map
 * keys into strings, so `{1: "a"}` and `{"1": "a"}` decode alike. The Python
 * reference module decodes with strict map keys and rejects the whole frame,
 * and the wire format says maps have string keys, so socketkit rejects such
 * frames too (and refuses to encode them). The walk only reads headers and
 * jumps over string, binary and extension bodies; it runs on bytes msgpackr
 * has already accepted, so it recurses no deeper than msgpackr did.
 */

/** Sizes (token included) of the fixed-size tokens in 0xc0..0xdf; 0 marks a variable size or container. */
const FIXED = new Uint8Array(256);
for (const [t, n] of [
  [0xc0, 1],
  [0xc1, 1],
  [0xc2, 1],
  [0xc3, 1],
  [0xca, 5],
  [0xcb, 9],
  [0xcc, 2],
  [0xcd, 3],
  [0xce, 5],
  [0xcf, 9],
  [0xd0, 2],
  [0xd1, 3],
  [0xd2, 5],
  [0xd3, 9],
  [0xd4, 3],
  [0xd5, 4],
  [0xd6, 6],
  [0xd7, 10],
  [0xd8, 18],
] as const)
  FIXED[t] = n;

function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) >>> 0) + (b[p + 1]! << 16) + (b[p + 2]! << 8) + b[p + 3]!;
}

/** Skips a map key at `pos`, which must be a msgpack string. */
function skipKey(b: Uint8Array, pos: number): number {
  const t = b[pos];
  if (t === undefined) throw new Error('truncated msgpack map');
  if (t >= 0xa0 && t <= 0xbf) return pos + 1 + (t & 0x1f);
  if (t === 0xd9) return pos + 2 + b[pos + 1]!;
  if (t === 0xda) return pos + 3 + u16(b, pos + 1);
  if (t === 0xdb) return pos + 5 + u32(b, pos + 1);
  throw new Error(`map key of msgpack type 0x${t.toString(16).padStart(2, '0')} at byte ${pos} is not a string`);
}

function skipMap(b: Uint8Array, pos: number, n: number): number {
  for (let i = 0; i < n; i++) pos = skip(b, skipKey(b, pos));
  return pos;
}

function skipArray(b: Uint8Array, pos: number, n: number): number {
  for (let i = 0; i < n; i++) pos = skip(b, pos);
  return pos;
}

/** Returns the position after the msgpack value at `pos`. */
function skip(b: Uint8Array, pos: number): number {
  const t = b[pos];
  if (t === undefined) throw new Error('truncated msgpack value');
  if (t < 0x80 || t >= 0xe0) return pos + 1;
  if (t < 0x90) return skipMap(b, pos + 1, t & 0x0f);
  if (t < 0xa0) return skipArray(b, pos + 1, t & 0x0f);
  if (t < 0xc0) return pos + 1 + (t & 0x1f);
  const fixed = FIXED[t]!;
  if (fixed !== 0) return pos + fixed;
  switch (t) {
    case 0xc4:
    case 0xd9:
      return pos + 2 + b[pos + 1]!;
    case 0xc5:
    case 0xda:
      return pos + 3 + u16(b, pos + 1);
    case 0xc6:
    case 0xdb:
      return pos + 5 + u32(b, pos + 1);
    case 0xc7:
      return pos + 3 + b[pos + 1]!;
    case 0xc8:
      return pos + 4 + u16(b, pos + 1);
    case 0xc9:
      return pos + 6 + u32(b, pos + 1);
    case 0xdc:
      return skipArray(b, pos + 3, u16(b, pos + 1));
    case 0xdd:
      return skipArray(b, pos + 5, u32(b, pos + 1));
    case 0xde:
      return skipMap(b, pos + 3, u16(b, pos + 1));
    case 0xdf:
      return skipMap(b, pos + 5, u32(b, pos + 1));
    default:
      throw new Error(`unknown msgpack token 0x${t.toString(16)}`);
  }
}

/**
 * Throws an `Error` describing the problem when `bytes` (one msgpack value)
 * contains a map whose key is not a string, or is not exactly one value.
 */
export function assertStringKeys(bytes: Uint8Array): void {
  const end = skip(bytes, 0);
  if (end !== bytes.length) throw new Error(`msgpack value ends at byte ${end} of ${bytes.length}`);
}
