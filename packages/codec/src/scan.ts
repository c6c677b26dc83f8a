/**
 * Byte-level pre-check of one msgpack value, run BEFORE it is decoded.
 *
 * It enforces what plain msgpack between socketkit and the Python module
 * allows and a generic decoder does not check: every map key is a string
 * (Python decodes with `strict_map_key`), no extension types (msgpackr would
 * turn them into Dates, BigInts, typed arrays or records), no reserved byte
 * 0xc1, at most {@link MAX_NESTING_DEPTH} nested containers (checked here so
 * the decoder's recursion, and the application's own JSON.stringify later,
 * never see deeper input), and exactly one value.
 *
 * It also reports what the fast decoder cannot represent, so the caller can
 * pick the exact (slower) decode only for frames that need it: a 64-bit
 * integer beyond ±2^53, or a `__proto__` map key.
 */
import { MAX_NESTING_DEPTH } from './limits.js';

/** Why a payload was refused by {@link scanValue}. */
export type ScanProblem = 'truncated' | 'trailing' | 'key' | 'extension' | 'reserved' | 'depth';

/** Thrown by {@link scanValue}; `reason` says which rule failed. */
export class ScanError extends Error {
  constructor(
    readonly reason: ScanProblem,
    message: string,
  ) {
    super(message);
  }
}

/** Set in {@link scanValue}'s result when a 64-bit integer lies beyond ±2^53. */
export const SCAN_BIG_INT = 1;
/** Set in {@link scanValue}'s result when a map has the key `__proto__`. */
export const SCAN_PROTO_KEY = 2;
/**
 * Set in {@link scanValue}'s result when the value holds a msgpack bin (decoded as a view into the bytes unless
 * copied).
 */
export const SCAN_BIN = 4;

/**
 * Sizes (token included) of the fixed-size tokens in 0xc0..0xd3; 0 marks a variable size, container or refused token.
 */
const FIXED = new Uint8Array(256);
for (const [t, n] of [
  [0xc0, 1],
  [0xc2, 1],
  [0xc3, 1],
  [0xca, 5],
  [0xcb, 9],
  [0xcc, 2],
  [0xcd, 3],
  [0xce, 5],
  [0xd0, 2],
  [0xd1, 3],
  [0xd2, 5],
] as const)
  FIXED[t] = n;

// "__proto__" as bytes.
const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f];

let flags = 0;
/** Size of the smallest bin the last scan met (Infinity: none). */
let minBin = Number.POSITIVE_INFINITY;

function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

/** The big-endian unsigned 32-bit integer at `p` (NaN past the end). */
export function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) >>> 0) + (b[p + 1]! << 16) + (b[p + 2]! << 8) + b[p + 3]!;
}

function hex(t: number): string {
  return `0x${t.toString(16).padStart(2, '0')}`;
}

/** Sets SCAN_PROTO_KEY when the `len` key bytes at `p` spell `__proto__`. */
function checkProto(b: Uint8Array, p: number, len: number): void {
  if (len !== 9 || b[p] !== 0x5f || b[p + 1] !== 0x5f) return;
  let i = 2;
  while (i < 9 && b[p + i] === PROTO[i]) i++;
  if (i === 9) flags |= SCAN_PROTO_KEY;
}

/** Where the string that {@link stringHeaderAt} found starts, and its length in bytes. */
export let strStart = 0;
export let strLen = 0;

/**
 * Reads the header of a msgpack string (fixstr, str8, str16 or str32) at
 * `p` into {@link strStart} and {@link strLen}; false when the byte at `p`
 * is missing or not a string header. Whether the string's bytes are all
 * there is the caller's to check (a cut header leaves them pointing past the end).
 */
export function stringHeaderAt(b: Uint8Array, p: number): boolean {
  const t = b[p];
  if (t === undefined) return false;
  if (t >= 0xa0 && t <= 0xbf) {
    strStart = p + 1;
    strLen = t & 0x1f;
  } else if (t === 0xd9) {
    strStart = p + 2;
    strLen = b[p + 1]!;
  } else if (t === 0xda) {
    strStart = p + 3;
    strLen = u16(b, p + 1);
  } else if (t === 0xdb) {
    strStart = p + 5;
    strLen = u32(b, p + 1);
  } else return false;
  return true;
}

/**
 * Skips a map key at `pos`, which must be a msgpack string. A `__proto__`
 * key is flagged whatever its string header (fixstr, str8, str16 or str32:
 * each is valid msgpack for the same key).
 */
function skipKey(b: Uint8Array, pos: number): number {
  if (!stringHeaderAt(b, pos)) {
    const t = b[pos];
    if (t === undefined) throw new ScanError('truncated', 'truncated msgpack map');
    throw new ScanError('key', `map key of msgpack type ${hex(t)} at byte ${pos} is not a string`);
  }
  checkProto(b, strStart, strLen);
  return strStart + strLen;
}

function skipMap(b: Uint8Array, pos: number, n: number, depth: number): number {
  if (depth > MAX_NESTING_DEPTH) throw tooDeep(pos);
  for (let i = 0; i < n; i++) pos = skip(b, skipKey(b, pos), depth);
  return pos;
}

function skipArray(b: Uint8Array, pos: number, n: number, depth: number): number {
  if (depth > MAX_NESTING_DEPTH) throw tooDeep(pos);
  for (let i = 0; i < n; i++) pos = skip(b, pos, depth);
  return pos;
}

function tooDeep(pos: number): ScanError {
  return new ScanError('depth', `containers nested more than ${MAX_NESTING_DEPTH} deep (at byte ${pos})`);
}

/**
 * Returns the position after the msgpack value at `pos`. `depth` counts the
 * containers enclosing that value (0 at the top).
 */
function skip(b: Uint8Array, pos: number, depth: number): number {
  const t = b[pos];
  if (t === undefined) throw new ScanError('truncated', 'truncated msgpack value');
  if (t < 0x80 || t >= 0xe0) return pos + 1;
  if (t < 0x90) return skipMap(b, pos + 1, t & 0x0f, depth + 1);
  if (t < 0xa0) return skipArray(b, pos + 1, t & 0x0f, depth + 1);
  if (t < 0xc0) return pos + 1 + (t & 0x1f);
  const fixed = FIXED[t]!;
  if (fixed !== 0) return pos + fixed;
  switch (t) {
    case 0xcf: {
      // uint64 beyond the safe integers (2^53 and up): the high word is 0x200000 or more
      if (u32(b, pos + 1) >= 0x200000) flags |= SCAN_BIG_INT;
      return pos + 9;
    }
    case 0xd3: {
      // int64 beyond the safe integers (|n| >= 2^53): -2^53 itself is high word -0x200000 with a zero low word
      const hi = u32(b, pos + 1) | 0;
      if (hi >= 0x200000 || hi < -0x200000 || (hi === -0x200000 && u32(b, pos + 5) === 0)) flags |= SCAN_BIG_INT;
      return pos + 9;
    }
    case 0xc4: {
      flags |= SCAN_BIN;
      const n = b[pos + 1]!;
      if (n < minBin) minBin = n;
      return pos + 2 + n;
    }
    case 0xd9:
      return pos + 2 + b[pos + 1]!;
    case 0xc5: {
      flags |= SCAN_BIN;
      const n = u16(b, pos + 1);
      if (n < minBin) minBin = n;
      return pos + 3 + n;
    }
    case 0xda:
      return pos + 3 + u16(b, pos + 1);
    case 0xc6: {
      flags |= SCAN_BIN;
      const n = u32(b, pos + 1);
      if (n < minBin) minBin = n;
      return pos + 5 + n;
    }
    case 0xdb:
      return pos + 5 + u32(b, pos + 1);
    case 0xdc:
      return skipArray(b, pos + 3, u16(b, pos + 1), depth + 1);
    case 0xdd:
      return skipArray(b, pos + 5, u32(b, pos + 1), depth + 1);
    case 0xde:
      return skipMap(b, pos + 3, u16(b, pos + 1), depth + 1);
    case 0xdf:
      return skipMap(b, pos + 5, u32(b, pos + 1), depth + 1);
    case 0xc1:
      throw new ScanError('reserved', `reserved msgpack byte 0xc1 at byte ${pos}`);
    default: {
      // 0xc7-0xc9 (ext 8/16/32) and 0xd4-0xd8 (fixext 1..16)
      const typeAt = t <= 0xc9 ? pos + (t === 0xc7 ? 2 : t === 0xc8 ? 3 : 5) : pos + 1;
      const type = b[typeAt];
      const name = type === undefined ? '' : ` of type ${(type << 24) >> 24}`;
      throw new ScanError(
        'extension',
        `msgpack extension${name} (token ${hex(t)}) at byte ${pos}: only plain msgpack is accepted (no timestamps, ` +
          `BigInt, typed-array or record extensions)`,
      );
    }
  }
}

/**
 * Checks that `bytes` is exactly one plain msgpack value (see the module
 * comment) and returns flags: {@link SCAN_BIG_INT}, {@link SCAN_PROTO_KEY}, {@link SCAN_BIN}.
 * @throws ScanError naming the first problem.
 */
export function scanValue(bytes: Uint8Array): number {
  flags = 0;
  minBin = Number.POSITIVE_INFINITY;
  const end = skip(bytes, 0, 0);
  // `!(<=)` also catches NaN, from a length read past the end
  if (!(end <= bytes.length))
    throw new ScanError('truncated', `truncated msgpack value: ${bytes.length} bytes are not enough`);
  if (end !== bytes.length) throw new ScanError('trailing', `msgpack value ends at byte ${end} of ${bytes.length}`);
  return flags;
}

/**
 * Checks the msgpack value at `pos` of a larger buffer, `depth` containers
 * deep, with the same rules as {@link scanValue}, and returns the position
 * after it. That position may lie past `bytes.length` (or be NaN) when the
 * value is truncated: the caller checks. Flags: {@link lastScanFlags}.
 * @throws ScanError naming the first problem.
 */
export function scanAt(bytes: Uint8Array, pos: number, depth: number): number {
  flags = 0;
  minBin = Number.POSITIVE_INFINITY;
  return skip(bytes, pos, depth);
}

/** Bytes of the smallest bin the last {@link scanAt} (or {@link scanValue}) met; Infinity when it met none. */
export function lastScanMinBin(): number {
  return minBin;
}

/** The flags of the last {@link scanAt} (or {@link scanValue}). */
export function lastScanFlags(): number {
  return flags;
}
