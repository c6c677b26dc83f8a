/**
 * @socketkit/protocol — the message model, wire schema, timestamps and typed
 * errors shared by every socketkit package. Knows nothing of sockets.
 * @packageDocumentation
 */
export {
  ErrorCode,
  SocketError,
  ConnectionError,
  MaxConnectionsError,
  MessageError,
  ValidationError,
  TimeoutError,
  RemoteError,
  errorFromCode,
  createError,
  ERROR_CLASSES,
} from './errors.js';
export type { ErrorDetails, SocketErrorOptions, RemoteErrorOptions } from './errors.js';
export { validateEventName, isValidEventName, EVENT_NAME_PATTERN, MAX_EVENT_NAME_LENGTH } from './event-name.js';
export {
  getTimestampMs,
  getTimestampIso,
  getUtcOffsetMinutes,
  isValidTimezone,
  ISO_TIMESTAMP_PATTERN,
} from './timestamp.js';
export { MessageType, createMessage, toWireMessage, isSocketMessage, isPlainObject } from './message.js';
export type { SocketMessage, WireMessage, MessageData, CreateMessageOptions } from './message.js';
export { WireMessageSchema, parseMessage } from './schema.js';
export type { ParsedWireMessage } from './schema.js';
export { CONTROL_OPS, PROTOCOL_VERSION, isReservedControl } from './control.js';
export type { ControlOp } from './control.js';
