import { afterEach, describe, expect, it } from '@jest/globals';
import {
  BroadcastFilter,
  CommunicatorClosed,
  DuplicateSubscriberIdentifier,
  LimitExceeded,
  LocalBroker,
  LocalCommunicator,
  RemoteException,
  TaskRejected,
  UnknownSubscriber,
  UnroutableError,
} from '../src/index.js';

const open: LocalCommunicator[] = [];
const comm = (o: ConstructorParameters<typeof LocalCommunicator>[0] = {}): LocalCommunicator => {
  const c = new LocalCommunicator(o);
  open.push(c);
  return c;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe('LocalCommunicator: the kiwipy contract in-process', () => {
  it('tasks: result, RemoteException outcome, noReply resolves with the taskId', async () => {
    const c = comm();
    await c.addTaskSubscriber(async (body) => {
      if (body === 'boom') throw Object.assign(new Error('it broke'), { code: 'BROKE' });
      return (body as number) * 2;
    });
    expect(await c.taskSend(21)).toBe(42);
    const e = await c.taskSend('boom').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RemoteException);
    expect((e as RemoteException).remoteCode).toBe('BROKE');
    expect((e as RemoteException).remoteMessage).toBe('it broke');
    expect(typeof (await c.taskSend(1, { noReply: true }))).toBe('string');
  });

  it('ctx carries taskId, attempt 1, redelivered false and a live signal', async () => {
    const c = comm();
    await c.addTaskSubscriber((_b, ctx) => ({ id: ctx.taskId, attempt: ctx.attempt, redelivered: ctx.redelivered, aborted: ctx.signal.aborted }));
    const r = (await c.taskSend(null)) as Record<string, unknown>;
    expect(r).toMatchObject({ attempt: 1, redelivered: false, aborted: false });
    expect(typeof r.id).toBe('string');
  });

  it('TaskRejected hands the task to another subscriber', async () => {
    const broker = new LocalBroker({ rejectBackoffMs: 5 });
    const a = comm({ broker });
    const b = comm({ broker });
    await a.addTaskSubscriber(() => {
      throw new TaskRejected();
    });
    await b.addTaskSubscriber((_body, ctx) => `b:${ctx.attempt}`);
    const results = await Promise.all([a.taskSend(1), a.taskSend(2), a.taskSend(3)]);
    for (const r of results) expect(String(r).startsWith('b:')).toBe(true);
    broker.close();
  });

  it('prefetch bounds the tasks in flight to one subscriber', async () => {
    const c = comm();
    let running = 0;
    let most = 0;
    await c.addTaskSubscriber(
      async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
      },
      { prefetch: 3 },
    );
    await Promise.all(Array.from({ length: 30 }, (_, i) => c.taskSend(i)));
    expect(most).toBe(3);
  });

  it('RPC: answer, deferred answer, RemoteException, UnroutableError, duplicate identifier across communicators', async () => {
    const broker = new LocalBroker();
    const a = comm({ broker });
    const b = comm({ broker });
    await a.addRpcSubscriber((body) => ({ echo: body }), 'echo');
    await a.addRpcSubscriber(async (body) => {
      await new Promise((r) => setTimeout(r, 20));
      return (body as number) + 1;
    }, 'later');
    await a.addRpcSubscriber(() => {
      throw new Error('nope');
    }, 'fails');
    expect(await b.rpcSend('echo', 'hi')).toEqual({ echo: 'hi' });
    expect(await b.rpcSend('later', 1)).toBe(2);
    await expect(b.rpcSend('fails', 1)).rejects.toBeInstanceOf(RemoteException);
    await expect(b.rpcSend('nobody', 1)).rejects.toBeInstanceOf(UnroutableError);
    await expect(b.addRpcSubscriber(() => 1, 'echo')).rejects.toBeInstanceOf(DuplicateSubscriberIdentifier);
    await a.removeRpcSubscriber('echo');
    await expect(b.rpcSend('echo', 'hi')).rejects.toBeInstanceOf(UnroutableError);
    await expect(a.removeRpcSubscriber('echo')).rejects.toBeInstanceOf(UnknownSubscriber);
    broker.close();
  });

  it('broadcasts reach every communicator with a subscriber, filters apply, removal stops them', async () => {
    const broker = new LocalBroker();
    const a = comm({ broker });
    const b = comm({ broker });
    const all: unknown[] = [];
    const filtered: unknown[] = [];
    const idA = await a.addBroadcastSubscriber((body, info) => all.push([body, info.sender, info.subject, info.correlationId]));
    await b.addBroadcastSubscriber(new BroadcastFilter((body) => filtered.push(body), { subject: 'purchase.*', sender: '*.jones' }));
    for (const sender of ['bob.jones', 'bob.smith'])
      for (const subject of ['purchase.car', 'sell.car']) b.broadcastSend(`${sender}/${subject}`, { sender, subject, correlationId: 'c1' });
    await new Promise((r) => setTimeout(r, 50));
    expect(all).toHaveLength(4);
    expect(all[0]).toEqual(['bob.jones/purchase.car', 'bob.jones', 'purchase.car', 'c1']);
    expect(filtered).toEqual(['bob.jones/purchase.car']);
    await a.removeBroadcastSubscriber(idA);
    b.broadcastSend('again');
    await new Promise((r) => setTimeout(r, 30));
    expect(all).toHaveLength(4);
    broker.close();
  });

  it('bounds refuse with LimitExceeded: pending tasks, subscribers per connection', async () => {
    const c = comm({ maxPendingTasks: 2, maxSubscribersPerConnection: 2 });
    await c.taskSend(1, { noReply: true });
    await c.taskSend(2, { noReply: true });
    const e = await c.taskSend(3, { noReply: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LimitExceeded);
    expect((e as LimitExceeded).details.limit).toBe('maxPendingTasks');
    await c.addBroadcastSubscriber(() => undefined);
    await c.addRpcSubscriber(() => undefined);
    const s = await c.addBroadcastSubscriber(() => undefined).catch((x: unknown) => x);
    expect((s as LimitExceeded).details.limit).toBe('maxSubscribersPerConnection');
  });

  it('every call after close() throws CommunicatorClosed; close is idempotent', async () => {
    const c = comm();
    await c.close();
    expect(c.isClosed()).toBe(true);
    await c.close();
    await expect(c.taskSend(1)).rejects.toBeInstanceOf(CommunicatorClosed);
    await expect(c.rpcSend('x', 1)).rejects.toBeInstanceOf(CommunicatorClosed);
    expect(() => c.broadcastSend(1)).toThrow(CommunicatorClosed);
    await expect(c.addTaskSubscriber(() => 1)).rejects.toBeInstanceOf(CommunicatorClosed);
    await expect(c.addRpcSubscriber(() => 1)).rejects.toBeInstanceOf(CommunicatorClosed);
    await expect(c.addBroadcastSubscriber(() => 1)).rejects.toBeInstanceOf(CommunicatorClosed);
    await expect(c.removeTaskSubscriber('x')).rejects.toBeInstanceOf(CommunicatorClosed);
  });

  it('a pending taskSend rejects with CommunicatorClosed on close()', async () => {
    const c = comm();
    const p = c.taskSend(1);
    await c.close();
    await expect(p).rejects.toBeInstanceOf(CommunicatorClosed);
  });

  it('ackTimeoutMs: progress() keeps the lease of a long task; without it the task is taken back and redelivered', async () => {
    const c = comm({ ackTimeoutMs: 400 });
    const attempts: number[] = [];
    await c.addTaskSubscriber(async (body, ctx) => {
      attempts.push(ctx.attempt);
      for (let i = 0; i < 30; i++) {
        if (ctx.attempt >= (body as { progressFrom: number }).progressFrom) ctx.progress();
        await new Promise((r) => setTimeout(r, 20));
        if (ctx.signal.aborted) return 'aborted';
      }
      return ctx.attempt;
    });
    expect(await c.taskSend({ progressFrom: 1 })).toBe(1);
    expect(attempts).toEqual([1]);
    // No progress on attempt 1: its lease expires (signal aborted); attempt 2 reports progress and finishes.
    expect(await c.taskSend({ progressFrom: 2 })).toBe(2);
    expect(attempts).toEqual([1, 1, 2]);
    expect(c.staleDeliveries).toBe(1); // attempt 1's answer ('aborted') was refused
  });

  it('operations over the wire: brokerStats, listTasks, requeueTask, purgeDead; refused when adminOps is false', async () => {
    const c = comm({ maxDeliveries: 1 });
    await c.taskSend({ n: 1 }, { noReply: true });
    expect(await c.brokerStats()).toMatchObject({ pending: 1, inflight: 0, dead: 0 });
    const [task] = await c.listTasks({ state: 'pending' });
    expect(task).toMatchObject({ state: 'pending', attempt: 0 });
    expect(await c.requeueTask((task as { taskId: string }).taskId)).toBe(false); // pending: nothing to do
    expect(await c.purgeDead()).toBe(0);
    await expect(c.listTasks({ state: 'nope' as never })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    const closed = comm({ adminOps: false });
    await expect(closed.brokerStats()).rejects.toMatchObject({ code: 'ADMIN_DISABLED' });
  });
});
