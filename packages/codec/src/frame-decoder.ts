import { ErrorCode, MessageError, parseMessage, type SocketMessage } from '@socketkit/protocol';
import { DEFAULT_MAX_MESSAGE_SIZE, FRAME_HEADER_SIZE } from './limits.js';
import { decodeEnvelope } from './envelope.js';
import { decodeValue } from './msgpack.js';
import { ScanError } from './scan.js';

/** Options for {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest accepted payload in bytes (default 1 MiB). Checked before allocating. */
  maxMessageSize?: number;
  /**
   * The caller never changes a chunk after feeding it (true of `node:net`
   * reads and of any Readable's chunks). Then a frame split across chunks is
   * kept as a view until it is complete, and when the chunks are consecutive
   * ranges of one ArrayBuffer (a socket reading into a large buffer front to
   * back), the payload is a view over them: no copy. A chunk that does not
   * continue it gets the frame copied as usual. Default false: a partial
   * frame is copied at once, so the caller may reuse a chunk once `feed` returned.
   */
  keepChunks?: boolean;
}

/**
 * Decodes one payload (msgpack bytes without the length prefix) into a message.
 *
 * The bytes are checked before anything is decoded: plain msgpack only (an
 * extension type of any code is refused, never turned into a JS object),
 * string map keys (as Python's `strict_map_key`), at most
 * `MAX_NESTING_DEPTH` nested containers. 64-bit integers within ±2^53 come
 * back as numbers, beyond as BigInt; a `__proto__` key is an own property.
 * @throws MessageError `MALFORMED_FRAME`; `details.reason` is `extension`,
 *   `depth`, `key`, `reserved`, `truncated` or `trailing` for bytes refused
 *   before decoding.
 * @param copyBins - copy every msgpack bin out of `payload` (by default a bin
 *   in `data` is a view into it): set it when `payload` is reused later.
 */
export function decodePayload(payload: Uint8Array, copyBins = false): SocketMessage {
  // The common, plainly valid form straight from the bytes; anything else
  // (an error included) the general way below, which names the problem.
  let message: SocketMessage | undefined;
  try {
    message = decodeEnvelope(payload, copyBins);
  } catch {
    message = undefined;
  }
  if (message !== undefined) return message;
  return decodePayloadGeneral(payload, copyBins);
}

/**
 * {@link decodePayload} without the fast path: the whole map decoded by
 * msgpackr, then checked and copied into a message. Exported for the tests
 * that hold the two paths to the same results (not part of the package's API).
 * @internal
 */
export function decodePayloadGeneral(payload: Uint8Array, copyBins = false): SocketMessage {
  if (payload.length === 0) {
    throw new MessageError(ErrorCode.MALFORMED_FRAME, 'malformed frame: zero-length payload (not a message)');
  }
  let value: unknown;
  try {
    value = decodeValue(payload, copyBins);
  } catch (cause) {
    if (cause instanceof ScanError) {
      const hint =
        cause.reason === 'key'
          ? '; every msgpack map key must be a string'
          : cause.reason === 'extension'
            ? '; the peer must send plain msgpack (Python: msgpack.packb without ext types)'
            : cause.reason === 'depth'
              ? '; the peer must send flatter data'
              : '';
      throw new MessageError(ErrorCode.MALFORMED_FRAME, `malformed frame: ${cause.message}${hint}`, {
        cause,
        details: { reason: cause.reason },
      });
    }
    throw new MessageError(
      ErrorCode.MALFORMED_FRAME,
      `malformed frame: payload of ${payload.length} bytes is not valid msgpack (${(cause as Error).message})`,
      { cause },
    );
  }
  return parseMessage(value);
}

/**
 * Streaming decoder for length-prefixed frames. Feed it chunks exactly as they
 * come off a socket: one byte at a time, many frames per chunk or a frame
 * split across many chunks all yield the same messages.
 *
 * Buffering is linear: a frame contained in one chunk is decoded in place
 * (zero copies); a frame split across chunks is copied once into a buffer of
 * exactly its declared size, allocated only after the size was checked
 * against `maxMessageSize` (with `keepChunks`, a frame split across adjacent
 * ranges of one buffer is not copied at all).
 *
 * After an error the decoder is failed: `error` holds the cause, counters stay
 * readable for diagnosis, and every later `push` throws that error again. The
 * caller must drop the connection (frame boundaries can no longer be trusted).
 */
export class FrameDecoder {
  /** Largest accepted payload in bytes. */
  readonly maxMessageSize: number;
  /** Total bytes pushed. */
  bytesReceived = 0;
  /** Frames decoded successfully. */
  framesDecoded = 0;
  /** The error that failed this decoder, if any. */
  error: MessageError | undefined;

  readonly #header = Buffer.alloc(FRAME_HEADER_SIZE);
  readonly #keepChunks: boolean;
  #headerFill = 0;
  /** keepChunks: the received part of a frame, a view into the chunk(s) it came in; `#viewSize` its declared size. */
  #view: Buffer | undefined;
  #viewSize = 0;
  #body: Buffer | undefined;
  #bodyFill = 0;
  #deferred: { error: unknown } | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#keepChunks = options.keepChunks === true;
  }

  /**
   * Bytes received for a frame that has started to arrive but is not complete,
   * its 4-byte header included (so at most the declared size + 4).
   */
  get bufferedBytes(): number {
    if (this.#view !== undefined) return FRAME_HEADER_SIZE + this.#view.length;
    return this.#body === undefined ? this.#headerFill : FRAME_HEADER_SIZE + this.#bodyFill;
  }

  /**
   * Decodes every complete frame in `chunk` and returns the messages.
   * When a frame in `chunk` is bad, the messages decoded before it in the same
   * chunk are lost with the thrown error; use {@link FrameDecoder.feed} when
   * partial delivery matters.
   * @throws MessageError `FRAME_TOO_LARGE` or `MALFORMED_FRAME`.
   */
  push(chunk: Uint8Array): SocketMessage[] {
    const out: SocketMessage[] = [];
    this.feed(chunk, (m) => out.push(m));
    return out;
  }

  /**
   * Decodes every complete frame in `chunk`, calling `onMessage` for each in
   * order. Messages before a bad frame are delivered, then the error is thrown.
   *
   * If `onMessage` itself throws, the rest of `chunk` is still decoded and
   * delivered (frame boundaries stay intact, as if the chunk had been split
   * there), then the first such error is rethrown; the decoder stays usable.
   * @throws MessageError `FRAME_TOO_LARGE` or `MALFORMED_FRAME`.
   */
  feed(chunk: Uint8Array, onMessage: (message: SocketMessage, payloadBytes: number) => void): void {
    this.feedPayloads(chunk, (payload) => {
      let message: SocketMessage;
      try {
        message = decodePayload(payload);
      } catch (err) {
        throw this.#fail(err as MessageError);
      }
      this.framesDecoded++;
      onMessage(message, payload.length);
    });
  }

  /**
   * Splits `chunk` into raw payloads (msgpack bytes, prefix removed) without
   * decoding them. A payload may be a view into `chunk`: copy it to keep it.
   * An error thrown by `onPayload` is rethrown after the rest of `chunk` was
   * processed, unless it failed the decoder (then it is thrown at once).
   * @throws MessageError `FRAME_TOO_LARGE`.
   */
  feedPayloads(chunk: Uint8Array, onPayload: (payload: Uint8Array) => void): void {
    if (this.error !== undefined) throw this.error;
    this.bytesReceived += chunk.length;
    // Stopping halfway through `chunk` would lose its remaining bytes and
    // misalign every later frame, so a throwing callback is deferred (no
    // closure per chunk: #deliver keeps the first error in #deferred).
    const outer = this.#deferred;
    this.#deferred = undefined;
    try {
      this.#split(chunk, onPayload);
    } catch (err) {
      // The decoder failed: that error wins over a deferred one.
      this.#deferred = outer;
      throw err;
    }
    // (#split may have set it: TypeScript cannot see that.)
    const deferred = this.#deferred as { error: unknown } | undefined;
    this.#deferred = outer;
    if (deferred !== undefined) throw deferred.error;
  }

  #deliver(onPayload: (payload: Uint8Array) => void, payload: Uint8Array): void {
    try {
      onPayload(payload);
    } catch (err) {
      if (this.error !== undefined) throw err;
      this.#deferred ??= { error: err };
    }
  }

  #split(chunk: Uint8Array, onPayload: (payload: Uint8Array) => void): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.#view !== undefined) {
        pos = this.#continueView(chunk, pos, onPayload);
        continue;
      }
      if (this.#body === undefined) {
        // Fast path: a whole frame sits in this chunk, decode it in place.
        if (this.#headerFill === 0 && len - pos >= FRAME_HEADER_SIZE) {
          const size = ((chunk[pos]! << 24) >>> 0) + (chunk[pos + 1]! << 16) + (chunk[pos + 2]! << 8) + chunk[pos + 3]!;
          this.#checkSize(size);
          if (len - pos - FRAME_HEADER_SIZE >= size) {
            const start = pos + FRAME_HEADER_SIZE;
            pos = start + size;
            this.#deliver(onPayload, chunk.subarray(start, pos));
            continue;
          }
          if (this.#keepChunks) {
            // The rest of the chunk is the start of the frame: keep it as it is.
            this.#view = Buffer.from(
              chunk.buffer,
              chunk.byteOffset + pos + FRAME_HEADER_SIZE,
              len - pos - FRAME_HEADER_SIZE,
            );
            this.#viewSize = size;
            return;
          }
          this.#body = Buffer.allocUnsafe(size);
          pos += FRAME_HEADER_SIZE;
          continue;
        }
        const take = Math.min(FRAME_HEADER_SIZE - this.#headerFill, len - pos);
        for (let i = 0; i < take; i++) this.#header[this.#headerFill++] = chunk[pos++]!;
        if (this.#headerFill < FRAME_HEADER_SIZE) return;
        const size = this.#header.readUInt32BE(0);
        this.#checkSize(size);
        this.#headerFill = 0;
        this.#body = Buffer.allocUnsafe(size);
        this.#bodyFill = 0;
        if (size === 0) this.#completeBody(onPayload);
        continue;
      }
      const body = this.#body;
      const take = Math.min(body.length - this.#bodyFill, len - pos);
      body.set(chunk.subarray(pos, pos + take), this.#bodyFill);
      this.#bodyFill += take;
      pos += take;
      if (this.#bodyFill === body.length) this.#completeBody(onPayload);
    }
  }

  /**
   * keepChunks, a frame partly received: extends the view when `chunk` continues its bytes in the same
   * ArrayBuffer, else copies it into a body of the declared size (the usual path takes it from there).
   * @returns the position in `chunk` after what was taken.
   */
  #continueView(chunk: Uint8Array, pos: number, onPayload: (payload: Uint8Array) => void): number {
    const v = this.#view as Buffer;
    if (chunk.buffer === v.buffer && chunk.byteOffset + pos === v.byteOffset + v.length) {
      const take = Math.min(this.#viewSize - v.length, chunk.length - pos);
      const joined = Buffer.from(v.buffer, v.byteOffset, v.length + take);
      if (joined.length === this.#viewSize) {
        this.#view = undefined;
        this.#deliver(onPayload, joined);
      } else this.#view = joined;
      return pos + take;
    }
    this.#view = undefined;
    const body = Buffer.allocUnsafe(this.#viewSize);
    body.set(v, 0);
    this.#body = body;
    this.#bodyFill = v.length;
    return pos;
  }

  #completeBody(onPayload: (payload: Uint8Array) => void): void {
    const body = this.#body as Buffer;
    this.#body = undefined;
    this.#bodyFill = 0;
    this.#deliver(onPayload, body);
  }

  #checkSize(size: number): void {
    if (size > this.maxMessageSize) {
      throw this.#fail(
        new MessageError(
          ErrorCode.FRAME_TOO_LARGE,
          `frame declares ${size} bytes, above maxMessageSize ${this.maxMessageSize}: the peer must ` +
            'send smaller messages, or raise maxMessageSize on both ends',
          { details: { size, maxMessageSize: this.maxMessageSize } },
        ),
      );
    }
  }

  #fail(error: MessageError): MessageError {
    this.error = error;
    this.#view = undefined;
    this.#body = undefined;
    this.#bodyFill = 0;
    this.#headerFill = 0;
    return error;
  }
}
