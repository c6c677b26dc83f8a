import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { UnixSocketClient, UnixSocketServer } from '../src/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('defaultTimeoutMs', () => {
  it('Infinity means no timeout: a request is never failed after 1 ms by an overflowed timer', async () => {
    const socketDir = mkdtempSync(join(tmpdir(), 'sku-timeout-'));
    cleanups.push(() => rmSync(socketDir, { recursive: true, force: true }));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const s = new UnixSocketServer({ eventName: 'slow', socketDir, logLevel: 'silent', envFile: false, env: {} });
    cleanups.push(() => s.stop());
    s.onRequest(async () => {
      await released;
      return { ok: true };
    });
    await s.start();
    const c = new UnixSocketClient({
      eventName: 'slow',
      socketDir,
      logLevel: 'silent',
      envFile: false,
      env: {},
      autoReconnect: false,
      defaultTimeoutMs: Number.POSITIVE_INFINITY,
    });
    cleanups.push(() => c.disconnect());
    await c.connect();
    const reply = c.request({ q: 1 });
    // Longer than the 1 ms after which Node fires a delay it cannot represent (not a timing assertion).
    await new Promise((r) => setTimeout(r, 25));
    release();
    expect((await reply).data).toEqual({ ok: true });
  });
});
