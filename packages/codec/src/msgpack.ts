import { createRequire } from 'node:module';
import { ErrorCode, MessageError } from '@socketkit/protocol';
import { Unpackr } from 'msgpackr/unpack';
import { MAX_FRAME_PAYLOAD } from './limits.js';
import { SCAN_BIG_INT, SCAN_BIN, SCAN_PROTO_KEY, ScanError, lastScanMinBin, scanValue } from './scan.js';
import { EncodeRefusal, EncodeTooLarge, formatPath, withWriter, writeValue } from './writer.js';

// Both decoders only ever see bytes scanValue accepted: plain msgpack, string
// keys, no extensions, bounded depth. The fast one reads 64-bit integers as
// numbers, exact because the scan found none outside the safe integers.
const FAST = { useRecords: false, mapsAsObjects: true, int64AsType: 'number' } as const;
// 64-bit integers as BigInt (toPlain turns the safe ones into numbers: the
// boundary is the writer's, |n| <= 2^53-1, so an integer of ±2^53 from a
// peer stays an integer after a hop; msgpackr's 'auto' would make ±2^53 a
// number, which the writer sends as a float). Maps as Map, so a `__proto__`
// key survives until toPlain defines it as an own property.
const EXACT = { useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' } as const;
// The same two with every bin copied out of the bytes (by default a bin is a view into them).
let fastUnpackr = new Unpackr(FAST);
let exactUnpackr = new Unpackr(EXACT);
let fastCopyUnpackr = new Unpackr({ ...FAST, copyBuffers: true });
let exactCopyUnpackr = new Unpackr({ ...EXACT, copyBuffers: true });

/**
 * The decoders above come from `msgpackr/unpack`: msgpackr's JavaScript decoder, without its native string
 * extractor (msgpackr-extract). Loading the extractor (node-gyp-build, detect-libc, node:child_process, a native
 * addon) was about half of what importing msgpackr costs, ~10-20 ms of every process's start (issue 28: cold
 * start), and it pays off only on sources of at least {@link NATIVE_MIN_BYTES} with many strings (msgpackr never
 * uses it below that; ~4x faster on an object of 20 strings of 30 characters). So the decoders switch to the full
 * msgpackr, extractor included when its prebuilt binary loads, after {@link NATIVE_AFTER} decodes of such
 * sources: a short-lived program never loads it, a long stream of larger messages gets it early.
 */
export const NATIVE_AFTER = 256;
/** Smallest source msgpackr hands to its native string extractor (below it, strings are read in JavaScript). */
export const NATIVE_MIN_BYTES = 140;
let untilNative = NATIVE_AFTER;

/** Counts one decode of `bytes` source bytes and switches to the full msgpackr at the {@link NATIVE_AFTER}th. */
function countDecode(bytes: number): void {
  if (bytes >= NATIVE_MIN_BYTES && --untilNative === 0) useFullMsgpackr();
}

/**
 * Replaces the four decoders with the full msgpackr's (the CommonJS build that node's `require` loads, which
 * sets up the native string extractor when msgpackr-extract loads). Exported for the tests; the decoders
 * switch by themselves. Returns whether the extractor is in use; if msgpackr itself fails to load, the
 * JavaScript decoders stay (they decode the same values).
 */
export function useFullMsgpackr(): boolean {
  untilNative = -1;
  let full: { Unpackr: typeof Unpackr; isNativeAccelerationEnabled: boolean };
  try {
    full = createRequire(import.meta.url)('msgpackr');
  } catch {
    return false;
  }
  fastUnpackr = new full.Unpackr(FAST);
  exactUnpackr = new full.Unpackr(EXACT);
  fastCopyUnpackr = new full.Unpackr({ ...FAST, copyBuffers: true });
  exactCopyUnpackr = new full.Unpackr({ ...EXACT, copyBuffers: true });
  return full.isNativeAccelerationEnabled;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Turns the Maps of the exact decoder into objects (`__proto__` becomes an
 * own property, never the prototype) and its safe-integer BigInts into numbers.
 */
function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, val] of v as Map<string, unknown>) {
      if (k === '__proto__')
        Object.defineProperty(o, k, { value: toPlain(val), writable: true, enumerable: true, configurable: true });
      else o[k] = toPlain(val);
    }
    return o;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = toPlain(v[i]);
  }
  return v;
}

/**
 * A decoded bin is a view into the bytes it was read from only while that
 * memory (the whole ArrayBuffer: a socket's read buffer, a 256 KiB read slab,
 * a frame's body) is at most this many times the bin's size (64), or at most
 * {@link BIN_SHARE_FREE}; a smaller bin is copied out. So a bin the
 * application keeps holds at most `max(64 × its bytes, 8 KiB)` of memory:
 * a bin under 4 KiB at most 8 KiB (node's Buffer pool), a larger one at most
 * its read slab, never 256 KiB for a few bytes. Why 64 and not less: a copy
 * costs fresh memory (~1 µs per 4 KiB bin, +45 % of a client's CPU for 4 KiB
 * messages, measured), while a view costs nothing and holds memory only when
 * the application keeps a few bins and drops their neighbours.
 */
export const BIN_SHARE_RATIO = 64;
/** Memory a bin of any size may hold (8 KiB, node's own Buffer pool: `Buffer.from` of 1 byte holds as much). */
export const BIN_SHARE_FREE = 8 * 1024;

/** A copy of `v`: from node's 8 KiB pool below 4 KiB (`Buffer.allocUnsafe`), else memory of its own. */
function copyBin(v: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(v.length);
  out.set(v);
  return out;
}

/** Whether a bin that is a view into `ab` must be copied out (see {@link BIN_SHARE_RATIO}). */
function overShared(bin: Uint8Array, ab: ArrayBufferLike): boolean {
  return bin.buffer === ab && ab.byteLength > BIN_SHARE_FREE && ab.byteLength > BIN_SHARE_RATIO * bin.length;
}

/**
 * Replaces, in place, every bin in `v` that is a view into `ab` holding more than its share of it (see
 * {@link BIN_SHARE_RATIO}) by a copy. `v` is what the decoders above made of checked bytes: plain objects (an own
 * `__proto__` is a data property, so assigning it is safe), arrays, bins, scalars; nesting bounded by the scan.
 */
function unshareBins(v: unknown, ab: ArrayBufferLike): unknown {
  if (v instanceof Uint8Array) return overShared(v, ab) ? copyBin(v) : v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      if (typeof e === 'object' && e !== null) v[i] = unshareBins(e, ab);
    }
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    // Own keys only: an enumerable property someone added to Object.prototype is not the message's.
    for (const k of Object.keys(o)) {
      const e = o[k];
      if (typeof e === 'object' && e !== null) o[k] = unshareBins(e, ab);
    }
  }
  return v;
}

/**
 * Applies the share bound to a decoded value whose bins are views into `ab`: walked only when the scan that checked
 * its bytes (the last one) met a bin too small to stay a view (so a 64 KiB or 4 KiB message in a slab costs nothing).
 */
function bounded(v: unknown, flags: number, ab: ArrayBufferLike): unknown {
  const size = ab.byteLength;
  return (flags & SCAN_BIN) !== 0 && size > BIN_SHARE_FREE && BIN_SHARE_RATIO * lastScanMinBin() < size
    ? unshareBins(v, ab)
    : v;
}

/**
 * Decodes one plain msgpack value after {@link scanValue} accepted it. A bin
 * comes back as a view into `bytes` unless `copyBins` (set it when `bytes`
 * will be overwritten while the value is still in use), or unless it is small
 * against the memory under `bytes` (then it is copied: see {@link BIN_SHARE_RATIO}).
 * @throws ScanError when the bytes are not exactly one plain msgpack value.
 */
export function decodeValue(bytes: Uint8Array, copyBins = false): unknown {
  const flags = scanValue(bytes);
  const copy = copyBins && (flags & SCAN_BIN) !== 0;
  if (untilNative > 0) countDecode(bytes.length);
  if ((flags & (SCAN_BIG_INT | SCAN_PROTO_KEY)) === 0) {
    const v = (copy ? fastCopyUnpackr : fastUnpackr).unpack(bytes);
    return copy ? v : bounded(v, flags, bytes.buffer);
  }
  const v = toPlain((copy ? exactCopyUnpackr : exactUnpackr).unpack(bytes));
  return copy ? v : bounded(v, flags, bytes.buffer);
}

/** Reused options of the sub-range decodes (msgpackr reads `start`, `end` and `lazy` and keeps nothing). */
const range = { start: 0, end: 0 };

/** Largest ArrayBuffer {@link wholeViewOf} keeps a view of (256 KiB: a socket read is at most 64 KiB). */
const MAX_HELD_BUFFER = 256 * 1024;
let heldBuffer: ArrayBufferLike | undefined;
let heldView: Buffer | undefined;

/**
 * A Buffer over the whole ArrayBuffer under `bytes`, kept for the next
 * decode from the same ArrayBuffer: msgpackr creates and caches a DataView
 * on the Buffer object it reads, so handing it a new view per message (every
 * frame of a read is its own subarray) cost ~150 ns per message; the frames
 * of one read share one view this way. At most one ArrayBuffer of at most
 * MAX_HELD_BUFFER bytes is held; larger ones are read through `bytes` itself.
 */
function wholeViewOf(bytes: Uint8Array): Buffer | undefined {
  const ab = bytes.buffer;
  if (ab === heldBuffer) return heldView;
  if (ab.byteLength > MAX_HELD_BUFFER) return undefined;
  heldBuffer = ab;
  heldView = Buffer.from(ab);
  return heldView;
}

/**
 * Decodes the value in `bytes[start, end)` that {@link scanAt} accepted with
 * `flags`, the same way {@link decodeValue} decodes a whole buffer, without
 * scanning it again or making a view of the range.
 */
export function decodeScannedRange(
  bytes: Uint8Array,
  start: number,
  end: number,
  flags: number,
  copyBins: boolean,
): unknown {
  const whole = wholeViewOf(bytes);
  const source = whole ?? bytes;
  const offset = whole === undefined ? 0 : bytes.byteOffset;
  range.start = start + offset;
  range.end = end + offset;
  const copy = copyBins && (flags & SCAN_BIN) !== 0;
  if (untilNative > 0) countDecode(end - start);
  const v =
    (flags & (SCAN_BIG_INT | SCAN_PROTO_KEY)) === 0
      ? (copy ? fastCopyUnpackr : fastUnpackr).unpack(source, range)
      : toPlain((copy ? exactCopyUnpackr : exactUnpackr).unpack(source, range));
  return copy ? v : bounded(v, flags, bytes.buffer);
}

/**
 * Encodes any msgpack-able value as plain msgpack, with the same rules as the
 * `data` of a message (integers as integers up to 64 bits, `-0` as float64,
 * no extensions, `undefined` refused).
 * @throws MessageError `INVALID_MESSAGE` naming the path of a value plain msgpack cannot carry.
 */
export function packValue(value: unknown): Buffer {
  try {
    return withWriter(0, MAX_FRAME_PAYLOAD, () => writeValue(value, 0));
  } catch (cause) {
    if (cause instanceof EncodeRefusal) {
      const at = formatPath('value', cause.path);
      throw new MessageError(ErrorCode.INVALID_MESSAGE, `cannot encode ${at}: ${cause.reason}`, {
        cause,
        details: { path: at },
      });
    }
    if (cause instanceof EncodeTooLarge) {
      throw new MessageError(ErrorCode.FRAME_TOO_LARGE, `value is more than ${MAX_FRAME_PAYLOAD} bytes of msgpack`, {
        cause,
      });
    }
    throw new MessageError(ErrorCode.INVALID_MESSAGE, `cannot encode value: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Decodes one plain msgpack value: 64-bit integers within ±2^53 as numbers,
 * beyond as BigInt; map keys exactly as sent.
 * @throws MessageError `MALFORMED_FRAME` for broken msgpack, non-string map
 *   keys, extension types or nesting deeper than `MAX_NESTING_DEPTH`.
 */
export function unpackValue(bytes: Uint8Array): unknown {
  try {
    return decodeValue(bytes);
  } catch (cause) {
    if (cause instanceof ScanError) {
      throw new MessageError(ErrorCode.MALFORMED_FRAME, `not plain msgpack: ${cause.message}`, {
        cause,
        details: { reason: cause.reason },
      });
    }
    throw new MessageError(ErrorCode.MALFORMED_FRAME, `not valid msgpack: ${(cause as Error).message}`, { cause });
  }
}
