/**
 * socketkit's msgpack writer: plain msgpack, byte for byte what Python's
 * `msgpack.packb` writes for the same value.
 *
 * - Integers (safe-integer numbers and BigInts) use the smallest integer
 *   format, int64/uint64 included; never a float. A BigInt outside
 *   [-2^63, 2^64-1] is refused.
 * - Every other number is a float64, `-0` included (`0xcb 80 00..`).
 * - Strings are str (fixstr/str8/16/32, minimal), Uint8Array/Buffer is bin.
 * - Arrays, plain objects and Maps with string keys are arrays and maps
 *   (minimal headers), at most MAX_NESTING_DEPTH deep, envelope included.
 * - `undefined`, functions, symbols, Dates, Sets, typed arrays other than
 *   Uint8Array and the like are refused: they have no plain msgpack form, and
 *   msgpackr would write extensions the Python module cannot use.
 *
 * One scratch buffer is reused for every encode (grown on demand, shrunk back
 * after a large message); the result is copied out at the end, except a large
 * result that fills the buffer, which is handed out as it is (no copy) while
 * the writer takes a fresh buffer.
 */
import { MAX_NESTING_DEPTH } from './limits.js';

/** A value the writer refuses; `path` is filled in while unwinding. */
export class EncodeRefusal extends Error {
  readonly path: Array<string | number> = [];
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The payload would exceed `limit`: thrown as soon as that is certain. */
export class EncodeTooLarge extends Error {
  constructor(readonly atLeast: number) {
    super(`at least ${atLeast} bytes`);
  }
}

const INITIAL = 64 * 1024;
/** A scratch buffer larger than this is dropped after use, so one big message does not pin memory. */
const KEEP = 1024 * 1024;
/** Results of at least this many bytes that fill 3/4 of the scratch buffer are handed out without a copy (16 KiB). */
const HANDOFF = 16 * 1024;
/** Room left after a large value when the buffer grows for it. */
const SLACK = 4096;

let buf = Buffer.allocUnsafe(INITIAL);
let view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
let safeEnd = buf.length - 16;
let pos = 0;
/** Payload bytes start here (after a reserved length prefix). */
let start = 0;
/** Largest payload allowed for the current encode. */
let limit = 0;
let active = false;
/** Bins of at least this many bytes are not copied but referenced (see {@link withPartsWriter}); off: Infinity. */
let referMin = Number.POSITIVE_INFINITY;
/** The referenced bins of the current encode, each with the position its bytes belong at. */
let referred: Array<{ at: number; bin: Uint8Array }> = [];
/** Payload bytes of the referenced bins (they count as written: limit and length prefix). */
let extra = 0;

function grow(need: number): void {
  if (pos - start + extra > limit) throw new EncodeTooLarge(pos - start + extra);
  // A large value (a big bin or string) grows the buffer to what it needs plus
  // some slack, not to twice its size: the result is handed out as it is (see run).
  const size = need >= buf.length / 2 ? pos + need + SLACK : Math.max(buf.length * 2, pos + need + 16);
  const next = Buffer.allocUnsafe(size);
  buf.copy(next, 0, 0, pos);
  buf = next;
  view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  safeEnd = buf.length - 16;
}

/** Makes room for `n` more bytes (plus the usual 16 of slack). */
function room(n: number): void {
  if (pos + n > safeEnd) grow(n);
}

/**
 * Runs `write` with the scratch buffer positioned after `prefix` reserved
 * bytes and returns a copy of everything written (prefix included). Reentrant:
 * a nested call (from a user `toJSON` or getter) gets its own buffer.
 */
export function withWriter(prefix: number, maxPayload: number, write: () => void): Buffer {
  return nested(() => run(prefix, maxPayload, write));
}

/**
 * Like {@link withWriter}, but a bin of at least `minBin` bytes is not
 * copied: the result is the bytes around it and the bin itself, in order
 * (one element when there was none), to be written one after another.
 */
export function withPartsWriter(prefix: number, maxPayload: number, minBin: number, write: () => void): Uint8Array[] {
  return nested(() => {
    referMin = minBin;
    try {
      const out = run(prefix, maxPayload, write);
      if (referred.length === 0) return [out];
      const parts: Uint8Array[] = [];
      let from = 0;
      for (const r of referred) {
        // the bytes before the bin are a copy (small); `out` is then a copy or the handed-out scratch buffer
        parts.push(out.subarray(from, r.at), r.bin);
        from = r.at;
      }
      parts.push(out.subarray(from));
      return parts.filter((p) => p.length > 0);
    } finally {
      referMin = Number.POSITIVE_INFINITY;
      referred = [];
      extra = 0;
    }
  });
}

/** Runs `encode` on the shared scratch buffer, or on a buffer of its own when called from inside an encode. */
function nested<T>(encode: () => T): T {
  if (active) {
    const saved = { buf, view, safeEnd, pos, start, limit, referMin, referred, extra };
    buf = Buffer.allocUnsafe(1024);
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    safeEnd = buf.length - 16;
    referMin = Number.POSITIVE_INFINITY;
    referred = [];
    extra = 0;
    try {
      return encode();
    } finally {
      ({ buf, view, safeEnd, pos, start, limit, referMin, referred, extra } = saved);
      active = true;
    }
  }
  return encode();
}

function run(prefix: number, maxPayload: number, write: () => void): Buffer {
  active = true;
  pos = prefix;
  start = prefix;
  limit = maxPayload;
  referred = [];
  extra = 0;
  try {
    write();
    if (pos >= HANDOFF && pos * 4 >= buf.length * 3) {
      // Large and filling the buffer: hand the scratch buffer itself out (no
      // copy of a large message) and take a fresh one of the same size for
      // the next encode (at most 4/3 of the result is held by it).
      const out = buf.subarray(0, pos);
      buf = Buffer.allocUnsafe(buf.length > KEEP ? INITIAL : buf.length);
      view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      safeEnd = buf.length - 16;
      return out;
    }
    const out = Buffer.allocUnsafe(pos);
    buf.copy(out, 0, 0, pos);
    return out;
  } finally {
    active = false;
    if (buf.length > KEEP) {
      buf = Buffer.allocUnsafe(INITIAL);
      view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      safeEnd = buf.length - 16;
    }
  }
}

/** Payload bytes written so far in the current encode. */
export function written(): number {
  return pos - start + extra;
}

/** Where the next byte goes in the current encode (for {@link copySince}). */
export function position(): number {
  return pos;
}

/** A copy of the bytes written in the current encode since `from` (a {@link position}). */
export function copySince(from: number): Buffer {
  return Buffer.from(buf.subarray(from, pos));
}

/** Writes the 4-byte big-endian payload length at the start of the current buffer. */
export function writeLengthPrefix(): void {
  view.setUint32(0, pos - start + extra);
}

/** Writes one byte (a header the caller knows is minimal). */
export function writeByte(b: number): void {
  room(1);
  buf[pos++] = b;
}

/** Copies pre-encoded bytes. */
export function writeRaw(bytes: Uint8Array): void {
  room(bytes.length);
  buf.set(bytes, pos);
  pos += bytes.length;
}

/** Writes `s` as a msgpack str with the minimal header. */
export function writeString(s: string): void {
  const len = s.length;
  // UTF-8 needs at least one byte per UTF-16 unit: fail early on what cannot fit
  if (pos - start + extra + len > limit) throw new EncodeTooLarge(pos - start + extra + len);
  room(len * 3 + 5);
  // Guess the header from the ASCII length; move the bytes if the UTF-8 length needs a larger one.
  const guess = len < 0x20 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
  const at = pos + guess;
  let n: number;
  if (len < 64) {
    let p = at;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) buf[p++] = c;
      else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6);
        buf[p++] = 0x80 | (c & 0x3f);
      } else if ((c & 0xfc00) === 0xd800 && i + 1 < len && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        const cp = 0x10000 + ((c & 0x3ff) << 10) + (s.charCodeAt(++i) & 0x3ff);
        buf[p++] = 0xf0 | (cp >> 18);
        buf[p++] = 0x80 | ((cp >> 12) & 0x3f);
        buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
        buf[p++] = 0x80 | (cp & 0x3f);
      } else if ((c & 0xf800) === 0xd800) {
        // a lone surrogate becomes U+FFFD, as Buffer.from(s) does
        buf[p++] = 0xef;
        buf[p++] = 0xbf;
        buf[p++] = 0xbd;
      } else {
        buf[p++] = 0xe0 | (c >> 12);
        buf[p++] = 0x80 | ((c >> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      }
    }
    n = p - at;
  } else {
    n = buf.write(s, at, 'utf8');
  }
  const header = n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  if (header !== guess) buf.copyWithin(pos + header, at, at + n);
  if (header === 1) buf[pos] = 0xa0 | n;
  else if (header === 2) {
    buf[pos] = 0xd9;
    buf[pos + 1] = n;
  } else if (header === 3) {
    buf[pos] = 0xda;
    buf[pos + 1] = n >> 8;
    buf[pos + 2] = n & 0xff;
  } else {
    buf[pos] = 0xdb;
    view.setUint32(pos + 1, n);
  }
  pos += header + n;
}

/** Writes a number: the smallest integer format for safe integers, else float64 (also for -0). */
export function writeNumber(n: number): void {
  room(9);
  if (n >>> 0 === n) {
    if (n === 0 && 1 / n < 0) {
      writeFloat(n);
    } else if (n < 0x80) buf[pos++] = n;
    else writeUint(n, 0xcc);
  } else if (n >> 0 === n) {
    if (n >= -0x20) buf[pos++] = n & 0xff;
    else if (n >= -0x80) {
      buf[pos++] = 0xd0;
      buf[pos++] = n & 0xff;
    } else if (n >= -0x8000) {
      buf[pos++] = 0xd1;
      view.setInt16(pos, n);
      pos += 2;
    } else {
      buf[pos++] = 0xd2;
      view.setInt32(pos, n);
      pos += 4;
    }
  } else if (Number.isSafeInteger(n)) {
    // beyond 32 bits: uint64 when positive, int64 when negative, as packb does;
    // two 32-bit halves keep BigInt off this path (ms timestamps take it)
    const hi = Math.floor(n / 0x100000000);
    buf[pos++] = n > 0 ? 0xcf : 0xd3;
    view.setInt32(pos, hi);
    view.setUint32(pos + 4, n - hi * 0x100000000);
    pos += 8;
  } else {
    writeFloat(n);
  }
}

/**
 * Writes `n` (0 to 2^32-1) in the smallest of three formats whose type bytes follow each other: `code8` and one byte,
 * `code8 + 1` and two, `code8 + 2` and four (uint 8/16/32: 0xcc, bin 8/16/32: 0xc4). The caller made room for 5 bytes.
 */
function writeUint(n: number, code8: number): void {
  if (n < 0x100) {
    buf[pos++] = code8;
    buf[pos++] = n;
  } else if (n < 0x10000) {
    buf[pos++] = code8 + 1;
    buf[pos++] = n >> 8;
    buf[pos++] = n & 0xff;
  } else {
    buf[pos++] = code8 + 2;
    view.setUint32(pos, n);
    pos += 4;
  }
}

function writeFloat(n: number): void {
  buf[pos++] = 0xcb;
  view.setFloat64(pos, n);
  pos += 8;
}

const MIN_I64 = -(2n ** 63n);
const MAX_U64 = 2n ** 64n - 1n;
const MIN_I32 = -(2n ** 31n);
const MAX_U32 = 2n ** 32n - 1n;

/** Writes a BigInt in the smallest integer format, like packb does for a Python int. */
export function writeBigInt(v: bigint): void {
  if (v >= MIN_I32 && v <= MAX_U32) return writeNumber(Number(v));
  if (v < MIN_I64 || v > MAX_U64) {
    throw new EncodeRefusal(`the BigInt ${v} is outside the 64-bit integer range [-2^63, 2^64-1] msgpack can carry`);
  }
  room(9);
  if (v > 0n) {
    buf[pos++] = 0xcf;
    view.setBigUint64(pos, v);
  } else {
    buf[pos++] = 0xd3;
    view.setBigInt64(pos, v);
  }
  pos += 8;
}

function writeBin(b: Uint8Array): void {
  const n = b.length;
  if (pos - start + extra + n > limit) throw new EncodeTooLarge(pos - start + extra + n);
  const refer = n >= referMin;
  room(refer ? 5 : n + 5);
  writeUint(n, 0xc4);
  if (refer) {
    // written later, as it is, right after the bytes before `pos`
    referred.push({ at: pos, bin: b });
    extra += n;
    return;
  }
  buf.set(b, pos);
  pos += n;
}

function writeContainerHeader(n: number, fix: number, x16: number): void {
  room(5);
  if (n < 0x10) buf[pos++] = fix | n;
  else if (n < 0x10000) {
    buf[pos++] = x16;
    buf[pos++] = n >> 8;
    buf[pos++] = n & 0xff;
  } else {
    buf[pos++] = x16 + 1;
    view.setUint32(pos, n);
    pos += 4;
  }
}

/** Writes a map header for `n` entries (fixmap / map16 / map32). */
export function writeMapHeader(n: number): void {
  writeContainerHeader(n, 0x80, 0xde);
}

function refuseUndefined(key: string | number): never {
  const e = new EncodeRefusal('undefined has no msgpack form: omit the key or use null');
  e.path.push(key);
  throw e;
}

/** Writes the entries of an object (own enumerable string keys) as a map. */
export function writeObjectMap(o: Record<string, unknown>, depth: number): void {
  if (depth > MAX_NESTING_DEPTH) throw tooDeep();
  const keys = Object.keys(o);
  const n = keys.length;
  writeContainerHeader(n, 0x80, 0xde);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    const v = o[k];
    if (v === undefined) refuseUndefined(k);
    writeString(k);
    try {
      writeValue(v, depth);
    } catch (e) {
      if (e instanceof EncodeRefusal) e.path.unshift(k);
      throw e;
    }
  }
}

function writeArray(a: unknown[], depth: number): void {
  if (depth > MAX_NESTING_DEPTH) throw tooDeep();
  const n = a.length;
  writeContainerHeader(n, 0x90, 0xdc);
  for (let i = 0; i < n; i++) {
    const v = a[i];
    if (v === undefined) refuseUndefined(i);
    try {
      writeValue(v, depth);
    } catch (e) {
      if (e instanceof EncodeRefusal) e.path.unshift(i);
      throw e;
    }
  }
}

function writeMap(m: Map<unknown, unknown>, depth: number): void {
  if (depth > MAX_NESTING_DEPTH) throw tooDeep();
  writeContainerHeader(m.size, 0x80, 0xde);
  for (const [k, v] of m) {
    if (typeof k !== 'string') {
      throw new EncodeRefusal(
        `a Map key of type ${k === null ? 'null' : typeof k} is not a string: every map key must be a string (the ` +
          `peer decodes with strict map keys)`,
      );
    }
    if (v === undefined) refuseUndefined(k);
    writeString(k);
    try {
      writeValue(v, depth);
    } catch (e) {
      if (e instanceof EncodeRefusal) e.path.unshift(k);
      throw e;
    }
  }
}

function tooDeep(): EncodeRefusal {
  return new EncodeRefusal(
    `containers nested more than ${MAX_NESTING_DEPTH} deep (envelope included), or a circular reference`,
  );
}

/** Built-ins with no plain msgpack form, and what to send instead. */
function refuseObject(o: object): never {
  if (o instanceof Date)
    throw new EncodeRefusal('a Date has no plain msgpack form: send date.getTime() (epoch ms) or date.toISOString()');
  if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer) {
    throw new EncodeRefusal(
      `a ${o.constructor.name} has no plain msgpack form: send a Buffer/Uint8Array (bin) or an array of numbers`,
    );
  }
  if (o instanceof Set) throw new EncodeRefusal('a Set has no plain msgpack form: send an array ([...set])');
  throw new EncodeRefusal(`a ${o.constructor?.name ?? 'value'} has no plain msgpack form: send a plain object`);
}

/**
 * Writes any msgpack-able value. `depth` counts the containers around it.
 * @throws EncodeRefusal for values plain msgpack cannot carry.
 */
export function writeValue(v: unknown, depth: number): void {
  switch (typeof v) {
    case 'string':
      writeString(v);
      return;
    case 'number':
      writeNumber(v);
      return;
    case 'boolean':
      room(1);
      buf[pos++] = v ? 0xc3 : 0xc2;
      return;
    case 'object': {
      if (v === null) {
        room(1);
        buf[pos++] = 0xc0;
        return;
      }
      const ctor = (v as object).constructor;
      if (ctor === Object || ctor === undefined) return writeObjectMap(v as Record<string, unknown>, depth + 1);
      if (ctor === Array) return writeArray(v as unknown[], depth + 1);
      if (v instanceof Uint8Array) return writeBin(v);
      if (Array.isArray(v)) return writeArray(v, depth + 1);
      if (v instanceof Map) return writeMap(v, depth + 1);
      if (
        v instanceof Date ||
        v instanceof Set ||
        v instanceof WeakMap ||
        v instanceof WeakSet ||
        v instanceof RegExp ||
        v instanceof Error ||
        v instanceof Promise ||
        ArrayBuffer.isView(v) ||
        v instanceof ArrayBuffer
      ) {
        refuseObject(v);
      }
      // Other class instances: a toJSON hook wins (as with JSON.stringify), else their own enumerable fields.
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        const json: unknown = toJSON.call(v);
        if (json !== v) return writeValue(json, depth);
      }
      return writeObjectMap(v as Record<string, unknown>, depth + 1);
    }
    case 'bigint':
      writeBigInt(v);
      return;
    case 'undefined':
      throw new EncodeRefusal('undefined has no msgpack form: omit the key or use null');
    default:
      throw new EncodeRefusal(`a ${typeof v} has no msgpack form`);
  }
}

/** Renders a refusal path as `data.a[3].b`. */
export function formatPath(root: string, path: ReadonlyArray<string | number>): string {
  let out = root;
  for (const p of path)
    out += typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`;
  return out;
}
