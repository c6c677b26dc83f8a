/** Bytes in the big-endian length prefix of every frame. */
export const FRAME_HEADER_SIZE = 4;

/** Default largest accepted payload (1 MiB), the `maxMessageSize` default. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;

/** Largest payload the 4-byte length prefix can describe. */
export const MAX_FRAME_PAYLOAD = 0xffffffff;

/**
 * Most maps/arrays nested in one message, the envelope map included (512).
 * Deeper payloads are refused before decoding (`MALFORMED_FRAME`) and never
 * encoded (`INVALID_MESSAGE`). Python's `msgpack.packb` cannot nest deeper
 * either, and its unpacker accepts up to 1024.
 */
export const MAX_NESTING_DEPTH = 512;
