import { readdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { type Broker, type Communicator, connect, LimitExceeded, startBroker } from '../src/index.js';
import { type Endpoint, endpoint, fixture, killAll, natsBinary, startNats, transportCases, until, useNats } from './helpers.js';

let nats: { url: string; stop(): Promise<void> } | undefined;
beforeAll(async () => {
  if (natsBinary !== undefined) nats = await startNats();
  useNats(nats?.url);
});
afterAll(async () => {
  await nats?.stop();
});

const fds = (): number => readdirSync('/proc/self/fd').length;
const CYCLES = 500; // scripts/soak.mjs runs 1,000

describe.each(transportCases())('over %s: bounds', (title, transport) => {
  let ep: Endpoint;
  let broker: Broker;
  const comms: Communicator[] = [];
  const skip = title.includes('[skipped');
  const start = async (limits: Record<string, unknown> = {}): Promise<void> => {
    ep = endpoint(transport);
    broker = await startBroker({ ...ep.server, ...limits });
    ep.started(broker.port);
  };
  afterEach(async () => {
    await Promise.all(comms.splice(0).map((c) => c.close()));
    await killAll();
    await broker?.stop();
    ep?.cleanup();
  });
  const client = async (): Promise<Communicator> => {
    const c = await connect(ep.client);
    comms.push(c);
    return c;
  };
  const t = skip ? it.skip : it;

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
    expect(broker.stats().pending).toBe(3);
  });

  t(`${CYCLES} connect/subscribe/disconnect cycles leak no file descriptors`, async () => {
    await start();
    const cycle = async (): Promise<void> => {
      const c = await connect(ep.client);
      await c.addTaskSubscriber(() => 1, { prefetch: 2 });
      await c.addRpcSubscriber(() => 1);
      await c.addBroadcastSubscriber(() => undefined);
      await c.close();
    };
    for (let i = 0; i < 10; i++) await cycle(); // warm-up: lazily opened descriptors
    await until(() => broker.stats().connections === 0, 5000, 'the warm-up connections to close');
    const before = fds();
    for (let i = 0; i < CYCLES; i++) await cycle();
    await until(() => broker.stats().connections === 0, 5000, 'every connection to close');
    await until(() => fds() <= before + 2, 5000, `descriptors to return to ${before} (now ${fds()})`);
    expect(broker.stats()).toMatchObject({ subscribers: [], rpcSubscribers: [], broadcastConnections: 0 });
  });

  t('a broadcast subscriber that stops reading never delays task dispatch', async () => {
    await start({ maxPendingBytes: 512 * 1024 });
    const reader = fixture({ role: 'worker', conn: ep.client, broadcasts: true, identifier: 'stopped' });
    const w = fixture({ role: 'worker', conn: ep.client, prefetch: 4 });
    await Promise.all([reader.waitFor((e) => e.ev === 'ready'), w.waitFor((e) => e.ev === 'ready')]);
    await until(() => broker.stats().broadcastConnections === 1, 5000, 'the broadcast subscriber');
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
