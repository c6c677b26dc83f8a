import { ErrorCode, MessageError, type SocketMessage } from '@socketkit/protocol';
import { FRAME_HEADER_SIZE, MAX_FRAME_PAYLOAD } from './limits.js';
import {
  copySince,
  EncodeRefusal,
  EncodeTooLarge,
  formatPath,
  position,
  withPartsWriter,
  withWriter,
  writeByte,
  writeLengthPrefix,
  writeNumber,
  writeObjectMap,
  writeRaw,
  writeString,
  written,
} from './writer.js';
import { WIRE_KEYS } from './wire-keys.js';

// Pre-encoded keys (fixstr header + bytes), in the Python module's key order.
const key = (name: Uint8Array): Buffer => Buffer.concat([Buffer.from([0xa0 | name.length]), name]);
const K_EVENT_NAME = key(WIRE_KEYS.eventName);
const K_TIMESTAMP_MS = key(WIRE_KEYS.timestampMs);
const K_TIMESTAMP_ISO = key(WIRE_KEYS.timestampIso);
const K_MESSAGE_TYPE = key(WIRE_KEYS.messageType);
const K_DATA = key(WIRE_KEYS.data);
const K_ID = key(WIRE_KEYS.id);
const K_REPLY_TO = key(WIRE_KEYS.replyTo);

/**
 * The envelope of the last message encoded, up to the `data` key: map
 * header, event name, both timestamps and type. Messages stamped within the
 * same millisecond by one server or client share it, so it is copied as one
 * run of bytes instead of being written field by field.
 */
const envelope = {
  header: -1,
  eventName: '',
  timestampMs: Number.NaN,
  timestampIso: '',
  messageType: '',
  bytes: Buffer.alloc(0) as Buffer,
};

function writeEnvelope(message: SocketMessage): void {
  const hasId = message.id !== undefined;
  const hasReplyTo = message.replyTo !== undefined;
  const header = 0x80 | (5 + (hasId ? 1 : 0) + (hasReplyTo ? 1 : 0));
  const e = envelope;
  // 0 is never a real stamp, and -0 === 0 while their bytes differ: never cached
  if (
    message.timestampMs === e.timestampMs &&
    message.timestampMs !== 0 &&
    message.eventName === e.eventName &&
    message.timestampIso === e.timestampIso &&
    message.messageType === e.messageType &&
    header === e.header
  ) {
    writeRaw(e.bytes);
  } else {
    const from = position();
    writeByte(header);
    writeRaw(K_EVENT_NAME);
    writeString(message.eventName);
    writeRaw(K_TIMESTAMP_MS);
    writeNumber(message.timestampMs);
    writeRaw(K_TIMESTAMP_ISO);
    writeString(message.timestampIso);
    writeRaw(K_MESSAGE_TYPE);
    writeString(message.messageType);
    writeRaw(K_DATA);
    e.bytes = copySince(from);
    e.header = header;
    e.eventName = message.eventName;
    e.timestampMs = message.timestampMs;
    e.timestampIso = message.timestampIso;
    e.messageType = message.messageType;
  }
  // the data map sits inside the envelope: two containers deep
  writeObjectMap(message.data, 2);
  if (hasId) {
    writeRaw(K_ID);
    writeString(message.id as string);
  }
  if (hasReplyTo) {
    writeRaw(K_REPLY_TO);
    writeString(message.replyTo as string);
  }
}

function tooLarge(message: SocketMessage, size: number, maxMessageSize: number, atLeast: boolean): MessageError {
  return new MessageError(
    ErrorCode.FRAME_TOO_LARGE,
    `message for event "${message.eventName}" is ${atLeast ? 'more than ' : ''}${size} bytes, ` +
      `above maxMessageSize ${maxMessageSize}: send smaller messages or raise maxMessageSize on both ends`,
    { details: { size, maxMessageSize } },
  );
}

function encodeInto(message: SocketMessage, headerSize: number, maxMessageSize: number): Buffer {
  return encodeWith(message, headerSize, maxMessageSize, (write) => withWriter(headerSize, maxMessageSize, write));
}

function encodeWith<T>(
  message: SocketMessage,
  headerSize: number,
  maxMessageSize: number,
  run: (write: () => void) => T,
): T {
  if (!Number.isSafeInteger(message.timestampMs)) {
    throw new MessageError(
      ErrorCode.INVALID_MESSAGE,
      `cannot encode message: timestampMs must be an integer, got ${message.timestampMs}`,
    );
  }
  try {
    return run(() => {
      writeEnvelope(message);
      const size = written();
      if (size > maxMessageSize) throw tooLarge(message, size, maxMessageSize, false);
      if (headerSize === FRAME_HEADER_SIZE) writeLengthPrefix();
    });
  } catch (cause) {
    if (cause instanceof MessageError) throw cause;
    if (cause instanceof EncodeTooLarge) throw tooLarge(message, cause.atLeast, maxMessageSize, true);
    if (cause instanceof EncodeRefusal) {
      const at = formatPath('data', cause.path);
      throw new MessageError(
        ErrorCode.INVALID_MESSAGE,
        `cannot encode message data for event "${message.eventName}": ${at}: ${cause.reason}`,
        {
          cause,
          details: { eventName: message.eventName, path: at },
        },
      );
    }
    // a user toJSON or getter threw, or a toJSON chain recursed without end
    throw new MessageError(
      ErrorCode.INVALID_MESSAGE,
      'cannot encode message data for event ' +
        `"${message.eventName}": ${(cause as Error).message}; use msgpack-able values (objects, ` +
        'arrays, strings, numbers, booleans, null, Buffers)',
      { cause, details: { eventName: message.eventName } },
    );
  }
}

/**
 * Encodes a message as one frame: a 4-byte big-endian payload length followed
 * by a plain msgpack map with snake_case keys, in the Python module's key
 * order, with minimal integer and string headers: the bytes Python's
 * `msgpack.packb` writes for the same values (integers as integers up to
 * 64 bits, `timestamp_ms` included; other numbers and `-0` as float64).
 *
 * @param maxMessageSize Largest payload allowed (default: the 32-bit limit).
 * @throws MessageError `FRAME_TOO_LARGE` above `maxMessageSize`;
 *   `INVALID_MESSAGE` when `data` holds something plain msgpack cannot carry
 *   (`undefined`, a Date, a BigInt beyond 64 bits, nesting deeper than
 *   `MAX_NESTING_DEPTH`, ...), naming the path of the value.
 */
export function encodeFrame(message: SocketMessage, maxMessageSize: number = MAX_FRAME_PAYLOAD): Buffer {
  return encodeInto(message, FRAME_HEADER_SIZE, maxMessageSize);
}

/**
 * {@link encodeFrame} without copying large bins: a `Uint8Array` of at least
 * `minBin` bytes in `data` is not copied into the frame but returned as it
 * is, between the encoded bytes before and after it. The frame is the
 * concatenation of the returned parts (one part when no bin was that large):
 * write them in order, e.g. with one `writev`. The caller's bins are then
 * part of the frame: they must not change until it was written.
 * @throws MessageError as {@link encodeFrame}.
 */
export function encodeFrameParts(
  message: SocketMessage,
  maxMessageSize: number = MAX_FRAME_PAYLOAD,
  minBin = 16 * 1024,
): Uint8Array[] {
  return encodeWith(message, FRAME_HEADER_SIZE, maxMessageSize, (write) =>
    withPartsWriter(FRAME_HEADER_SIZE, maxMessageSize, minBin, write),
  );
}

/** Encodes only the msgpack payload of a message (no length prefix). */
export function encodePayload(message: SocketMessage, maxMessageSize: number = MAX_FRAME_PAYLOAD): Buffer {
  return encodeInto(message, 0, maxMessageSize);
}

/** Prefixes arbitrary payload bytes with the 4-byte length header (tests, tools, raw peers). */
export function frameBytes(payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length);
  buf.writeUInt32BE(payload.length, 0);
  buf.set(payload, FRAME_HEADER_SIZE);
  return buf;
}
