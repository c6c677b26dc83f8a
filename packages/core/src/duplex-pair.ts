import { Duplex } from 'node:stream';

/** One end of a {@link duplexPair}. */
class End extends Duplex {
  other!: End;
  #waiting: (() => void) | undefined;

  constructor(highWaterMark: number) {
    super({ allowHalfOpen: true, highWaterMark });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.other.destroyed) return cb();
    // A copy, as a socket's reader gets: the writer may write the same buffer to other streams
    // (a server's broadcast), and a reader that changes what it read must not change theirs.
    if (this.other.push(Buffer.from(chunk))) cb();
    else this.other.#waiting = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.other.destroyed) this.other.push(null);
    cb();
  }

  override _read(): void {
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const w = this.other.#waiting;
    this.other.#waiting = undefined;
    w?.();
    if (!this.other.destroyed) process.nextTick(() => this.other.destroy());
    cb(err);
  }
}

/**
 * Two connected in-memory streams that behave like the two ends of a
 * socket, for tests of transports and of code built on socketkit (Node 20
 * has no `stream.duplexPair`): what one end writes the other reads;
 * the reader gets a copy of what was written (its own bytes, as over a
 * socket); `end()` half-closes (the other end sees `'end'`), `destroy()` closes
 * both; an end that is not read fills up, so the writer's
 * `writableLength` grows and `write()` returns false, as with a peer that
 * stopped reading.
 * @param highWaterMark Buffer size of each end in bytes (default 16 KiB).
 */
export function duplexPair(highWaterMark = 16 * 1024): [Duplex, Duplex] {
  const a = new End(highWaterMark);
  const b = new End(highWaterMark);
  a.other = b;
  b.other = a;
  return [a, b];
}
