import { FrameDecoder } from '@socketkit/codec';
import { ErrorCode, MessageError, type SocketMessage } from '@socketkit/protocol';
import type { TransportStream } from './transport.js';

/** Callbacks of a {@link FramedConnection}. */
export interface FramedConnectionHandlers {
  /** Every decoded message, in order. */
  onMessage(message: SocketMessage): void;
  /** The peer sent a frame that is too large or malformed; reading has stopped. */
  onProtocolError(error: MessageError): void;
  /** The stream closed (for any reason). `error` is the last stream error, if any. */
  onClose(error: Error | undefined): void;
}

/**
 * One framed, coalescing connection over a byte stream: decodes incoming
 * frames, and batches outgoing writes made in the same tick into one
 * `writev` (cork/uncork). Shared by the server (one per client) and the client.
 */
export class FramedConnection {
  readonly stream: TransportStream;
  readonly decoder: FrameDecoder;
  #corked = false;
  #closed = false;
  #ending: Promise<void> | undefined;
  #lastError: Error | undefined;
  #closedPromise: Promise<void>;

  constructor(stream: TransportStream, maxMessageSize: number, handlers: FramedConnectionHandlers) {
    this.stream = stream;
    this.decoder = new FrameDecoder({ maxMessageSize });
    this.#closedPromise = new Promise((resolve) => {
      stream.once('close', () => {
        this.#closed = true;
        handlers.onClose(this.#lastError);
        resolve();
      });
    });
    // EPIPE / ECONNRESET and friends end the connection; they never crash the process.
    stream.on('error', (err: Error) => {
      this.#lastError = err;
    });
    // The peer finished sending. Mid-frame, that is a truncated frame: report
    // it (the server answers with an ERROR before closing, which needs the
    // transport's allowHalfOpen). Otherwise finish our side after a flush.
    stream.on('end', () => {
      const partial = this.decoder.bufferedBytes;
      if (this.decoder.error === undefined && partial > 0) {
        handlers.onProtocolError(
          new MessageError(ErrorCode.MALFORMED_FRAME, `truncated frame: the peer closed its side ${partial} bytes into an incomplete frame`, { details: { bufferedBytes: partial } }),
        );
      } else if (!stream.writableEnded) {
        stream.end();
      }
    });
    // After a protocol error, incoming bytes are discarded (not paused) so the
    // peer's FIN is still seen and the close completes without waiting.
    stream.on('data', (chunk: Buffer) => {
      if (this.decoder.error !== undefined) return;
      try {
        this.decoder.feed(chunk, handlers.onMessage);
      } catch (err) {
        handlers.onProtocolError(err as MessageError);
      }
    });
  }

  /** True once the stream has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True once `end()` or `destroy()` was called or the stream closed. */
  get closing(): boolean {
    return this.#closed || this.#ending !== undefined || this.stream.destroyed;
  }

  /** Bytes written but not yet taken by the kernel. */
  get pendingBytes(): number {
    return this.stream.writableLength;
  }

  /** True when the stream's buffer is above its high-water mark. */
  get needsDrain(): boolean {
    return this.stream.writableNeedDrain;
  }

  /**
   * Queues one encoded frame. Writes made in the same tick go out together.
   * Returns false when the connection is closing and nothing was written.
   */
  write(frame: Uint8Array): boolean {
    if (this.closing) return false;
    const s = this.stream;
    if (!this.#corked && s.cork !== undefined) {
      this.#corked = true;
      s.cork();
      process.nextTick(this.#uncork);
    }
    s.write(frame);
    return true;
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.stream.uncork?.();
  };

  /** Stop reading (back-pressure reaches the peer). */
  pause(): void {
    this.stream.pause();
  }

  /** Resume reading. */
  resume(): void {
    if (this.decoder.error === undefined) this.stream.resume();
  }

  /** Resolves when 'drain' fires or the stream closes. */
  waitForDrain(): Promise<void> {
    if (!this.stream.writableNeedDrain || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }

  /**
   * Graceful close: flushes everything already written (plus `lastFrame`),
   * then ends the stream. A peer that reads slowly but steadily gets it all;
   * the stream is destroyed only when no progress was made for `timeoutMs`
   * (a peer that stopped reading, or never closes its side, cannot hold us).
   */
  end(timeoutMs: number, lastFrame?: Uint8Array): Promise<void> {
    if (this.#ending !== undefined) return this.#ending;
    if (this.#closed) return Promise.resolve();
    const s = this.stream;
    if (lastFrame !== undefined && !s.writableEnded) s.write(lastFrame);
    if (!s.writableEnded) s.end();
    let last = s.writableLength;
    const timer = setInterval(() => {
      const now = s.writableLength;
      if (now === 0 || now >= last) s.destroy();
      last = now;
    }, timeoutMs);
    timer.unref?.();
    this.#ending = this.#closedPromise.then(() => clearInterval(timer));
    return this.#ending;
  }

  /** Abrupt close. */
  destroy(error?: Error): Promise<void> {
    if (error !== undefined) this.#lastError ??= error;
    this.stream.destroy();
    return this.#closedPromise;
  }
}
