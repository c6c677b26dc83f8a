import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { READ_SLAB_SIZE } from '@socketkit/core/net';
import { blobOf, changedBlobs, inSlab, largeAndTiny, sendBlobs } from '@socketkit/test-support';
import { UnixSocketClient, UnixSocketServer } from '../src/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function pair(
  clientOptions: { bufferSize?: number } = {},
): Promise<{ s: UnixSocketServer; c: UnixSocketClient }> {
  const socketDir = mkdtempSync(join(tmpdir(), 'sku-slab-'));
  cleanups.push(() => rmSync(socketDir, { recursive: true, force: true }));
  const s = new UnixSocketServer({ eventName: 'slabs', socketDir, logLevel: 'silent', envFile: false });
  cleanups.push(() => s.stop());
  await s.start();
  const c = new UnixSocketClient({
    eventName: 'slabs',
    socketDir,
    logLevel: 'silent',
    envFile: false,
    autoReconnect: false,
    ...clientOptions,
  });
  cleanups.push(() => c.disconnect());
  await c.connect({ waitForWelcome: true });
  return { s, c };
}

describe('unix client reads into slabs', () => {
  it('bins given to listeners and receive() keep their bytes after later reads; small bins hold no slab', async () => {
    const { s, c } = await pair();
    const N = 60;
    const seen = await sendBlobs(s, c, N, largeAndTiny);
    // Everything read since has not touched what the listener got, nor the buffered copies.
    expect(changedBlobs(seen, largeAndTiny)).toEqual([]);
    for (const b of seen) if (b.length < 1024) expect(b.buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
    // Large frames are decoded where they were read: in a slab, not in a copy.
    expect(inSlab(seen, 70_000, READ_SLAB_SIZE)).toBeGreaterThan(0);
    for (let seq = 0; seq < N; seq++) {
      const m = await c.receive({ timeout: 5000 });
      expect(m.data.seq).toBe(seq);
      expect(Buffer.compare(m.data.blob as Buffer, blobOf(seq, largeAndTiny(seq)))).toBe(0);
    }
  });

  it('a kept bin holds at most 64× its bytes, or 8 KiB, in either direction (not a whole read slab)', async () => {
    // The documented bound (codec's BIN_SHARE_RATIO): a received bin is never a view into more than 64× its bytes.
    const BIN_SHARE_RATIO = 64;
    const { s, c } = await pair();
    const sizes = [100, 1024, 3000, 4096, 5000, 10_000, 40_000, 70_000];
    const N = sizes.length * 6;
    const size = (seq: number): number => sizes[seq % sizes.length] as number;
    const kept: Buffer[] = [];
    const atClient = new Promise<void>((resolve) =>
      c.on('message', (m) => {
        kept.push(m.data.blob as Buffer);
        if (kept.length === N) resolve();
      }),
    );
    const toServer: Buffer[] = [];
    const atServer = new Promise<void>((resolve) =>
      s.on('message', (m) => {
        toServer.push(m.data.blob as Buffer);
        if (toServer.length === N) resolve();
      }),
    );
    // Several messages per read on both sides: the server's sends of one tick are one write.
    for (let seq = 0; seq < N; seq++) s.send({ seq, blob: blobOf(seq, size(seq)) });
    for (let seq = 0; seq < N; seq++) await c.send({ seq, blob: blobOf(seq, size(seq)) });
    await Promise.all([atClient, atServer]);
    for (const bins of [kept, toServer]) {
      let binBytes = 0;
      const held = new Set<ArrayBufferLike>();
      for (let seq = 0; seq < N; seq++) {
        const b = bins[seq] as Buffer;
        expect(Buffer.compare(b, blobOf(seq, size(seq)))).toBe(0);
        expect({ bin: b.length, held: b.buffer.byteLength }).toEqual({
          bin: b.length,
          held: Math.min(b.buffer.byteLength, Math.max(BIN_SHARE_RATIO * b.length, 8192)),
        });
        binBytes += b.length;
        held.add(b.buffer);
      }
      // What all the kept bins hold together, counted once per buffer.
      let heldBytes = 0;
      for (const ab of held) heldBytes += ab.byteLength;
      expect(heldBytes).toBeLessThanOrEqual(BIN_SHARE_RATIO * binBytes);
    }
  });

  it('a full receive buffer pauses and resumes the slab reads: large messages arrive intact, in order', async () => {
    const { s, c } = await pair({ bufferSize: 3 });
    const N = 40;
    for (let seq = 0; seq < N; seq++) s.send({ seq, blob: blobOf(seq, 90_000) });
    for (let seq = 0; seq < N; seq++) {
      const m = await c.receive({ timeout: 10_000 });
      expect(m.data.seq).toBe(seq);
      expect(Buffer.compare(m.data.blob as Buffer, blobOf(seq, 90_000))).toBe(0);
      // Let the paused socket fill up again before the next read.
      if (seq % 10 === 0) await new Promise((r) => setTimeout(r, 20));
    }
  });
});
