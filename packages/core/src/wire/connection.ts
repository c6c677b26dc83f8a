import { FrameDecoder, decodePayload } from '@socketkit/codec';
import { ErrorCode, MessageError, type SocketMessage } from '@socketkit/protocol';
import { startTimer } from '../settings.js';
import type { TransportStream } from '../transport.js';

/** Frames at least this large are written as they are instead of being concatenated (16 KiB). */
export const COALESCE_MAX_FRAME = 16 * 1024;
/**
 * Most bytes of small frames concatenated into one write (64 KiB, what a hand-written node:net program writes at once).
 */
export const COALESCE_MAX_BATCH = 64 * 1024;
/**
 * A frame written as several buffers, one after another (one `writev`):
 * the encoded bytes around each large bin and the bins themselves, which
 * are the sender's own buffers, not copies (see `encodeFrameParts`).
 * `length` is the frame's size in bytes, as a Uint8Array frame's.
 */
export class SplitFrame {
  constructor(
    readonly parts: readonly Uint8Array[],
    readonly length: number,
  ) {}

  /** The frame as one buffer (a copy), where it is kept rather than written now (queue, held frames). */
  joined(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

/** A frame as the connection writes it. */
export type OutFrame = Uint8Array | SplitFrame;

interface SharedConcat {
  frames: Uint8Array[];
  bytes: number;
  out: Uint8Array;
}

/**
 * Lets the connections of one server share the concatenation of a tick's
 * batch: a broadcast puts the same frame objects, in the same order, in every
 * connection's batch, so the first connection to flush concatenates them and
 * every other connection whose batch holds exactly the same frames (compared
 * by identity, frame by frame) writes that same buffer. A connection whose
 * batch differs (it also got a unicast, or missed a frame) concatenates its
 * own. Frames are never mutated once encoded, and neither is a written
 * buffer, so identical frames mean identical bytes. The last two
 * concatenations are kept until the end of the tick.
 */
export class BatchShare {
  #a: SharedConcat | undefined;
  #b: SharedConcat | undefined;
  #clearing = false;

  /**
   * The concatenation of `frames` (`bytes` in all): a shared one when an identical batch was concatenated this tick.
   */
  concat(frames: Uint8Array[], bytes: number): Uint8Array {
    const hit = same(this.#a, frames, bytes) ? this.#a : same(this.#b, frames, bytes) ? this.#b : undefined;
    if (hit !== undefined) return hit.out;
    const out = Buffer.concat(frames, bytes);
    this.#b = this.#a;
    this.#a = { frames, bytes, out };
    if (!this.#clearing) {
      this.#clearing = true;
      process.nextTick(this.#clear);
    }
    return out;
  }

  readonly #clear = (): void => {
    this.#clearing = false;
    this.#a = undefined;
    this.#b = undefined;
  };
}

function same(c: SharedConcat | undefined, frames: Uint8Array[], bytes: number): boolean {
  if (c === undefined || c.bytes !== bytes) return false;
  const f = c.frames;
  const n = frames.length;
  if (f.length !== n) return false;
  for (let i = 0; i < n; i++) if (f[i] !== frames[i]) return false;
  return true;
}

/**
 * A tick's broadcast frames, shared by every connection that takes them (the server's fan-out, see BroadcastRun in
 * server/fanout.ts): a broadcast appends its frame here once, instead of visiting every connection; a connection
 * that joined the run at frame `from` writes the run's concatenation from that frame on, once, when the run is
 * written. Frames are never changed once appended.
 */
export class FrameRun {
  /** The frames appended, in order. */
  readonly frames: Uint8Array[] = [];
  /** Their bytes in all. */
  bytes = 0;
  /** How many connections left the run before it was written (they wrote something else meanwhile). */
  left = 0;
  #out: Uint8Array | undefined;

  /** Appends one frame (before the run is written). */
  push(frame: Uint8Array): void {
    this.frames.push(frame);
    this.bytes += frame.length;
  }

  /** The frames as one buffer, concatenated once for every connection. */
  joined(): Uint8Array {
    const f = this.frames;
    this.#out ??= f.length === 1 ? (f[0] as Uint8Array) : Buffer.concat(f, this.bytes);
    return this.#out;
  }
}

/** Callbacks of a {@link FramedConnection}. */
export interface FramedConnectionHandlers {
  /**
   * Every decoded message, in order, with the size of its frame payload in
   * bytes and the payload itself (a view into the read buffer: copy it to keep it).
   */
  onMessage(message: SocketMessage, payloadBytes: number, payload: Uint8Array): void;
  /** The peer sent a frame that is too large or malformed; reading has stopped. */
  onProtocolError(error: MessageError): void;
  /**
   * A well-framed payload that is not a valid message (bad msgpack, a bad
   * field): it was skipped and the connection stays up, as in the Python
   * module. `error` has code `INVALID_MESSAGE`. Ignored when absent.
   */
  onInvalidMessage?(error: MessageError): void;
  /**
   * The peer sent a zero-length frame: the Python module's end of stream.
   * Nothing after it is read. Default: finish our side.
   */
  onEndOfStream?(): void;
  /** Called after each chunk read from the peer was processed (frame timers look at `decoder.bufferedBytes`). */
  afterChunk?(): void;
  /** The stream closed (for any reason). `error` is the last stream error, if any. */
  onClose(error: Error | undefined): void;
  /** `frames` frames (`bytes` bytes) of a shared {@link FrameRun} were handed to the stream (counted there). */
  onRunWritten?(frames: number, bytes: number): void;
}

/**
 * One framed, coalescing connection over a byte stream: decodes incoming
 * frames, and batches outgoing frames written in the same tick into one
 * buffer. Shared by the server (one per client) and the client.
 */
export class FramedConnection {
  readonly stream: TransportStream;
  readonly decoder: FrameDecoder;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #scheduled = false;
  #closed = false;
  #ending: Promise<void> | undefined;
  #lastError: Error | undefined;
  #closedPromise: Promise<void>;
  #eof = false;
  #discard = false;
  /** Valid messages received. */
  framesReceived = 0;
  /** Well-framed but invalid messages skipped. */
  invalidMessages = 0;

  readonly #share: BatchShare | undefined;
  readonly #onRunWritten: ((frames: number, bytes: number) => void) | undefined;
  /** The shared run it takes, from frame `#runFrom` (`#runFromBytes` into it), and the run that lists it. */
  #run: FrameRun | undefined;
  #runFrom = 0;
  #runFromBytes = 0;
  #listedIn: FrameRun | undefined;

  /**
   * @param share Shared with the other connections of a server, so a broadcast
   *   tick is concatenated once (see {@link BatchShare}).
   */
  constructor(stream: TransportStream, maxMessageSize: number, handlers: FramedConnectionHandlers, share?: BatchShare) {
    this.stream = stream;
    this.#share = share;
    this.#onRunWritten = handlers.onRunWritten;
    // A stream's chunks are never changed once emitted (node:net reads, any Readable): a frame split across reads
    // into one slab (see slabReadOption) is decoded where it lies.
    this.decoder = new FrameDecoder({ maxMessageSize, keepChunks: true });
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
      if (this.decoder.error === undefined && partial > 0 && !this.#discard) {
        handlers.onProtocolError(
          new MessageError(
            ErrorCode.MALFORMED_FRAME,
            `truncated frame: the peer closed its side ${partial} bytes into an incomplete frame`,
            {
              details: { bufferedBytes: partial },
            },
          ),
        );
      } else if (!stream.writableEnded) {
        stream.end();
      }
    });
    // After a protocol error or an end-of-stream frame, incoming bytes are
    // discarded (not paused) so the peer's FIN is still seen and the close
    // completes without waiting.
    const onPayload = (payload: Uint8Array): void => this.#payload(payload, handlers);
    stream.on('data', (chunk: Buffer) => {
      if (this.decoder.error !== undefined || this.#eof || this.#discard) return;
      try {
        this.decoder.feedPayloads(chunk, onPayload);
      } catch (err) {
        if (this.decoder.error !== undefined) handlers.onProtocolError(this.decoder.error);
        // Anything else came from the application's own listener: it is the
        // application's error, rethrown as EventEmitter users expect, never
        // blamed on the peer.
        else
          process.nextTick(() => {
            throw err;
          });
      }
      handlers.afterChunk?.();
    });
  }

  #payload(payload: Uint8Array, handlers: FramedConnectionHandlers): void {
    // Discarding (closing, or a refused peer): the rest of this chunk's frames are not decoded either.
    if (this.#eof || this.#discard) return;
    if (payload.length === 0) {
      this.#eof = true;
      if (handlers.onEndOfStream !== undefined) handlers.onEndOfStream();
      else if (!this.stream.writableEnded) this.stream.end();
      return;
    }
    let message: SocketMessage;
    try {
      // A bin stays a view into the read buffer only when it is large against it (codec's BIN_SHARE_RATIO): a kept
      // small bin never holds a whole read slab.
      message = decodePayload(payload);
    } catch (err) {
      const e = err as MessageError;
      this.invalidMessages++;
      handlers.onInvalidMessage?.(
        new MessageError(ErrorCode.INVALID_MESSAGE, `skipped an invalid message: ${e.message}`, {
          cause: e,
          details: e.details,
        }),
      );
      return;
    }
    this.framesReceived++;
    handlers.onMessage(message, payload.length, payload);
  }

  /**
   * Stops decoding what the peer sends (the bytes are still read and thrown
   * away, so its close is seen): a peer on its way out costs no CPU or memory.
   */
  discardInput(pause = false): void {
    this.#discard = true;
    // Pausing also stops reading: a peer that floods while we close it is
    // held by TCP back-pressure instead of costing us buffers (its close is
    // then noticed by our own timers, not by its FIN).
    if (pause) this.stream.pause();
  }

  /** True once the stream has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True once `end()` or `destroy()` was called or the stream closed. */
  get closing(): boolean {
    return this.#closed || this.#ending !== undefined || this.stream.destroyed;
  }

  /** Bytes written but not yet taken by the kernel (including this tick's batch and shared run). */
  get pendingBytes(): number {
    return this.stream.writableLength + this.#batchBytes + this.#runBytes();
  }

  /** True when the stream's buffer (plus this tick's batch and shared run) is above its high-water mark. */
  get needsDrain(): boolean {
    return this.stream.writableNeedDrain || this.#batchBytes + this.#runBytes() > this.stream.writableHighWaterMark;
  }

  #runBytes(): number {
    return this.#run === undefined ? 0 : this.#run.bytes - this.#runFromBytes;
  }

  /**
   * Takes the frames appended to `run` from now on (after what it wrote before, in order), until it writes
   * anything else or the run is written ({@link FramedConnection.writeRun}).
   * @returns true the first time it joins this run (the caller lists it, to call `writeRun`).
   */
  joinRun(run: FrameRun): boolean {
    if (this.#run === run) return false;
    this.leaveRun();
    this.#run = run;
    this.#runFrom = run.frames.length;
    this.#runFromBytes = run.bytes;
    if (this.#listedIn === run) return false;
    this.#listedIn = run;
    return true;
  }

  /** Stops taking the run: its share so far becomes frames of its own batch, before anything written next. */
  leaveRun(): void {
    const run = this.#run;
    if (run === undefined) return;
    this.#run = undefined;
    run.left++;
    const end = run.frames.length;
    const bytes = run.bytes - this.#runFromBytes;
    if (end === this.#runFrom) return;
    this.#onRunWritten?.(end - this.#runFrom, bytes);
    if (this.#batchBytes + bytes > COALESCE_MAX_BATCH) this.#flushBatch();
    for (let i = this.#runFrom; i < end; i++) this.#batch.push(run.frames[i] as Uint8Array);
    this.#batchBytes += bytes;
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#flushTick);
    }
  }

  /** The run is written: its own batch first (frames from before it joined), then its share of the run, one write. */
  writeRun(run: FrameRun): void {
    if (this.#listedIn === run) this.#listedIn = undefined;
    if (this.#run !== run) return;
    this.#run = undefined;
    const from = this.#runFromBytes;
    if (run.frames.length === this.#runFrom) return;
    this.#onRunWritten?.(run.frames.length - this.#runFrom, run.bytes - from);
    this.#flushBatch();
    const out = run.joined();
    if (!this.stream.destroyed && !this.stream.writableEnded) this.stream.write(from === 0 ? out : out.subarray(from));
  }

  /**
   * Queues one encoded frame. Small frames written in the same tick are
   * concatenated and handed to the stream as one buffer of at most
   * `COALESCE_MAX_BATCH` bytes (one syscall, no per-frame write overhead);
   * frames of `COALESCE_MAX_FRAME` bytes or more go out as they are, never
   * copied, after what was queued before them.
   * Returns false when the connection is closing and nothing was written.
   */
  write(frame: OutFrame): boolean {
    if (this.closing) return false;
    if (this.#run !== undefined) this.leaveRun();
    if (frame instanceof SplitFrame) {
      this.#flushBatch();
      const s = this.stream;
      // One writev of all parts: nothing is copied.
      s.cork();
      for (const part of frame.parts) s.write(part);
      s.uncork();
      return true;
    }
    if (frame.length >= COALESCE_MAX_FRAME) {
      this.#flushBatch();
      this.stream.write(frame);
      return true;
    }
    if (this.#batchBytes + frame.length > COALESCE_MAX_BATCH) this.#flushBatch();
    this.#batch.push(frame);
    this.#batchBytes += frame.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#flushTick);
    }
    return true;
  }

  readonly #flushTick = (): void => {
    this.#scheduled = false;
    this.#flushBatch();
  };

  #flushBatch(): void {
    const n = this.#batch.length;
    if (n === 0) return;
    const batch = this.#batch;
    const out =
      n === 1
        ? (batch[0] as Uint8Array)
        : this.#share !== undefined
          ? this.#share.concat(batch, this.#batchBytes)
          : Buffer.concat(batch, this.#batchBytes);
    this.#batch = [];
    this.#batchBytes = 0;
    if (!this.stream.destroyed && !this.stream.writableEnded) this.stream.write(out);
  }

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
    this.leaveRun();
    this.#flushBatch();
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
   * the stream is destroyed when no progress was made for `timeoutMs` (a
   * peer that stopped reading cannot hold us), and `graceMs` after
   * everything was flushed (a peer that never closes its side, like the
   * Python module, cannot hold us either).
   */
  end(timeoutMs: number, lastFrame?: Uint8Array, graceMs: number = timeoutMs): Promise<void> {
    if (this.#ending !== undefined) return this.#ending;
    if (this.#closed) return Promise.resolve();
    const s = this.stream;
    this.leaveRun();
    this.#flushBatch();
    if (lastFrame !== undefined && !s.writableEnded) s.write(lastFrame);
    let graceTimer: NodeJS.Timeout | undefined;
    const flushed = (): void => {
      graceTimer = startTimer(graceMs, () => s.destroy());
    };
    if (s.writableFinished) flushed();
    else s.once('finish', flushed);
    if (!s.writableEnded) s.end();
    let last = s.writableLength;
    // No progress for timeoutMs: the peer stopped reading (Infinity: wait as long as it takes).
    const timer = Number.isFinite(timeoutMs)
      ? setInterval(() => {
          const now = s.writableLength;
          if (now === 0 || now >= last) s.destroy();
          last = now;
        }, timeoutMs)
      : undefined;
    timer?.unref?.();
    this.#ending = this.#closedPromise.then(() => {
      clearInterval(timer);
      clearTimeout(graceTimer);
      s.off('finish', flushed);
    });
    return this.#ending;
  }

  /** Abrupt close. */
  destroy(error?: Error): Promise<void> {
    if (error !== undefined) this.#lastError ??= error;
    this.stream.destroy();
    return this.#closedPromise;
  }
}
