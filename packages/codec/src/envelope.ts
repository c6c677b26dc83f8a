/**
 * The fast path of {@link decodePayload}: reads the message envelope (the
 * top-level map and its event_name, timestamp_ms, timestamp_iso,
 * message_type, id and reply_to) straight from the bytes and hands only
 * `data` to msgpackr, instead of decoding a whole map into an object and
 * then checking and copying it into a message.
 *
 * It takes only the common, plainly valid form: ASCII strings, integer
 * timestamps within ±2^53, each known key at most once. Anything else (a
 * float or 64-bit timestamp beyond 2^53, a non-ASCII string, a repeated key,
 * any invalid field or truncated bytes) returns `undefined`, and the caller
 * takes the general path, which gives the same message or the error that
 * names the problem. Unknown keys are checked (as every value is) and left
 * out, as the general path leaves them out.
 */
import { MessageType, isValidEventName, type SocketMessage } from '@socketkit/protocol';
import { decodeScannedRange } from './msgpack.js';
import { WIRE_KEYS } from './wire-keys.js';
import { lastScanFlags, scanAt, strLen, strStart, stringHeaderAt, u32 } from './scan.js';

const KEY_EVENT = 1;
const KEY_TS = 2;
const KEY_ISO = 4;
const KEY_TYPE = 8;
const KEY_DATA = 16;
const KEY_ID = 32;
const KEY_REPLY = 64;
const REQUIRED = KEY_EVENT | KEY_TS | KEY_ISO | KEY_TYPE | KEY_DATA;

/** Which known key the `len` bytes at `p` spell (0: none). */
function keyAt(b: Uint8Array, p: number, len: number): number {
  switch (len) {
    case 2:
      return same(b, p, ID) ? KEY_ID : 0;
    case 4:
      return isData(b, p) ? KEY_DATA : 0;
    case 8:
      return same(b, p, REPLY_TO) ? KEY_REPLY : 0;
    case 10:
      return same(b, p, EVENT_NAME) ? KEY_EVENT : 0;
    case 12:
      return same(b, p, TIMESTAMP_MS) ? KEY_TS : same(b, p, MESSAGE_TYPE) ? KEY_TYPE : 0;
    case 13:
      return same(b, p, TIMESTAMP_ISO) ? KEY_ISO : 0;
    default:
      return 0;
  }
}

const {
  id: ID,
  replyTo: REPLY_TO,
  eventName: EVENT_NAME,
  timestampMs: TIMESTAMP_MS,
  messageType: MESSAGE_TYPE,
  timestampIso: TIMESTAMP_ISO,
} = WIRE_KEYS;

/**
 * Whether the 4 bytes at `p` spell `data`. Written out: it is read twice per
 * message (as a key and as the type), and the loop of `same` showed in the profile of a decode.
 */
function isData(b: Uint8Array, p: number): boolean {
  return b[p] === 0x64 && b[p + 1] === 0x61 && b[p + 2] === 0x74 && b[p + 3] === 0x61;
}

function same(b: Uint8Array, p: number, word: Uint8Array): boolean {
  for (let i = 0; i < word.length; i++) if (b[p + i] !== word[i]) return false;
  return true;
}

/**
 * The last string read for one field, with its bytes: a connection sees the
 * same event name on every message and the same timestamp text for every
 * message of a millisecond, so most reads compare bytes instead of making a
 * string.
 */
class StringCache {
  #bytes = new Uint8Array(64);
  #len = -1;
  #value = '';

  /** The ASCII string of `b[p, p + len)`, or undefined when a byte is not ASCII. */
  read(b: Uint8Array, p: number, len: number): string | undefined {
    const cached = this.#bytes;
    if (len === this.#len) {
      let i = 0;
      while (i < len && b[p + i] === cached[i]) i++;
      if (i === len) return this.#value;
    }
    const s = asciiAt(b, p, len);
    if (s !== undefined && len <= cached.length) {
      cached.set(b.subarray(p, p + len));
      this.#len = len;
      this.#value = s;
    }
    return s;
  }
}

const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/** `b[p, p + len)` as a string when every byte is ASCII (then Latin-1 and UTF-8 agree), else undefined. */
function asciiAt(b: Uint8Array, p: number, len: number): string | undefined {
  const end = p + len;
  if (!(end <= b.length)) return undefined;
  for (let i = p; i < end; i++) if ((b[i] as number) > 0x7f) return undefined;
  return latin1Slice.call(b, p, end);
}

const eventNames = new StringCache();
const isoTexts = new StringCache();

/** Whether a whole msgpack string is at `p` (its place in `strStart`/`strLen`, see {@link stringHeaderAt}). */
function stringAt(b: Uint8Array, p: number): boolean {
  return stringHeaderAt(b, p) && strStart + strLen <= b.length;
}

/**
 * The integer at `p` (an integer type, or a float with an integral value) and
 * the position after it, in `intValue`/`intEnd`; false for any other value or
 * one beyond ±2^53.
 */
let intValue = 0;
let intEnd = 0;
function integerAt(b: Uint8Array, p: number): boolean {
  const t = b[p];
  if (t === undefined) return false;
  if (t < 0x80 || t >= 0xe0) {
    intValue = t >= 0xe0 ? t - 0x100 : t;
    intEnd = p + 1;
    return true;
  }
  if (t === 0xcb || t === 0xca) {
    // A float with an integral value is accepted too (as the general path does): some writers send times as doubles.
    intEnd = p + (t === 0xcb ? 9 : 5);
    if (intEnd > b.length) return false;
    scratch.setUint32(0, u32(b, p + 1));
    let v: number;
    if (t === 0xcb) {
      scratch.setUint32(4, u32(b, p + 5));
      v = scratch.getFloat64(0);
    } else v = scratch.getFloat32(0);
    if (!Number.isSafeInteger(v)) return false;
    intValue = v;
    return true;
  }
  const size =
    t === 0xcc || t === 0xd0
      ? 1
      : t === 0xcd || t === 0xd1
        ? 2
        : t === 0xce || t === 0xd2
          ? 4
          : t === 0xcf || t === 0xd3
            ? 8
            : 0;
  if (size === 0) return false;
  intEnd = p + 1 + size;
  if (intEnd > b.length) return false;
  const q = p + 1;
  let v: number;
  if (size === 1) v = b[q] as number;
  else if (size === 2) v = ((b[q] as number) << 8) | (b[q + 1] as number);
  else if (size === 4) v = u32(b, q);
  else v = u32(b, q) * 0x100000000 + u32(b, q + 4);
  // Signed types: two's complement of the size read.
  if (t >= 0xd0) {
    if (size === 1) v = (v << 24) >> 24;
    else if (size === 2) v = (v << 16) >> 16;
    else if (size === 4) v = v | 0;
    else v = (u32(b, q) | 0) * 0x100000000 + u32(b, q + 4);
  }
  if (!Number.isSafeInteger(v)) return false;
  intValue = v;
  return true;
}

const scratch = new DataView(new ArrayBuffer(8));

/**
 * The message in `payload` when it has the common, plainly valid form (see
 * the module comment), else `undefined`: the caller then decodes it the
 * general way, which also names what is wrong.
 * @throws ScanError from the check of `data` or of an unknown key's value.
 */
export function decodeEnvelope(payload: Uint8Array, copyBins: boolean): SocketMessage | undefined {
  const b = payload;
  const t = b[0] as number;
  let n: number;
  let p: number;
  if (t >= 0x80 && t <= 0x8f) {
    n = t & 0x0f;
    p = 1;
  } else if (t === 0xde) {
    n = ((b[1] as number) << 8) | (b[2] as number);
    p = 3;
  } else return undefined;
  let seen = 0;
  let eventName: string | undefined;
  let ts = 0;
  let iso: string | undefined;
  let type: MessageType | undefined;
  let data: unknown;
  let id: string | undefined;
  let replyTo: string | undefined;
  for (let i = 0; i < n; i++) {
    if (!stringAt(b, p)) return undefined;
    const key = keyAt(b, strStart, strLen);
    p = strStart + strLen;
    if ((seen & key) !== 0) return undefined;
    seen |= key;
    switch (key) {
      case KEY_EVENT:
        if (!stringAt(b, p)) return undefined;
        eventName = eventNames.read(b, strStart, strLen);
        if (!isValidEventName(eventName)) return undefined;
        p = strStart + strLen;
        break;
      case KEY_TS:
        if (!integerAt(b, p)) return undefined;
        ts = intValue;
        p = intEnd;
        break;
      case KEY_ISO:
        if (!stringAt(b, p)) return undefined;
        iso = isoTexts.read(b, strStart, strLen);
        if (iso === undefined) return undefined;
        p = strStart + strLen;
        break;
      case KEY_TYPE:
        if (!stringAt(b, p)) return undefined;
        type = typeAt(b, strStart, strLen);
        if (type === undefined) return undefined;
        p = strStart + strLen;
        break;
      case KEY_DATA: {
        const tag = b[p] as number;
        if (!((tag >= 0x80 && tag <= 0x8f) || tag === 0xde || tag === 0xdf)) return undefined;
        const end = scanAt(b, p, 1);
        if (!(end <= b.length)) return undefined;
        data = decodeScannedRange(b, p, end, lastScanFlags(), copyBins);
        p = end;
        break;
      }
      case KEY_ID:
      case KEY_REPLY: {
        if (!stringAt(b, p)) return undefined;
        const s = asciiAt(b, strStart, strLen);
        if (s === undefined) return undefined;
        if (key === KEY_ID) id = s;
        else replyTo = s;
        p = strStart + strLen;
        break;
      }
      default: {
        // An unknown key: checked like every value, then left out.
        const end = scanAt(b, p, 1);
        if (!(end <= b.length)) return undefined;
        p = end;
      }
    }
  }
  if (p !== b.length || (seen & REQUIRED) !== REQUIRED) return undefined;
  const message: SocketMessage = {
    eventName: eventName as string,
    timestampMs: ts,
    timestampIso: iso as string,
    messageType: type as MessageType,
    data: data as Record<string, unknown>,
  };
  if (id !== undefined) message.id = id;
  if (replyTo !== undefined) message.replyTo = replyTo;
  return message;
}

function typeAt(b: Uint8Array, p: number, len: number): MessageType | undefined {
  if (len === 4) return isData(b, p) ? MessageType.DATA : undefined;
  if (len === 5) return same(b, p, ERROR) ? MessageType.ERROR : undefined;
  if (len === 7) return same(b, p, CONTROL) ? MessageType.CONTROL : undefined;
  return undefined;
}
const ERROR = Buffer.from('error', 'latin1');
const CONTROL = Buffer.from('control', 'latin1');
