/**
 * The keys of the wire map as ASCII bytes (no msgpack header), in the Python
 * module's order: the encoder writes them behind a fixstr header, the
 * envelope reader compares incoming keys with them.
 */
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

/** `event_name`, `timestamp_ms`, `timestamp_iso`, `message_type`, `data`, `id`, `reply_to`. */
export const WIRE_KEYS = {
  eventName: ascii('event_name'),
  timestampMs: ascii('timestamp_ms'),
  timestampIso: ascii('timestamp_iso'),
  messageType: ascii('message_type'),
  data: ascii('data'),
  id: ascii('id'),
  replyTo: ascii('reply_to'),
} as const;
