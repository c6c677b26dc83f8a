import * as v from 'valibot';
import { EVENT_NAME_PATTERN, isValidEventName } from './event-name.js';
import { ErrorCode, MessageError } from './errors.js';
import { isPlainObject, MessageType, type SocketMessage } from './message.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * valibot schema for a decoded wire object. Unknown keys are ignored (the
 * Python module does the same); 64-bit integer timestamps decoded as BigInt
 * are accepted when they fit a safe integer.
 */
export const WireMessageSchema = v.object({
  event_name: v.pipe(
    v.string('expected a string'),
    v.regex(EVENT_NAME_PATTERN, 'expected 1-64 characters from a-z, A-Z, 0-9, "_", "-"'),
  ),
  timestamp_ms: v.union(
    [
      v.pipe(v.number(), v.safeInteger('expected an integer (epoch milliseconds)')),
      v.pipe(
        v.bigint(),
        v.check(
          (b) => b >= -MAX_SAFE && b <= MAX_SAFE,
          'expected an integer (epoch milliseconds) within the safe integer range',
        ),
        v.transform((b) => Number(b)),
      ),
    ],
    'expected an integer (epoch milliseconds)',
  ),
  timestamp_iso: v.string('expected a string'),
  message_type: v.picklist(Object.values(MessageType), 'expected "data", "error" or "control"'),
  data: v.custom<Record<string, unknown>>(isPlainObject, 'expected a map with string keys'),
  id: v.optional(v.string('expected a string')),
  reply_to: v.optional(v.string('expected a string')),
});

/** Output type of {@link WireMessageSchema}. */
export type ParsedWireMessage = v.InferOutput<typeof WireMessageSchema>;

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `bigint ${value}`;
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Turns a decoded wire object (the msgpack map) into a {@link SocketMessage}.
 *
 * @throws MessageError code `MALFORMED_FRAME` naming the first bad field.
 */
export function parseMessage(input: unknown): SocketMessage {
  // Fast path for the common case: a plain, valid wire object. It accepts
  // exactly what WireMessageSchema accepts for number timestamps; anything
  // else (BigInt timestamps, any invalid field) takes the schema path, which
  // also produces the error messages.
  if (isPlainObject(input)) {
    const w = input as Record<string, unknown>;
    const {
      event_name: eventName,
      timestamp_ms: ts,
      timestamp_iso: iso,
      message_type: type,
      data,
      id,
      reply_to: replyTo,
    } = w;
    if (
      isValidEventName(eventName) &&
      typeof ts === 'number' &&
      Number.isSafeInteger(ts) &&
      typeof iso === 'string' &&
      (type === 'data' || type === 'error' || type === 'control') &&
      isPlainObject(data) &&
      (id === undefined || typeof id === 'string') &&
      (replyTo === undefined || typeof replyTo === 'string')
    ) {
      return fromWire(w as ParsedWireMessage);
    }
  }
  const result = v.safeParse(WireMessageSchema, input);
  if (!result.success) {
    if (!isPlainObject(input)) {
      throw new MessageError(ErrorCode.MALFORMED_FRAME, `malformed message: expected a map, got ${describe(input)}`);
    }
    const issue = result.issues[0];
    const field = issue.path?.map((p) => String(p.key)).join('.') ?? '?';
    // A required key that is absent is reported by the object schema itself.
    const problem = issue.type === 'object' ? 'is required' : issue.message;
    throw new MessageError(
      ErrorCode.MALFORMED_FRAME,
      `malformed message: field "${field}" ${problem}, got ${describe(issue.input)}`,
      { details: { field } },
    );
  }
  return fromWire(result.output);
}

/** The camelCase message of a validated wire object. */
function fromWire(w: ParsedWireMessage): SocketMessage {
  const message: SocketMessage = {
    eventName: w.event_name,
    timestampMs: w.timestamp_ms,
    timestampIso: w.timestamp_iso,
    messageType: w.message_type,
    data: w.data,
  };
  if (w.id !== undefined) message.id = w.id;
  if (w.reply_to !== undefined) message.replyTo = w.reply_to;
  return message;
}
