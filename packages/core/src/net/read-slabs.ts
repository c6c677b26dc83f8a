import type { Duplex } from 'node:stream';

/** Bytes of one read slab (256 KiB: a read takes what the socket holds, up to the rest of the slab). */
export const READ_SLAB_SIZE = 256 * 1024;
/** A read is offered at least this many bytes (64 KiB, node's own read size); a slab with less left is replaced. */
export const READ_SLAB_MIN = 64 * 1024;

/**
 * Whether this runtime's `net` calls `onread`'s callback with the socket as `this`, as node does. Bun (1.x) calls it
 * without one, so a pushed chunk has nowhere to go: there the socket keeps its runtime's own reads.
 */
const SLAB_READS = process.versions.bun === undefined;

/** The `onread` option of `net.createConnection` / `new net.Socket` that {@link slabReadOption} gives. */
export interface SlabOnread {
  /** The memory the next read fills: the rest of the current slab. */
  buffer(): Uint8Array;
  /** One read of `n` bytes into `buf`: pushed to the socket's readable side as a view (never copied, never reused). */
  callback(this: Duplex, n: number, buf: Uint8Array): boolean;
}

/**
 * Reads of a client socket into slabs of {@link READ_SLAB_SIZE} bytes filled
 * front to back: each read lands right after the previous one in the same
 * slab, and a slab is never written twice (a new one replaces it once less
 * than {@link READ_SLAB_MIN} is left). The chunks reach the socket's
 * `'data'` listeners (and its buffer while paused) exactly as node's own
 * reads do, but a read takes everything the kernel holds (up to 256 KiB,
 * not 64 KiB), node allocates and copies nothing per read, and a frame that
 * spans two reads is two adjacent ranges of one slab, which the frame
 * decoder (`keepChunks`) joins without a copy. A slab lives as long as a
 * view into it: the decoder copies out every bin smaller than 1/8 of its
 * slab (32 KiB; codec's `BIN_SHARE_RATIO`), so a bin the application keeps
 * holds at most 8× its bytes (or 8 KiB), never a whole slab for a few bytes.
 * Pass it as `onread` to `net.createConnection` (plain sockets only: TLS
 * sockets do not take `onread`). Undefined where the runtime's `onread` differs
 * from node's (Bun): the socket then reads as it always did.
 */
function slabReads(): SlabOnread | undefined {
  if (!SLAB_READS) return undefined;
  let slab = Buffer.allocUnsafe(READ_SLAB_SIZE);
  let used = 0;
  return {
    buffer(): Uint8Array {
      if (slab.length - used < READ_SLAB_MIN) {
        slab = Buffer.allocUnsafe(READ_SLAB_SIZE);
        used = 0;
      }
      return slab.subarray(used);
    },
    callback(n: number, buf: Uint8Array): boolean {
      used += n;
      // push: straight to 'data' when flowing, held (and reading paused) otherwise, as node's own reads.
      return this.push(buf.subarray(0, n));
    },
  };
}

/**
 * `{ onread }` for `net.createConnection`, reading into slabs (`slabReads` above), or nothing where the runtime
 * reads its own way.
 */
export function slabReadOption(): { onread?: SlabOnread } {
  const onread = slabReads();
  return onread === undefined ? {} : { onread };
}
