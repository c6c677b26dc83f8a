import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packValue } from '@socketkit/codec';
import { afterEach, describe, expect, it } from '@jest/globals';
import { LmdbStore, type StoredTask } from '../src/index.js';

// The durable store's own costs and records, in process (durable.test.ts SIGKILLs a real broker): what a task
// costs in LMDB operations, the bounded cache of bodies not delivered yet, and every field surviving a reopen.

const dirs: string[] = [];
const stores: LmdbStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(path?: string, cacheBytes?: number): Promise<{ store: LmdbStore; path: string }> {
  const p = path ?? mkdtempSync(join(tmpdir(), 'skstore-unit-'));
  if (path === undefined) dirs.push(p);
  const store = await LmdbStore.open({ path: p, ...(cacheBytes === undefined ? {} : { cacheBytes }) });
  stores.push(store);
  return { store, path: p };
}

function task(seq: number, body: Uint8Array, over: Partial<StoredTask> = {}): StoredTask {
  return {
    id: `task-${seq}-é`,
    seq,
    bytes: body.length,
    state: 'pending',
    attempt: 0,
    failures: 0,
    noReply: false,
    createdAt: 1_700_000_000_000 + seq,
    ...over,
  };
}

describe('LmdbStore', () => {
  it('accepting a task is one LMDB write (record and body in one value), finishing it one more', async () => {
    const { store } = await open();
    const bodies = Array.from({ length: 50 }, (_, i) => ({ n: i, pad: 'x'.repeat(80) }));
    const tasks = bodies.map((b, i) => task(i + 1, packValue(b)));
    await Promise.all(tasks.map((t, i) => store.add(t, packValue(bodies[i]), bodies[i])));
    expect(store.stats.puts).toBe(50);
    expect(store.stats.removes).toBe(0);
    for (const t of tasks) {
      t.state = 'done';
      t.attempt = 1;
      t.doneAt = Date.now();
      t.outcome = { ok: true, result: t.seq };
      store.update(t);
    }
    for (const t of tasks.slice(0, 10)) store.delete(t);
    await store.close();
    expect(store.stats.puts).toBe(90); // the 10 forgotten ones are removed, never rewritten
    expect(store.stats.removes).toBe(10);
  });

  it('a body delivered soon after acceptance comes from the cache, bodies beyond cacheBytes from disk', async () => {
    const { store } = await open(undefined, 4096);
    const bodies = Array.from({ length: 20 }, (_, i) => ({ n: i, pad: 'y'.repeat(1000) })); // ~1 KiB each
    const tasks = bodies.map((b, i) => task(i + 1, packValue(b)));
    await Promise.all(tasks.map((t, i) => store.add(t, packValue(bodies[i]), bodies[i])));
    const cached = store.stats.cachedBodies;
    expect(cached).toBeGreaterThan(0);
    expect(cached).toBeLessThan(20);
    expect(store.stats.cachedBytes).toBeLessThanOrEqual(4096);
    for (let i = 0; i < tasks.length; i++) expect(store.body(tasks[i] as StoredTask)).toEqual(bodies[i]);
    expect(store.stats.bodyReads).toBe(20 - cached);
    expect(store.stats.cachedBodies).toBe(0);
    expect(store.stats.cachedBytes).toBe(0);
    // A redelivery reads the body from disk (the cache gave it away at the first delivery).
    expect(store.body(tasks[0] as StoredTask)).toEqual(bodies[0]);
    expect(store.stats.bodyReads).toBe(21 - cached);
  });

  it('cacheBytes 0 keeps no body in memory', async () => {
    const { store } = await open(undefined, 0);
    const body = { n: 1 };
    const t = task(1, packValue(body));
    await store.add(t, packValue(body), body);
    expect(store.stats.cachedBodies).toBe(0);
    expect(store.body(t)).toEqual(body);
    expect(store.stats.bodyReads).toBe(1);
  });

  it('a reopened store finds every field of every state, and the bodies of unfinished and dead tasks', async () => {
    const { store, path } = await open();
    const bodies = [{ a: 1 }, { b: 'two' }, { c: [3] }, { d: null }, { e: 5 }];
    const tasks = bodies.map((b, i) => task(i + 1, packValue(b)));
    (tasks[4] as StoredTask).noReply = true;
    await Promise.all(tasks.map((t, i) => store.add(t, packValue(bodies[i]), bodies[i])));
    const [pending, inflight, done, dead, gone] = tasks as [StoredTask, StoredTask, StoredTask, StoredTask, StoredTask];
    inflight.state = 'inflight';
    inflight.attempt = 3;
    inflight.failures = 2;
    inflight.lastError = 'worker lost: connection closed';
    store.update(inflight);
    done.state = 'done';
    done.attempt = 1;
    done.doneAt = 1_700_000_001_234;
    done.outcome = { ok: true, result: { x: [1, 'ü'] } };
    store.update(done);
    dead.state = 'dead';
    dead.attempt = 5;
    dead.failures = 5;
    dead.doneAt = 1_700_000_002_000;
    dead.outcome = { ok: false, error: { code: 'DELIVERY_LIMIT', message: 'too many' } };
    store.update(dead);
    store.delete(gone);
    await store.close();
    stores.splice(stores.indexOf(store), 1);

    const { store: again } = await open(path);
    const loaded = again.load();
    expect(loaded).toEqual([pending, inflight, done, dead]);
    expect(again.body(pending)).toEqual(bodies[0]);
    expect(again.body(inflight)).toEqual(bodies[1]);
    expect(again.body(dead)).toEqual(bodies[3]);
    expect(again.body(done)).toBeNull(); // a finished task's body is gone
  });
});
