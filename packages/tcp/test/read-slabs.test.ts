import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { READ_SLAB_SIZE } from '@socketkit/core/net';
import { TcpSocketClient, TcpSocketServer } from '../src/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** A bin whose bytes name its message: `seq` and the position of each byte. */
function blobOf(seq: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + seq * 31) & 0xff;
  return b;
}

describe('tcp client reads into slabs', () => {
  it('large and tiny bins kept by a listener stay intact after later reads; large ones decoded in a slab', async () => {
    const socketDir = mkdtempSync(join(tmpdir(), 'sktcp-slab-'));
    cleanups.push(() => rmSync(socketDir, { recursive: true, force: true }));
    const s = new TcpSocketServer({ eventName: 'slabs', logLevel: 'silent', envFile: false, socketDir, port: 0 });
    cleanups.push(() => s.stop());
    await s.start();
    const c = new TcpSocketClient({
      eventName: 'slabs',
      port: s.port as number,
      logLevel: 'silent',
      envFile: false,
      autoReconnect: false,
    });
    cleanups.push(() => c.disconnect());
    await c.connect({ waitForWelcome: true });
    const N = 40;
    const size = (seq: number): number => (seq % 2 === 0 ? 70_000 : 100);
    const seen: Buffer[] = [];
    const all = new Promise<void>((resolve) =>
      c.on('message', (m) => {
        seen.push(m.data.blob as Buffer);
        if (seen.length === N) resolve();
      }),
    );
    for (let seq = 0; seq < N; seq++) {
      s.send({ seq, blob: blobOf(seq, size(seq)) });
      if (seq % 8 === 7) await s.drain();
    }
    await all;
    for (let seq = 0; seq < N; seq++) expect(Buffer.compare(seen[seq] as Buffer, blobOf(seq, size(seq)))).toBe(0);
    expect(seen.filter((b) => b.length === 70_000 && b.buffer.byteLength === READ_SLAB_SIZE).length).toBeGreaterThan(0);
  });
});
