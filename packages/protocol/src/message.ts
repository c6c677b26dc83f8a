import { validateEventName } from './event-name.js';
import { ErrorCode, MessageError } from './errors.js';
import { getTimestampIso } from './timestamp.js';

/** The three kinds of message on the wire (`message_type`). */
export const MessageType = {
  DATA: 'data',
  ERROR: 'error',
  CONTROL: 'control',
} as const;

/** `"data" | "error" | "control"`. */
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * The payload of a message: a map with string keys of plain msgpack values:
 * `null`, booleans, numbers, BigInts (integers beyond ±2^53 arrive as BigInt),
 * strings, Buffers/Uint8Arrays, arrays and plain objects (see PROTOCOL.md,
 * "Value encoding"). `undefined` and Dates are refused when sending.
 */
export type MessageData = Record<string, unknown>;

/**
 * A decoded socketkit message. On the wire the same fields travel as a
 * msgpack map with snake_case keys (`event_name`, `timestamp_ms`, ...).
 */
export interface SocketMessage<D = MessageData> {
  /** Event (channel) name, `^[a-zA-Z0-9_-]{1,64}$`. */
  eventName: string;
  /** Unix epoch milliseconds when the message was created. */
  timestampMs: number;
  /** The same instant as ISO 8601 with numeric offset, Python `isoformat()` style. */
  timestampIso: string;
  /** `data`, `error` or `control`. */
  messageType: MessageType;
  /** The payload. */
  data: D;
  /** Message id, set on requests. */
  id?: string;
  /** On a reply: the `id` of the request it answers. */
  replyTo?: string;
}

/** The message exactly as it appears in the msgpack map on the wire. */
export interface WireMessage {
  event_name: string;
  timestamp_ms: number;
  timestamp_iso: string;
  message_type: MessageType;
  data: MessageData;
  id?: string;
  reply_to?: string;
}

/** Options for {@link createMessage}. */
export interface CreateMessageOptions {
  /** IANA time zone for `timestampIso` (default `UTC`). */
  timezone?: string;
  /** Message id (requests). */
  id?: string;
  /** Id of the request this message answers (replies). */
  replyTo?: string;
  /** Instant to stamp, epoch ms (default now). */
  timestampMs?: number;
}

const messageTypes = new Set<string>(Object.values(MessageType));

/** True for a non-null, non-array object whose prototype is Object.prototype or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Builds a message stamped with the current time.
 *
 * @throws ValidationError `INVALID_EVENT_NAME` for a bad event name;
 *   MessageError `INVALID_MESSAGE` for an unknown type or a `data` that is not a plain object.
 */
export function createMessage<D extends MessageData>(
  eventName: string,
  messageType: MessageType,
  data: D,
  options: CreateMessageOptions = {},
): SocketMessage<D> {
  validateEventName(eventName);
  if (!messageTypes.has(messageType)) {
    throw new MessageError(
      ErrorCode.INVALID_MESSAGE,
      `invalid message type ${JSON.stringify(messageType)}: use "data", "error" or "control"`,
    );
  }
  if (!isPlainObject(data)) {
    throw new MessageError(
      ErrorCode.INVALID_MESSAGE,
      'message data must be a plain object with string keys (wrap arrays or scalars, e.g. { value: ... })',
    );
  }
  const timestampMs = options.timestampMs ?? Date.now();
  const message: SocketMessage<D> = {
    eventName,
    timestampMs,
    timestampIso: getTimestampIso(options.timezone ?? 'UTC', timestampMs),
    messageType,
    data,
  };
  if (options.id !== undefined) message.id = options.id;
  if (options.replyTo !== undefined) message.replyTo = options.replyTo;
  return message;
}

/** Converts a message to its snake_case wire object (key order as the Python module). */
export function toWireMessage(message: SocketMessage): WireMessage {
  const wire: WireMessage = {
    event_name: message.eventName,
    timestamp_ms: message.timestampMs,
    timestamp_iso: message.timestampIso,
    message_type: message.messageType,
    data: message.data,
  };
  if (message.id !== undefined) wire.id = message.id;
  if (message.replyTo !== undefined) wire.reply_to = message.replyTo;
  return wire;
}

/** True when `value` looks like a {@link SocketMessage} (as opposed to plain data). */
export function isSocketMessage(value: unknown): value is SocketMessage {
  if (!isPlainObject(value)) return false;
  return (
    typeof value.eventName === 'string' &&
    typeof value.timestampMs === 'number' &&
    typeof value.messageType === 'string' &&
    isPlainObject(value.data)
  );
}
