import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { READ_SLAB_SIZE } from '@socketkit/core/net';
import { changedBlobs, inSlab, largeAndTiny, sendBlobs } from '@socketkit/test-support';
import { TcpSocketClient, TcpSocketServer } from '../src/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

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
    const seen = await sendBlobs(s, c, 40, largeAndTiny);
    expect(changedBlobs(seen, largeAndTiny)).toEqual([]);
    expect(inSlab(seen, 70_000, READ_SLAB_SIZE)).toBeGreaterThan(0);
  });
});
