/**
 * @socketkit/codec — length-prefixed MessagePack framing: `encodeFrame` and
 * the streaming `FrameDecoder`. Knows nothing of transports.
 * @packageDocumentation
 */
export { encodeFrame, encodeFrameParts, encodePayload, frameBytes } from './encode.js';
export { FrameDecoder, decodePayload } from './frame-decoder.js';
export type { FrameDecoderOptions } from './frame-decoder.js';
export { BIN_SHARE_FREE, BIN_SHARE_RATIO, packValue, unpackValue } from './msgpack.js';
export { FRAME_HEADER_SIZE, DEFAULT_MAX_MESSAGE_SIZE, MAX_FRAME_PAYLOAD, MAX_NESTING_DEPTH } from './limits.js';
