/**
 * What the read-slab tests of the unix and TCP transports share: bins whose bytes name their message, sent from a
 * server to a client and kept by the client's listener, then checked after all later reads.
 */

/** A bin whose bytes name its message: `seq` and the position of each byte. */
export function blobOf(seq: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + seq * 31) & 0xff;
  return b;
}

/** Large (70,000 bytes, decoded in a read slab) for even `seq`, tiny (100 bytes) for odd ones. */
export function largeAndTiny(seq: number): number {
  return seq % 2 === 0 ? 70_000 : 100;
}

/** The server side the slab tests use (structural, so that any transport's server fits). */
export interface BlobSender {
  /** Sends a message to the connected clients. */
  send(data: { seq: number; blob: Buffer }): unknown;
  /** Resolves when what was sent so far is written. */
  drain(): Promise<unknown>;
}

/** The client side the slab tests use (structural, so that any transport's client fits). */
export interface BlobReceiver {
  /** Registers a listener for received messages. */
  on(event: 'message', listener: (m: { data: { blob?: unknown } }) => void): unknown;
}

/**
 * Sends `n` messages `{ seq, blob: blobOf(seq, size(seq)) }` from `s` (draining after every eighth) and resolves with
 * the bins `c`'s listener kept, in the order they arrived.
 */
export async function sendBlobs(
  s: BlobSender,
  c: BlobReceiver,
  n: number,
  size: (seq: number) => number,
): Promise<Buffer[]> {
  const seen: Buffer[] = [];
  const all = new Promise<void>((resolve) =>
    c.on('message', (m) => {
      seen.push(m.data.blob as Buffer);
      if (seen.length === n) resolve();
    }),
  );
  for (let seq = 0; seq < n; seq++) {
    s.send({ seq, blob: blobOf(seq, size(seq)) });
    if (seq % 8 === 7) await s.drain();
  }
  await all;
  return seen;
}

/** The `seq` of each bin in `seen` whose bytes are not `blobOf(seq, size(seq))` (empty when all are intact). */
export function changedBlobs(seen: readonly Buffer[], size: (seq: number) => number): number[] {
  const changed: number[] = [];
  for (let seq = 0; seq < seen.length; seq++) {
    const b = seen[seq];
    if (b === undefined || Buffer.compare(b, blobOf(seq, size(seq))) !== 0) changed.push(seq);
  }
  return changed;
}

/** How many bins in `seen` of `length` bytes are views into a whole read slab of `slabSize` bytes. */
export function inSlab(seen: readonly Buffer[], length: number, slabSize: number): number {
  return seen.filter((b) => b.length === length && b.buffer.byteLength === slabSize).length;
}
