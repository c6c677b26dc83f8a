import { describe, expect, it } from '@jest/globals';
import { DeliveryLimitExceeded } from '../src/index.js';
import { type Child, fixture, sleep, transportCases, brokerCase, natsForThisFile } from './helpers.js';

natsForThisFile();

describe.each(transportCases())('over %s: dead letters, rejections, ack timeout', (title, transport) => {
  const bc = brokerCase(transport);
  const { start, client, worker } = bc;
  const t = title.includes('[skipped') ? it.skip : it;

  // prefetch 1: a task in flight beside the poison on the same worker would lose its lease with it.
  t(
    'a poison task (kills its worker every time) is dead-lettered after maxDeliveries (5); its submitter gets ' +
      'DeliveryLimitExceeded; the others finish',
    async () => {
      await start();
      let restarts = 0;
      const workers: Child[] = [];
      let stopping = false;
      const supervise = (w: Child): void => {
        workers.push(w);
        void w.exited.then(() => {
          if (stopping || restarts >= 6) return;
          restarts++;
          supervise(fixture({ role: 'worker', conn: bc.ep.client, prefetch: 1 }));
        });
      };
      // Five workers up front: each delivery of the poison finds a live one at once (no wait for a restart).
      for (let i = 0; i < 5; i++) supervise(fixture({ role: 'worker', conn: bc.ep.client, prefetch: 1 }));
      const s = await client();
      const poison = s.taskSend({ n: 'poison', poison: true }).catch((e: unknown) => e);
      const others = Promise.all(Array.from({ length: 10 }, (_, i) => s.taskSend({ n: i })));
      const e = await poison;
      stopping = true;
      expect(e).toBeInstanceOf(DeliveryLimitExceeded);
      expect((e as DeliveryLimitExceeded).details).toMatchObject({ deliveries: 5 });
      expect(((await others) as unknown[]).length).toBe(10);
      const dead = bc.broker.listTasks({ state: 'dead' });
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ attempt: 5, failures: 5 });
      expect(bc.broker.purgeDead()).toBe(1);
      expect(bc.broker.stats().dead).toBe(0);
    },
  );

  t(
    'TaskRejected by every subscriber: requeued with backoff (no hot loop), done once a subscriber takes it',
    async () => {
      await start({ rejectBackoffMs: 50, rejectBackoffMaxMs: 400 });
      await worker({ rejectAll: true });
      await worker({ rejectAll: true });
      const s = await client();
      const outcome = s.taskSend({ n: 'hot' });
      await sleep(1000);
      // Backoff 50, 100, 200, 400, 400, ... ms: a handful of rejections, not thousands.
      const rejected = bc.broker.stats().totals.rejected;
      expect(rejected).toBeGreaterThanOrEqual(2);
      expect(rejected).toBeLessThan(20);
      const ok = await worker();
      expect(await outcome).toMatchObject({ by: ok.proc.pid });
    },
  );

  t('ackTimeoutMs (optional): a delivery with neither result nor progress is taken back and redelivered', async () => {
    await start({ ackTimeoutMs: 300 });
    const a = await worker({ hang: true });
    const b = await worker(); // idle: the redelivery goes to a subscriber that did not lose its lease
    const s = await client();
    const outcome = s.taskSend({ n: 'slow' });
    await a.waitFor((e) => e.ev === 'start' && e.n === 'slow');
    expect(await outcome).toMatchObject({ by: b.proc.pid, attempt: 2 });
  });
});
