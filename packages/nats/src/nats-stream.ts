import { Duplex } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConnectionError, ErrorCode } from '@socketkit/protocol';

/** Most bytes of broadcasts a client stream holds while it waits for the server's first frame (8 MiB). */
export const MAX_HELD_BROADCAST_BYTES = 8 * 1024 * 1024;

/** An empty NATS message on a stream subject means "end of stream" (FIN). */
export const FIN = new Uint8Array(0);

/**
 * One socketkit connection tunnelled over NATS subjects: bytes written are
 * published to `outSubject` (each write, or a `writev` batch, becomes one NATS
 * message of whole frames, split to respect the server's max_payload); bytes
 * published by the peer to our inbound subject are pushed with `deliver()`.
 * `end()` publishes an empty message, which the peer reads as end of stream.
 */
export class NatsStream extends Duplex {
  readonly #nc: NatsConnection;
  readonly #out: string;
  readonly #maxPayload: number;
  readonly #onGone: () => void;
  #finSent = false;
  /** Client streams: broadcasts held until the server's first frame (undefined once it came, and on server streams). */
  #held: Buffer[] | undefined;
  #heldBytes = 0;

  constructor(nc: NatsConnection, outSubject: string, onGone: () => void, allowHalfOpen: boolean, holdBroadcasts = false) {
    super({ allowHalfOpen });
    this.#nc = nc;
    this.#out = outSubject;
    this.#maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    this.#onGone = onGone;
    if (holdBroadcasts) this.#held = [];
  }

  /** Feeds bytes published by the peer; an empty payload ends the readable side. */
  deliver(data: Uint8Array): void {
    if (this.destroyed || this.readableEnded) return;
    if (this.#held !== undefined) {
      // The peer's first frame (welcome, or a refusal) comes first; then what was held.
      const held = this.#held;
      this.#held = undefined;
      this.#pushBytes(data);
      for (const h of held) if (!this.destroyed && !this.readableEnded) this.#pushBytes(h);
      return;
    }
    this.#pushBytes(data);
  }

  /**
   * Feeds one broadcast (the event's shared subject). On a client stream,
   * broadcasts that arrive before the server's first frame on the stream's
   * own subject are held (NATS orders messages per subject, not across
   * subjects), so a client sees its welcome before any broadcast, as on unix
   * and tcp. Held bytes are bounded by {@link MAX_HELD_BROADCAST_BYTES}.
   */
  deliverBroadcast(data: Uint8Array): void {
    if (this.destroyed || this.readableEnded || data.length === 0) return;
    if (this.#held === undefined) {
      this.#pushBytes(data);
      return;
    }
    this.#heldBytes += data.length;
    if (this.#heldBytes > MAX_HELD_BROADCAST_BYTES) {
      this.destroy(
        new ConnectionError(
          ErrorCode.CONNECTION_LOST,
          `more than ${MAX_HELD_BROADCAST_BYTES} bytes of broadcasts arrived before the server's ` +
            `welcome on ${this.#out}: the server is not answering this stream`,
        ),
      );
      return;
    }
    this.#held.push(Buffer.from(data));
  }

  #pushBytes(data: Uint8Array): void {
    if (data.length === 0) this.push(null);
    else this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  override _read(): void {
    // push-based: NATS delivers whenever messages arrive
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#publish([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.#publish(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  #publish(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    try {
      let batch: Buffer[] = [];
      let size = 0;
      const flush = (): void => {
        if (batch.length === 0) return;
        this.#nc.publish(this.#out, batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, size));
        batch = [];
        size = 0;
      };
      for (const c of chunks) {
        if (size + c.length > this.#maxPayload) flush();
        batch.push(c);
        size += c.length;
      }
      flush();
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#sendFin();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#sendFin();
    this.#onGone();
    cb(err);
  }

  #sendFin(): void {
    if (this.#finSent) return;
    this.#finSent = true;
    try {
      if (!this.#nc.isClosed()) this.#nc.publish(this.#out, FIN);
    } catch {
      // connection already closing: the peer's heartbeat will notice
    }
  }
}
