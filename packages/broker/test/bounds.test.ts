import { readdirSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { connect, LimitExceeded } from '../src/index.js';
import { fixture, transportCases, until, brokerCase, natsForThisFile } from './helpers.js';

natsForThisFile();

const fds = (): number => readdirSync('/proc/self/fd').length;
const CYCLES = 500; // scripts/soak.mjs runs 1,000

describe.each(transportCases())('over %s: bounds', (title, transport) => {
  const bc = brokerCase(transport);
  const { start, client } = bc;
  const t = title.includes('[skipped') ? it.skip : it;

  t('pending tasks and message size are bounded, each refusal a LimitExceeded naming its bound', async () => {
    await start({ maxPendingTasks: 3, maxMessageSize: 64 * 1024 });
    const c = await client();
    for (let i = 0; i < 3; i++) await c.taskSend({ i }, { noReply: true });
    const full = await c.taskSend({ i: 3 }, { noReply: true }).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(LimitExceeded);
    expect((full as LimitExceeded).details.limit).toBe('maxPendingTasks');
    const big = await c.taskSend('x'.repeat(100 * 1024)).catch((e: unknown) => e);
    expect(big).toBeInstanceOf(LimitExceeded);
    expect((big as LimitExceeded).details.limit).toBe('maxMessageSize');
    // The connection is still fine.
    expect(bc.broker.stats().pending).toBe(3);
  });

  t(`${CYCLES} connect/subscribe/disconnect cycles leak no file descriptors`, async () => {
    await start();
    const cycle = async (): Promise<void> => {
      const c = await connect(bc.ep.client);
      await c.addTaskSubscriber(() => 1, { prefetch: 2 });
      await c.addRpcSubscriber(() => 1);
      await c.addBroadcastSubscriber(() => undefined);
      await c.close();
    };
    for (let i = 0; i < 10; i++) await cycle(); // warm-up: lazily opened descriptors
    await until(() => bc.broker.stats().connections === 0, 5000, 'the warm-up connections to close');
    const before = fds();
    for (let i = 0; i < CYCLES; i++) await cycle();
    await until(() => bc.broker.stats().connections === 0, 5000, 'every connection to close');
    await until(() => fds() <= before + 2, 5000, `descriptors to return to ${before} (now ${fds()})`);
    expect(bc.broker.stats()).toMatchObject({ subscribers: [], rpcSubscribers: [], broadcastConnections: 0 });
  });

  t('a broadcast subscriber that stops reading never delays task dispatch', async () => {
    await start({ maxPendingBytes: 512 * 1024 });
    const reader = fixture({ role: 'worker', conn: bc.ep.client, broadcasts: true, identifier: 'stopped' });
    const w = fixture({ role: 'worker', conn: bc.ep.client, prefetch: 4 });
    await Promise.all([reader.waitFor((e) => e.ev === 'ready'), w.waitFor((e) => e.ev === 'ready')]);
    await until(() => bc.broker.stats().broadcastConnections === 1, 5000, 'the broadcast subscriber');
    reader.proc.kill('SIGSTOP');
    const c = await client();
    const chunk = 'b'.repeat(32 * 1024);
    const flood = setInterval(() => {
      for (let i = 0; i < 8; i++) c.broadcastSend(chunk);
    }, 5);
    try {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => c.taskSend({ n: i })));
      expect(results).toHaveLength(50);
    } finally {
      clearInterval(flood);
      reader.proc.kill('SIGCONT');
    }
  });
});
