import { describe, expect, it } from '@jest/globals';
import { transportCases, brokerCase, natsForThisFile } from './helpers.js';

natsForThisFile();

describe.each(transportCases())('over %s: leases, fencing, redelivery, dead letters', (title, transport) => {
  const bc = brokerCase(transport);
  const { start, client, worker } = bc;
  const t = title.includes('[skipped') ? it.skip : it;

  t(
    'fencing: a worker SIGSTOPped past its heartbeat loses the task to another; after SIGCONT its late result is ' +
      'refused STALE_DELIVERY; one outcome',
    async () => {
      await start();
      const a = await worker({ sleepMs: 1200 });
      const s = await client();
      const outcome = s.taskSend({ n: 'fenced' });
      await a.waitFor((e) => e.ev === 'start' && e.n === 'fenced');
      a.proc.kill('SIGSTOP');
      const b = await worker();
      const result = (await outcome) as { by: number; attempt: number };
      expect(result).toMatchObject({ by: b.proc.pid, attempt: 2 });
      expect(b.events.find((e) => e.ev === 'start' && e.n === 'fenced')).toMatchObject({
        attempt: 2,
        redelivered: true,
      });
      a.proc.kill('SIGCONT');
      await a.waitFor((e) => e.ev === 'stale', 15_000);
      expect(bc.broker.stats().totals).toMatchObject({ completed: 1, staleRefused: 1 });
      expect(bc.broker.stats().inflight).toBe(0);
    },
  );

  t('SIGKILL a worker mid-task: its tasks go to another worker with attempt 2, redelivered true', async () => {
    await start();
    const a = await worker({ hang: true, prefetch: 2 });
    const s = await client();
    const outcomes = [s.taskSend({ n: 'k1' }), s.taskSend({ n: 'k2' })];
    await a.waitFor((e) => e.ev === 'start' && e.n === 'k1');
    await a.waitFor((e) => e.ev === 'start' && e.n === 'k2');
    const b = await worker({ prefetch: 2 });
    a.kill('SIGKILL');
    const results = (await Promise.all(outcomes)) as { by: number; attempt: number }[];
    for (const r of results) expect(r).toEqual(expect.objectContaining({ by: b.proc.pid, attempt: 2 }));
    for (const n of ['k1', 'k2'])
      expect(b.events.find((e) => e.ev === 'start' && e.n === n)).toMatchObject({ attempt: 2, redelivered: true });
    expect(bc.broker.stats().totals.redelivered).toBe(2);
  });
});
