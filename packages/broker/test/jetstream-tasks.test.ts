// The broker acceptance behaviours for tasks, on the JetStream backend (one nats-server with -js, started here).
// Where JetStream differs (the lease is AckWait + in-progress acks), the test checks the behaviour docs/broker.md
// states.
import { describe, expect, it } from '@jest/globals';
import {
  BrokerUnavailable,
  CommunicatorClosed,
  connect,
  DeliveryLimitExceeded,
  jetStreamPurgeDead,
  jetStreamRequeue,
  jetStreamStats,
  jetStreamTasks,
  RemoteException,
  TaskRejected,
} from '../src/index.js';
import { freePort, sleep, until } from './helpers.js';
import { jetStreamForThisFile, jsFixture, namespace, natsBinary } from './jetstream-helpers.js';

const d = natsBinary === undefined ? describe.skip : describe;
const server = jetStreamForThisFile();
const comm = server.comm;

d(`JetStream backend: tasks${natsBinary === undefined ? ' [skipped: no nats-server binary]' : ''}`, () => {
  it('a returned value is the outcome, a throw is a RemoteException, noReply resolves with the taskId once stored', async () => {
    const ns = namespace();
    const worker = await comm(ns);
    const client = await comm(ns);
    await worker.addTaskSubscriber(
      (body, ctx) => {
        const { n } = body as { n: number };
        if (n < 0) throw Object.assign(new Error('negative'), { code: 'NEGATIVE' });
        return { doubled: n * 2, attempt: ctx.attempt, redelivered: ctx.redelivered };
      },
      { prefetch: 4 },
    );
    await expect(client.taskSend({ n: 21 })).resolves.toEqual({ doubled: 42, attempt: 1, redelivered: false });
    const err = await client.taskSend({ n: -1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteException);
    expect((err as RemoteException).remoteCode).toBe('NEGATIVE');
    await worker.removeTaskSubscriber((await worker.addTaskSubscriber(() => 1)) as string);
    // noReply: resolves on the publish ack, i.e. once the stream stored it (no worker needed).
    const ns2 = namespace();
    const lone = await comm(ns2);
    const taskId = await lone.taskSend({ n: 1 }, { noReply: true });
    expect(typeof taskId).toBe('string');
    const stats = await jetStreamStats({ servers: server.url(), name: ns2 });
    expect(stats).toMatchObject({ stored: 1, pending: 1, inFlight: 0 });
    expect(await jetStreamTasks({ servers: server.url(), name: ns2 })).toMatchObject([
      { taskId, state: 'pending', seq: 1, body: { n: 1 } },
    ]);
    // The Communicator's operations (what the CLI calls) work on this backend too.
    expect(await lone.brokerStats()).toMatchObject({ pending: 1, inflight: 0, dead: 0, jetstream: { stored: 1 } });
    expect(await lone.listTasks({ state: 'pending' })).toMatchObject([{ taskId, state: 'pending', attempt: 0 }]);
    expect(await lone.requeueTask(taskId as string)).toBe(false); // only dead tasks can be requeued
    expect(await lone.purgeDead()).toBe(0);
  });

  it('TaskRejected hands the task to another subscriber (nak with backoff)', async () => {
    const ns = namespace();
    const picky = await comm(ns);
    const willing = await comm(ns);
    const client = await comm(ns);
    let rejected = 0;
    await picky.addTaskSubscriber(() => {
      rejected++;
      throw new TaskRejected();
    });
    const outcome = client.taskSend('t');
    await until(() => rejected >= 2, 10_000, 'two rejections');
    await willing.addTaskSubscriber((_b, ctx) => ({ by: 'willing', attempt: ctx.attempt }));
    const o = (await outcome) as { by: string; attempt: number };
    expect(o.by).toBe('willing');
    expect(o.attempt).toBeGreaterThan(2); // JetStream counts a nak as a delivery (docs/broker.md)
  });

  it('never more than prefetch in flight to one subscriber', async () => {
    const ns = namespace();
    const worker = await comm(ns);
    const client = await comm(ns);
    let running = 0;
    let most = 0;
    await worker.addTaskSubscriber(
      async () => {
        running++;
        most = Math.max(most, running);
        await sleep(20);
        running--;
        return null;
      },
      { prefetch: 3 },
    );
    await Promise.all(Array.from({ length: 30 }, (_, i) => client.taskSend(i)));
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThan(1);
  });

  it('the lease is AckWait kept alive by in-progress acks: a task running 5x AckWait is never redelivered', async () => {
    const ns = namespace();
    const worker = await comm(ns, { ackWaitMs: 500 });
    const other = await comm(ns, { ackWaitMs: 500 });
    const client = await comm(ns, { ackWaitMs: 500 });
    const starts: number[] = [];
    await worker.addTaskSubscriber(async (_b, ctx) => {
      starts.push(ctx.attempt);
      await sleep(2500);
      return 'slow';
    });
    await other.addTaskSubscriber((_b, ctx) => {
      starts.push(ctx.attempt);
      return 'other';
    });
    // The first task goes to whichever pulls first; keep both busy-looking by sending one task only.
    await expect(client.taskSend({ n: 1 })).resolves.toBeDefined();
    expect(starts).toEqual([1]);
  });

  it('SIGKILL a worker mid-task: the task goes to another worker after AckWait, attempt 2, redelivered', async () => {
    const ns = namespace();
    const conn = { servers: server.url(), name: ns, storage: 'memory', ackWaitMs: 800 };
    const victim = jsFixture({ role: 'worker', conn, sleepMs: 60_000 });
    await victim.waitFor((e) => e.ev === 'ready');
    const client = await comm(ns, { ackWaitMs: 800 });
    const outcome = client.taskSend({ n: 'x' });
    await victim.waitFor((e) => e.ev === 'start');
    victim.kill('SIGKILL');
    const rescuer = jsFixture({ role: 'worker', conn });
    await expect(outcome).resolves.toMatchObject({ n: 'x', attempt: 2 });
    const start = await rescuer.waitFor((e) => e.ev === 'start');
    expect(start).toMatchObject({ attempt: 2, redelivered: true });
  });

  it('a frozen worker past AckWait: the task finishes elsewhere, the late result is refused as stale, one outcome', async () => {
    const ns = namespace();
    const conn = { servers: server.url(), name: ns, storage: 'memory', ackWaitMs: 600 };
    const frozen = jsFixture({ role: 'worker', conn, sleepMs: 1500 });
    await frozen.waitFor((e) => e.ev === 'ready');
    const client = await comm(ns, { ackWaitMs: 600 });
    const outcome = client.taskSend({ n: 'f' });
    await frozen.waitFor((e) => e.ev === 'start');
    frozen.proc.kill('SIGSTOP');
    const other = jsFixture({ role: 'worker', conn, sleepMs: 1500 });
    await expect(outcome).resolves.toMatchObject({ attempt: 2, by: other.proc.pid });
    frozen.proc.kill('SIGCONT');
    await frozen.waitFor((e) => e.ev === 'stale');
    expect(client.duplicateOutcomes).toBe(1);
  });

  it(
    'poison task: dead-lettered after maxDeliveries, DeliveryLimitExceeded for its submitter, the others finish; ' +
      'requeue and purge',
    async () => {
      const ns = namespace();
      const url = server.url();
      const conn = { servers: url, name: ns, storage: 'memory', ackWaitMs: 500, maxDeliveries: 2 };
      const spawn = () => jsFixture({ role: 'worker', conn });
      const workers = [spawn(), spawn()];
      await Promise.all(workers.map((w) => w.waitFor((e) => e.ev === 'ready')));
      const client = await comm(ns, { ackWaitMs: 500, maxDeliveries: 2 });
      const poison = client.taskSend({ n: 'p', poison: true }).catch((e: unknown) => e);
      // Keep two workers alive: replace each one the poison kills.
      const keeper = setInterval(() => {
        for (let i = 0; i < workers.length; i++)
          if (!(workers[i] as { alive(): boolean }).alive()) workers[i] = spawn();
      }, 50);
      try {
        const good = await Promise.all(Array.from({ length: 5 }, (_, i) => client.taskSend({ n: i })));
        expect(good.map((g) => (g as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
        const err = await poison;
        expect(err).toBeInstanceOf(DeliveryLimitExceeded);
      } finally {
        clearInterval(keeper);
      }
      const dead = await jetStreamTasks({ servers: url, name: ns, state: 'dead' });
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ reason: 'max-deliveries', deliveries: 2, body: { n: 'p', poison: true } });
      expect((await jetStreamStats({ servers: url, name: ns })).dead).toBe(1);
      const taskId = (dead[0] as { taskId: string }).taskId;
      await jetStreamRequeue({ servers: url, name: ns, taskId });
      expect((await jetStreamStats({ servers: url, name: ns })).dead).toBe(0);
      // Requeued with a fresh delivery count, it kills its workers again and comes back to the dead-letter stream.
      const keeper2 = setInterval(() => {
        for (let i = 0; i < workers.length; i++)
          if (!(workers[i] as { alive(): boolean }).alive()) workers[i] = spawn();
      }, 50);
      try {
        let again = 0;
        for (let i = 0; i < 150 && again === 0; i++) {
          await sleep(100);
          again = (await jetStreamStats({ servers: url, name: ns })).dead;
        }
        expect(again).toBe(1);
      } finally {
        clearInterval(keeper2);
      }
      expect(await jetStreamPurgeDead({ servers: url, name: ns })).toBe(1);
      expect(await jetStreamTasks({ servers: url, name: ns, state: 'dead' })).toEqual([]);
      for (const w of workers) w.kill();
    },
  );

  it('no server to reach: connect rejects with BrokerUnavailable', async () => {
    const port = await freePort();
    await expect(connect({ transport: 'jetstream', servers: `nats://127.0.0.1:${port}` })).rejects.toBeInstanceOf(
      BrokerUnavailable,
    );
  });

  it('close: every call after close throws CommunicatorClosed', async () => {
    const c = await comm(namespace());
    await c.close();
    expect(c.isClosed()).toBe(true);
    await expect(c.taskSend(1)).rejects.toBeInstanceOf(CommunicatorClosed);
    await expect(c.addTaskSubscriber(() => 1)).rejects.toBeInstanceOf(CommunicatorClosed);
    await expect(c.rpcSend('x', 1)).rejects.toBeInstanceOf(CommunicatorClosed);
    expect(() => c.broadcastSend(1)).toThrow(CommunicatorClosed);
  });
});
