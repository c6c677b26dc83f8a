// FROZEN COPY of @socketkit/codec's encoder before issue 14 (msgpackr for `data`,
// then a byte walk for string keys), kept only as the baseline of encoder-ab.ts.
// Do not fix or extend: it must stay what was measured against.
/* eslint-disable */
import { ErrorCode, MessageError, type SocketMessage } from '@socketkit/protocol';
import { Packr } from 'msgpackr';
import { assertStringKeys } from './old-string-keys.js';

const FRAME_HEADER_SIZE = 4;
const MAX_FRAME_PAYLOAD = 0xffffffff;
// The msgpackr configuration the codec used before issue 14.
const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: true });

// Pre-encoded keys (fixstr header + bytes), in the Python module's key order.
const key = (name: string): Buffer => Buffer.concat([Buffer.from([0xa0 | name.length]), Buffer.from(name)]);
const K_EVENT_NAME = key('event_name');
const K_TIMESTAMP_MS = key('timestamp_ms');
const K_TIMESTAMP_ISO = key('timestamp_iso');
const K_MESSAGE_TYPE = key('message_type');
const K_DATA = key('data');
const K_ID = key('id');
const K_REPLY_TO = key('reply_to');

function strHeaderSize(byteLength: number): number {
  if (byteLength < 32) return 1;
  if (byteLength < 0x100) return 2;
  if (byteLength < 0x10000) return 3;
  return 5;
}

function writeStr(buf: Buffer, pos: number, str: string, byteLength: number): number {
  if (byteLength < 32) {
    buf[pos++] = 0xa0 | byteLength;
  } else if (byteLength < 0x100) {
    buf[pos++] = 0xd9;
    buf[pos++] = byteLength;
  } else if (byteLength < 0x10000) {
    buf[pos++] = 0xda;
    buf.writeUInt16BE(byteLength, pos);
    pos += 2;
  } else {
    buf[pos++] = 0xdb;
    buf.writeUInt32BE(byteLength, pos);
    pos += 4;
  }
  return pos + buf.write(str, pos, byteLength, 'utf8');
}

function intSize(n: number): number {
  if (n >= 0) return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n <= 0xffffffff ? 5 : 9;
  return n >= -0x20 ? 1 : n >= -0x80 ? 2 : n >= -0x8000 ? 3 : n >= -0x80000000 ? 5 : 9;
}

// Minimal msgpack integer, like Python's packb: never a float, uint64 (0xcf) above 2^32.
function writeInt(buf: Buffer, pos: number, n: number): number {
  if (n >= 0) {
    if (n < 0x80) buf[pos++] = n;
    else if (n < 0x100) {
      buf[pos++] = 0xcc;
      buf[pos++] = n;
    } else if (n < 0x10000) {
      buf[pos++] = 0xcd;
      buf.writeUInt16BE(n, pos);
      pos += 2;
    } else if (n <= 0xffffffff) {
      buf[pos++] = 0xce;
      buf.writeUInt32BE(n, pos);
      pos += 4;
    } else {
      buf[pos++] = 0xcf;
      // two 32-bit halves: no BigInt on the hot path (timestamps are above 2^32)
      buf.writeUInt32BE(Math.floor(n / 0x100000000), pos);
      buf.writeUInt32BE(n >>> 0, pos + 4);
      pos += 8;
    }
  } else if (n >= -0x20) buf[pos++] = 0x100 + n;
  else if (n >= -0x80) {
    buf[pos++] = 0xd0;
    buf.writeInt8(n, pos++);
  } else if (n >= -0x8000) {
    buf[pos++] = 0xd1;
    buf.writeInt16BE(n, pos);
    pos += 2;
  } else if (n >= -0x80000000) {
    buf[pos++] = 0xd2;
    buf.writeInt32BE(n, pos);
    pos += 4;
  } else {
    buf[pos++] = 0xd3;
    buf.writeBigInt64BE(BigInt(n), pos);
    pos += 8;
  }
  return pos;
}

function encodeInto(message: SocketMessage, headerSize: number, maxMessageSize: number): Buffer {
  if (!Number.isSafeInteger(message.timestampMs)) {
    throw new MessageError(
      ErrorCode.INVALID_MESSAGE,
      `cannot encode message: timestampMs must be an integer, got ${message.timestampMs}`,
    );
  }
  let data: Buffer;
  try {
    data = packr.pack(message.data);
  } catch (cause) {
    throw new MessageError(
      ErrorCode.INVALID_MESSAGE,
      'cannot encode message data for event ' +
        `"${message.eventName}": ${(cause as Error).message}; use msgpack-able values (objects, ` +
        'arrays, strings, numbers, booleans, null, Buffers)',
      { cause },
    );
  }
  try {
    // A Map with non-string keys would make the whole frame undecodable for
    // the peer (the Python module and FrameDecoder both require string keys).
    assertStringKeys(data);
  } catch (cause) {
    throw new MessageError(
      ErrorCode.INVALID_MESSAGE,
      `cannot encode message data for event "${message.eventName}": ${(cause as Error).message}; every map key must ` +
        `be a string`,
      { cause },
    );
  }
  const en = Buffer.byteLength(message.eventName);
  const iso = Buffer.byteLength(message.timestampIso);
  const mt = message.messageType.length;
  const id = message.id === undefined ? -1 : Buffer.byteLength(message.id);
  const rt = message.replyTo === undefined ? -1 : Buffer.byteLength(message.replyTo);
  let payload =
    1 +
    K_EVENT_NAME.length +
    strHeaderSize(en) +
    en +
    K_TIMESTAMP_MS.length +
    intSize(message.timestampMs) +
    K_TIMESTAMP_ISO.length +
    strHeaderSize(iso) +
    iso +
    K_MESSAGE_TYPE.length +
    strHeaderSize(mt) +
    mt +
    K_DATA.length +
    data.length;
  if (id >= 0) payload += K_ID.length + strHeaderSize(id) + id;
  if (rt >= 0) payload += K_REPLY_TO.length + strHeaderSize(rt) + rt;
  if (payload > maxMessageSize) {
    throw new MessageError(
      ErrorCode.FRAME_TOO_LARGE,
      `message for event "${message.eventName}" is ${payload} bytes, above ` +
        `maxMessageSize ${maxMessageSize}: send smaller messages or raise maxMessageSize on both ends`,
      { details: { size: payload, maxMessageSize } },
    );
  }
  const buf = Buffer.allocUnsafe(headerSize + payload);
  let pos = 0;
  if (headerSize === FRAME_HEADER_SIZE) {
    buf.writeUInt32BE(payload, 0);
    pos = FRAME_HEADER_SIZE;
  }
  buf[pos++] = 0x80 | (5 + (id >= 0 ? 1 : 0) + (rt >= 0 ? 1 : 0));
  pos += K_EVENT_NAME.copy(buf, pos);
  pos = writeStr(buf, pos, message.eventName, en);
  pos += K_TIMESTAMP_MS.copy(buf, pos);
  pos = writeInt(buf, pos, message.timestampMs);
  pos += K_TIMESTAMP_ISO.copy(buf, pos);
  pos = writeStr(buf, pos, message.timestampIso, iso);
  pos += K_MESSAGE_TYPE.copy(buf, pos);
  pos = writeStr(buf, pos, message.messageType, mt);
  pos += K_DATA.copy(buf, pos);
  pos += data.copy(buf, pos);
  if (id >= 0) {
    pos += K_ID.copy(buf, pos);
    pos = writeStr(buf, pos, message.id as string, id);
  }
  if (rt >= 0) {
    pos += K_REPLY_TO.copy(buf, pos);
    writeStr(buf, pos, message.replyTo as string, rt);
  }
  return buf;
}

/**
 * Encodes a message as one frame: a 4-byte big-endian payload length followed
 * by a plain msgpack map with snake_case keys, in the Python module's key
 * order, with minimal integer and string headers (`timestamp_ms` is always an
 * integer, never a float).
 *
 * @param maxMessageSize Largest payload allowed (default: the 32-bit limit).
 * @throws MessageError `FRAME_TOO_LARGE` above `maxMessageSize`;
 *   `INVALID_MESSAGE` when `data` holds something msgpack cannot carry.
 */
export function encodeFrame(message: SocketMessage, maxMessageSize: number = MAX_FRAME_PAYLOAD): Buffer {
  return encodeInto(message, FRAME_HEADER_SIZE, maxMessageSize);
}

/** Encodes only the msgpack payload of a message (no length prefix). */
function encodePayload(message: SocketMessage, maxMessageSize: number = MAX_FRAME_PAYLOAD): Buffer {
  return encodeInto(message, 0, maxMessageSize);
}

/** Prefixes arbitrary payload bytes with the 4-byte length header (tests, tools, raw peers). */
function frameBytes(payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length);
  buf.writeUInt32BE(payload.length, 0);
  buf.set(payload, FRAME_HEADER_SIZE);
  return buf;
}

void encodePayload;
void frameBytes;
