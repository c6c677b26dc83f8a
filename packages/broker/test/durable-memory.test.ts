import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { type Communicator, connect } from '../src/index.js';
import { type Child, type Endpoint, type Event, endpoint, fixture, killAll, until } from './helpers.js';

// Issue 25 "must hold" 7: memory stays bounded with many pending tasks in durable mode. A bounded sample (10,000
// tasks of 4 KiB: 40 MiB of bodies); scripts/durable-memory.mjs runs 100,000 tasks of 1 KiB. Bodies live in LMDB:
// what the broker keeps in memory per pending task is a small index entry, whatever the body's size. The store's
// memory is transport-independent, so one transport (unix) is enough here.
const TASKS = 10_000;
const BODY_BYTES = 4096;
/** Heap (after a GC) a pending task may cost the broker: a quarter of its body. */
const HEAP_PER_TASK = 1024;
/** Anonymous RSS a pending task may cost a restarted broker (allocator slack included): half of its body. */
const RSS_PER_TASK = 2048;

type Memory = Event & { heapUsed: number; rssAnon: number; stats: { pending: number } };

/** The broker's memory after a GC (test/fixture.mjs answers SIGUSR2 with a `memory` event). */
async function memory(broker: Child): Promise<Memory> {
  const before = broker.events.filter((e) => e.ev === 'memory').length;
  broker.kill('SIGUSR2');
  await until(() => broker.events.filter((e) => e.ev === 'memory').length > before, 15_000, 'memory event');
  return broker.events.filter((e) => e.ev === 'memory').at(-1) as Memory;
}

describe('durable mode: memory with many pending tasks', () => {
  let ep: Endpoint;
  let storeDir: string;
  const comms: Communicator[] = [];
  afterEach(async () => {
    await Promise.all(comms.splice(0).map((c) => c.close()));
    await killAll();
    ep?.cleanup();
    if (storeDir !== undefined) rmSync(storeDir, { recursive: true, force: true });
  });

  it(`${TASKS} pending tasks of ${BODY_BYTES} B cost the broker at most ${HEAP_PER_TASK} B of heap and ` +
    `${RSS_PER_TASK} B of RSS each after a restart; then every one of them completes`, async () => {
    ep = endpoint('unix');
    storeDir = mkdtempSync(join(tmpdir(), 'skstore-mem-'));
    const options = { ...ep.server, store: { path: storeDir } };
    let broker = fixture({ role: 'broker', options });
    await broker.waitFor((e) => e.ev === 'ready');
    const empty = await memory(broker);
    const c = await connect({ ...ep.client, reconnect: { maxRetries: Number.POSITIVE_INFINITY, maxDelay: 300 } });
    comms.push(c);
    const pad = 'x'.repeat(BODY_BYTES);
    for (let i = 0; i < TASKS; i += 1000)
      await Promise.all(Array.from({ length: 1000 }, (_, j) => c.taskSend({ n: i + j, pad }, { noReply: true })));
    // Heap after a GC: what the broker keeps. Anonymous RSS only after the restart: while filling, 40 MiB of frames
    // passed through the process and the allocator keeps some of it (scripts/durable-memory.mjs reports it).
    const perTask = (m: Memory, base: Memory, key: 'heapUsed' | 'rssAnon'): number =>
      Math.round((m[key] - base[key]) / TASKS);
    const filled = await memory(broker);
    expect(filled.stats.pending).toBe(TASKS);
    expect(perTask(filled, empty, 'heapUsed')).toBeLessThanOrEqual(HEAP_PER_TASK);
    broker.kill('SIGKILL');
    await broker.exited;
    broker = fixture({ role: 'broker', options });
    await broker.waitFor((e) => e.ev === 'ready');
    const restarted = await memory(broker);
    expect(restarted.stats.pending).toBe(TASKS);
    expect(perTask(restarted, empty, 'heapUsed')).toBeLessThanOrEqual(HEAP_PER_TASK);
    expect(perTask(restarted, empty, 'rssAnon')).toBeLessThanOrEqual(RSS_PER_TASK);
    const seen = new Set<number>();
    await c.addTaskSubscriber((body) => void seen.add((body as { n: number }).n), { prefetch: 256 });
    await until(() => seen.size === TASKS, 60_000, `${TASKS} tasks done after the restart`);
  }, 120_000);
});
