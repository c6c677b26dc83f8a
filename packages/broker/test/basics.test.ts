import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type Broker,
  type Communicator,
  connect,
  RecipientLost,
  RemoteException,
  RpcTimeout,
  startBroker,
  UnroutableError,
} from '../src/index.js';
import { type Endpoint, endpoint, fixture, killAll, transportCases, until, natsForThisFile } from './helpers.js';

natsForThisFile();

describe.each(transportCases())('over %s: tasks, RPC and broadcasts between processes', (title, transport) => {
  let ep: Endpoint;
  let broker: Broker;
  const comms: Communicator[] = [];
  const skip = title.includes('[skipped');

  beforeAll(async () => {
    if (skip) return;
    ep = endpoint(transport);
    // adminOps: tcp and nats here have no token, where startBroker refuses admin messages by default.
    broker = await startBroker({ ...ep.server, adminOps: true });
    ep.started(broker.port);
  });
  afterEach(async () => {
    await Promise.all(comms.splice(0).map((c) => c.close()));
    await killAll();
  });
  afterAll(async () => {
    if (skip) return;
    await broker.stop();
    ep.cleanup();
  });
  const client = async (): Promise<Communicator> => {
    const c = await connect(ep.client);
    comms.push(c);
    return c;
  };
  const t = skip ? it.skip : it;

  t('tasks go to worker processes and each outcome comes back once; a throw is a RemoteException', async () => {
    const w1 = fixture({ role: 'worker', conn: ep.client, prefetch: 2 });
    const w2 = fixture({ role: 'worker', conn: ep.client, prefetch: 2 });
    await Promise.all([w1.waitFor((e) => e.ev === 'ready'), w2.waitFor((e) => e.ev === 'ready')]);
    const s = await client();
    const results = (await Promise.all(Array.from({ length: 40 }, (_, i) => s.taskSend({ n: i })))) as {
      n: number;
      by: number;
    }[];
    expect(results.map((r) => r.n)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const by = new Set(results.map((r) => r.by));
    expect(by).toEqual(new Set([w1.proc.pid, w2.proc.pid]));
    const e = await s.taskSend({ n: 'x', fail: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RemoteException);
    expect((e as RemoteException).remoteCode).toBe('TASK_FAILED');
    expect(broker.stats().totals.redelivered).toBe(0);
    expect(await s.brokerStats()).toMatchObject({ pending: 0, inflight: 0, totals: { completed: 40, failed: 1 } });
  });

  t(
    'RPC: UnroutableError at once, deferred replies, the caller owns the timeout, RecipientLost when the recipient ' +
      'is SIGKILLed',
    async () => {
      const w = fixture({ role: 'worker', conn: ep.client, rpc: 'svc' });
      await w.waitFor((e) => e.ev === 'ready');
      const c = await client();
      await expect(c.rpcSend('nobody', 1)).rejects.toBeInstanceOf(UnroutableError);
      expect(await c.rpcSend('svc', { sleepMs: 100 })).toEqual({ echo: { sleepMs: 100 }, by: w.proc.pid });
      await expect(c.rpcSend('svc', { hang: true }, { timeoutMs: 100 })).rejects.toBeInstanceOf(RpcTimeout);
      const lost = c.rpcSend('svc', { hang: true, second: true });
      await w.waitFor((e) => e.ev === 'call' && (e.body as { second?: boolean }).second === true);
      w.kill('SIGKILL');
      await expect(lost).rejects.toBeInstanceOf(RecipientLost);
      await until(() => !broker.stats().rpcSubscribers.includes('svc'), 5000, 'the identifier to be freed');
      await expect(c.rpcSend('svc', 1)).rejects.toBeInstanceOf(UnroutableError);
    },
  );

  t(
    'broadcasts reach every process with a broadcast subscriber, once each, with sender/subject/correlationId',
    async () => {
      const a = fixture({ role: 'worker', conn: ep.client, broadcasts: true });
      const b = fixture({ role: 'worker', conn: ep.client, broadcasts: true });
      const none = fixture({ role: 'worker', conn: ep.client });
      await Promise.all([a, b, none].map((x) => x.waitFor((e) => e.ev === 'ready')));
      await until(() => broker.stats().broadcastConnections === 2, 5000, 'two broadcast connections');
      const c = await client();
      for (let i = 0; i < 10; i++)
        c.broadcastSend({ i }, { sender: 'bob.jones', subject: `purchase.${i}`, correlationId: `c${i}` });
      for (const x of [a, b]) await x.waitFor((e) => e.ev === 'broadcast' && (e.body as { i: number }).i === 9);
      for (const x of [a, b]) {
        const got = x.events.filter((e) => e.ev === 'broadcast');
        expect(got.map((e) => (e.body as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(got[3]).toMatchObject({ sender: 'bob.jones', subject: 'purchase.3', correlationId: 'c3' });
      }
      expect(none.events.filter((e) => e.ev === 'broadcast')).toEqual([]);
    },
  );
});
