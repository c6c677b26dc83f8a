import { afterEach, describe, expect, it } from '@jest/globals';
import { BrokerCore, type BrokerLimits, type BrokerMessage, MemoryStore } from '../src/index.js';

// The state machine alone, driven message by message (no sockets): dispatch order, bounds, TTL, operations.
const cores: BrokerCore[] = [];
afterEach(() => {
  for (const c of cores.splice(0)) c.close();
});

function harness(limits: BrokerLimits = {}) {
  const sent: { to: string; m: BrokerMessage }[] = [];
  const core = new BrokerCore({ send: (to, m) => sent.push({ to, m }) }, new MemoryStore(), limits);
  cores.push(core);
  let ref = 0;
  const send = (conn: string, m: Record<string, unknown>): BrokerMessage | undefined => {
    const r = ++ref;
    core.handle(conn, { ...m, ref: r });
    return sent.find((x) => x.to === conn && x.m.kind === 'reply' && x.m.ref === r)?.m;
  };
  const delivered = (conn: string) => sent.filter((x) => x.to === conn && x.m.kind === 'deliver').map((x) => x.m);
  return { core, sent, send, delivered };
}

describe('BrokerCore', () => {
  it('dispatches least-loaded first, at most prefetch per subscriber', () => {
    const h = harness();
    for (const w of ['w1', 'w2', 'w3']) {
      h.core.connected(w);
      expect(h.send(w, { kind: 'subscribe', type: 'task', identifier: 'x', prefetch: 2 })).toMatchObject({ ok: true });
    }
    h.core.connected('s');
    for (let i = 0; i < 3; i++) h.send('s', { kind: 'task', taskId: `t${i}`, body: i });
    // one each, not three to the first subscriber
    expect(h.delivered('w1')).toHaveLength(1);
    expect(h.delivered('w2')).toHaveLength(1);
    expect(h.delivered('w3')).toHaveLength(1);
    // w1 finishes: it is now the least loaded and gets the next task
    const d = h.delivered('w1')[0] as BrokerMessage;
    expect(h.send('w1', { kind: 'result', taskId: d.taskId, attempt: d.attempt, ok: true, result: 1 })).toMatchObject({
      ok: true,
    });
    h.send('s', { kind: 'task', taskId: 't3', body: 3 });
    expect(h.delivered('w1').map((m) => m.taskId)).toEqual(['t0', 't3']);
    for (let i = 4; i < 12; i++) h.send('s', { kind: 'task', taskId: `t${i}`, body: i });
    expect(h.core.stats().subscribers.map((s) => s.inflight)).toEqual([2, 2, 2]);
    expect(h.core.stats().pending).toBe(5);
  });

  it('among equally loaded subscribers the most recently used one gets the task (its process is warm)', () => {
    const h = harness();
    for (const w of ['w1', 'w2', 'w3']) {
      h.core.connected(w);
      h.send(w, { kind: 'subscribe', type: 'task', identifier: 'x', prefetch: 2 });
    }
    h.core.connected('s');
    // One task at a time: every subscriber is idle when the next one comes; the one that just worked gets it.
    for (let i = 0; i < 4; i++) {
      h.send('s', { kind: 'task', taskId: `t${i}`, body: i });
      const d = h.sent.at(-1)?.m as BrokerMessage;
      expect(d).toMatchObject({ kind: 'deliver', taskId: `t${i}` });
      h.core.handle(h.sent.at(-1)?.to as string, { kind: 'result', taskId: d.taskId, attempt: d.attempt, ok: true });
    }
    expect(h.delivered('w1')).toHaveLength(4);
    // Least-loaded still comes first: tasks in flight together spread.
    for (let i = 4; i < 7; i++) h.send('s', { kind: 'task', taskId: `t${i}`, body: i });
    expect(h.core.stats().subscribers.map((s) => s.inflight)).toEqual([1, 1, 1]);
  });

  it('a result from another connection or attempt is refused STALE_DELIVERY', () => {
    const h = harness();
    h.core.connected('w');
    h.core.connected('other');
    h.send('w', { kind: 'subscribe', type: 'task', identifier: 'x' });
    h.send('s', { kind: 'task', taskId: 't', body: 1 });
    expect(h.send('other', { kind: 'result', taskId: 't', attempt: 1, ok: true, result: 1 })).toMatchObject({
      ok: false,
      error: { code: 'STALE_DELIVERY' },
    });
    expect(h.send('w', { kind: 'result', taskId: 't', attempt: 2, ok: true, result: 1 })).toMatchObject({
      ok: false,
      error: { code: 'STALE_DELIVERY' },
    });
    expect(h.send('w', { kind: 'result', taskId: 't', attempt: 1, ok: true, result: 1 })).toMatchObject({ ok: true });
    expect(h.send('w', { kind: 'result', taskId: 't', attempt: 1, ok: true, result: 1 })).toMatchObject({
      ok: false,
      error: { code: 'STALE_DELIVERY' },
    });
    expect(h.core.stats().totals.staleRefused).toBe(3);
  });

  it('a result without ref gets no reply; a stale one is answered with a stale message (PROTOCOL.md)', () => {
    const h = harness();
    h.core.connected('w');
    h.send('w', { kind: 'subscribe', type: 'task', identifier: 'x' });
    h.send('s', { kind: 'task', taskId: 't', body: 1 });
    const before = h.sent.length;
    h.core.handle('w', { kind: 'result', taskId: 't', attempt: 1, ok: true, result: 2 });
    expect(h.sent.slice(before).map((x) => [x.to, x.m.kind])).toEqual([['s', 'outcome']]);
    expect(h.sent.at(-1)?.m).toMatchObject({ taskId: 't', ok: true, result: 2 });
    // the same result again (or any other stale one): no reply (no ref), a `stale` message instead
    h.core.handle('w', { kind: 'result', taskId: 't', attempt: 1, ok: true, result: 2 });
    expect(h.sent.at(-1)).toEqual({
      to: 'w',
      m: {
        kind: 'stale',
        taskId: 't',
        attempt: 1,
        error: expect.objectContaining({ code: 'STALE_DELIVERY' }),
      },
    });
    expect(h.sent.filter((x) => x.m.kind === 'outcome')).toHaveLength(1);
    expect(h.core.stats().totals).toMatchObject({ completed: 1, staleRefused: 1 });
  });

  it('bounds: pending count and bytes, prefetch, subscribers per connection, RPC identifiers across connections', () => {
    const h = harness({ maxPendingTasks: 2, maxPendingBytes: 100, maxPrefetch: 8, maxSubscribersPerConnection: 1 });
    const big = 'x'.repeat(200);
    expect(h.send('s', { kind: 'task', taskId: 'big', body: big })).toMatchObject({
      error: { code: 'LIMIT_EXCEEDED', details: { limit: 'maxPendingBytes' } },
    });
    h.send('s', { kind: 'task', taskId: 'a', body: 1 });
    h.send('s', { kind: 'task', taskId: 'b', body: 1 });
    expect(h.send('s', { kind: 'task', taskId: 'c', body: 1 })).toMatchObject({
      error: { code: 'LIMIT_EXCEEDED', details: { limit: 'maxPendingTasks' } },
    });
    expect(h.send('w', { kind: 'subscribe', type: 'task', identifier: 'x', prefetch: 9 })).toMatchObject({
      error: { details: { limit: 'maxPrefetch' } },
    });
    expect(h.send('w', { kind: 'subscribe', type: 'rpc', identifier: 'svc' })).toMatchObject({ ok: true });
    expect(h.send('w', { kind: 'subscribe', type: 'broadcast', identifier: 'b' })).toMatchObject({
      error: { code: 'LIMIT_EXCEEDED', details: { limit: 'maxSubscribersPerConnection' } },
    });
    expect(h.send('v', { kind: 'subscribe', type: 'rpc', identifier: 'svc' })).toMatchObject({
      error: { code: 'DUPLICATE_SUBSCRIBER_IDENTIFIER' },
    });
    h.core.disconnected('w');
    expect(h.send('v', { kind: 'subscribe', type: 'rpc', identifier: 'svc' })).toMatchObject({ ok: true });
  });

  it('an outcome is kept resultTtlMs for a submitter that comes back, then the broker says BROKER_UNAVAILABLE', async () => {
    const h = harness({ resultTtlMs: 100 });
    h.send('w', { kind: 'subscribe', type: 'task', identifier: 'x' });
    h.send('s', { kind: 'task', taskId: 't', body: 1 });
    h.core.disconnected('s');
    h.send('w', { kind: 'result', taskId: 't', attempt: 1, ok: true, result: 42 });
    expect(h.send('s2', { kind: 'attach', taskId: 't' })).toMatchObject({ ok: true });
    expect(h.sent.find((x) => x.to === 's2' && x.m.kind === 'outcome')?.m).toMatchObject({
      taskId: 't',
      ok: true,
      result: 42,
    });
    await new Promise((r) => setTimeout(r, 1200));
    expect(h.send('s3', { kind: 'attach', taskId: 't' })).toMatchObject({
      ok: false,
      error: { code: 'BROKER_UNAVAILABLE' },
    });
  });

  it('maxKeptResults drops the oldest outcome first', () => {
    const h = harness({ maxKeptResults: 2 });
    h.send('w', { kind: 'subscribe', type: 'task', identifier: 'x', prefetch: 10 });
    for (const id of ['a', 'b', 'c']) {
      h.send('s', { kind: 'task', taskId: id, body: 1 });
      h.send('w', { kind: 'result', taskId: id, attempt: 1, ok: true, result: id });
    }
    expect(h.core.stats().keptResults).toBe(2);
    expect(h.send('s', { kind: 'attach', taskId: 'a' })).toMatchObject({ error: { code: 'BROKER_UNAVAILABLE' } });
    expect(h.send('s', { kind: 'attach', taskId: 'c' })).toMatchObject({ ok: true });
  });

  it(
    'requeue: an in-flight task is taken back (cancel to its worker), a dead one goes back to pending; listTasks by ' +
      'state',
    () => {
      const h = harness({ maxDeliveries: 1 });
      h.send('w', { kind: 'subscribe', type: 'task', identifier: 'x', prefetch: 2 });
      h.send('s', { kind: 'task', taskId: 't', body: 1 });
      expect(h.core.listTasks({ state: 'inflight' }).map((t) => t.taskId)).toEqual(['t']);
      expect(h.core.requeue('t')).toBe(true);
      expect(h.sent.some((x) => x.to === 'w' && x.m.kind === 'cancel' && x.m.attempt === 1)).toBe(true);
      expect(h.delivered('w').map((m) => m.attempt)).toEqual([1, 2]);
      h.core.disconnected('w'); // maxDeliveries 1: dead
      expect(h.core.listTasks({ state: 'dead' }).map((t) => t.taskId)).toEqual(['t']);
      expect(h.sent.find((x) => x.to === 's' && x.m.kind === 'outcome')?.m).toMatchObject({
        ok: false,
        error: { code: 'DELIVERY_LIMIT_EXCEEDED' },
      });
      expect(h.core.requeue('t')).toBe(true);
      expect(h.core.stats()).toMatchObject({ pending: 1, dead: 0 });
      expect(h.core.requeue('nope')).toBe(false);
    },
  );

  it('a resent task (same taskId after a reconnect) is not queued twice', () => {
    const h = harness();
    h.send('s', { kind: 'task', taskId: 't', body: 1 });
    h.core.disconnected('s');
    expect(h.send('s2', { kind: 'task', taskId: 't', body: 1 })).toMatchObject({ ok: true });
    expect(h.core.stats()).toMatchObject({ pending: 1 });
    expect(h.core.stats().totals.submitted).toBe(1);
  });

  it('maxDeadLetters drops the oldest dead letter first', () => {
    const h = harness({ maxDeliveries: 1, maxDeadLetters: 2 });
    for (const id of ['a', 'b', 'c']) {
      h.send('w', { kind: 'subscribe', type: 'task', identifier: 'x' });
      h.send('s', { kind: 'task', taskId: id, body: 1 });
      h.core.disconnected('w');
    }
    expect(h.core.listTasks({ state: 'dead' }).map((t) => t.taskId)).toEqual(['b', 'c']);
  });
});
