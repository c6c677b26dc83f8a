import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeData } from '../src/harness/payload.js';
import { BATCH_BYTES, RawClient, RawServer } from '../src/contenders/raw.js';

describe('raw ceiling (frames batched into writes of up to 64 KiB)', () => {
  let dir: string;
  let server: RawServer;
  const clients: RawClient[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skb-test-'));
    server = new RawServer('bench_test', true);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['100-byte payloads', 100, 3000],
    ['64 KiB payloads', 64 * 1024, 40],
  ])('delivers every frame of a broadcast to every client, each decoded once (%s)', async (_name, bytes, count) => {
    const address = await server.start('unix', dir);
    for (let i = 0; i < 3; i++) clients.push(await RawClient.connect(address, true));
    while (server.clientCount() < 3) await new Promise((r) => setTimeout(r, 5));
    for (const c of clients) c.arm(count);
    const waits = clients.map((c) => c.waitCount());
    const sent = await server.broadcast(count, makeData(bytes), 64 * 1024);
    const got = await Promise.all(waits);
    expect(got.map((g) => g.count)).toEqual([count, count, count]);
    expect(sent.frameBytes).toBeGreaterThan(bytes);
    expect(BATCH_BYTES).toBe(64 * 1024);
  });

  it('answers a request through the batched writer', async () => {
    const address = await server.start('unix', dir);
    const c = await RawClient.connect(address, true);
    clients.push(c);
    const samples = await c.requests(5, 1, makeData(100));
    expect(samples).toHaveLength(5);
  });
});
