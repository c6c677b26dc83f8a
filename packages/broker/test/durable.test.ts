import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { BrokerUnavailable, type Communicator, connect, startBroker } from '../src/index.js';
import {
  type Child,
  type Endpoint,
  endpoint,
  fixture,
  freePort,
  killAll,
  transportCases,
  until,
  natsForThisFile,
} from './helpers.js';

// A bounded sample of "must hold" 5 (scripts/soak.mjs: 300 pending + 32 in flight).
const TASKS = 60;
const WORKERS = 2;
const PREFETCH = 4;

natsForThisFile();

describe.each(transportCases())('over %s: durable mode survives a SIGKILLed broker', (title, transport) => {
  let ep: Endpoint;
  let storeDir: string;
  const comms: Communicator[] = [];
  const skip = title.includes('[skipped');
  const t = skip ? it.skip : it;

  const setup = async (): Promise<void> => {
    ep = endpoint(transport);
    storeDir = mkdtempSync(join(tmpdir(), 'skstore-'));
    if (transport === 'tcp') {
      const port = await freePort(); // the restarted broker must listen where the clients reconnect
      ep.server.port = port;
      ep.client.port = port;
    }
  };
  const brokerChild = async (store: boolean): Promise<Child> => {
    const b = fixture({ role: 'broker', options: { ...ep.server, ...(store ? { store: { path: storeDir } } : {}) } });
    await b.waitFor((e) => e.ev === 'ready');
    return b;
  };
  afterEach(async () => {
    await Promise.all(comms.splice(0).map((c) => c.close()));
    await killAll();
    ep?.cleanup();
    if (storeDir !== undefined) rmSync(storeDir, { recursive: true, force: true });
  });

  t(
    `SIGKILL the broker with tasks pending and in flight, restart it on the same path: all ${TASKS} complete, ` +
      `everyone reconnects by itself`,
    async () => {
      await setup();
      let broker = await brokerChild(true);
      const workers = Array.from({ length: WORKERS }, () =>
        fixture({ role: 'worker', conn: ep.client, prefetch: PREFETCH, sleepMs: 100 }),
      );
      await Promise.all(workers.map((w) => w.waitFor((e) => e.ev === 'ready')));
      const submitter = fixture({ role: 'submitter', conn: ep.client, count: TASKS, prefix: 'd' });
      // Kill once some outcomes are in and the workers are busy: the rest are pending or in flight.
      await submitter.waitFor((e) => e.ev === 'outcome');
      await until(
        () =>
          workers.every(
            (w) => w.events.filter((e) => e.ev === 'start').length > w.events.filter((e) => e.ev === 'end').length,
          ),
        10_000,
        'busy workers',
      );
      broker.kill('SIGKILL');
      await broker.exited;
      const before = submitter.events.filter((e) => e.ev === 'outcome').length;
      expect(before).toBeLessThan(TASKS);
      broker = await brokerChild(true);
      const done = await submitter.waitFor((e) => e.ev === 'done', 60_000);
      expect(done).toMatchObject({ ok: TASKS, failed: 0 });
      const outcomes = submitter.events.filter((e) => e.ev === 'outcome');
      expect(new Set(outcomes.map((e) => e.n)).size).toBe(TASKS);
      // Tasks in flight at the kill ran again, flagged redelivered.
      const redelivered = workers.flatMap((w) => w.events.filter((e) => e.ev === 'start' && e.redelivered === true));
      expect(redelivered.length).toBeGreaterThan(0);
      for (const w of workers) expect(w.events.filter((e) => e.ev === 'connected').length).toBeGreaterThanOrEqual(1);
    },
  );

  t(
    'noReply resolves only once the task is stored: a broker SIGKILLed right after still runs it after its restart',
    async () => {
      await setup();
      let broker = await brokerChild(true);
      const c = await connect({ ...ep.client, reconnect: { maxRetries: Number.POSITIVE_INFINITY, maxDelay: 300 } });
      comms.push(c);
      for (let i = 0; i < 5; i++) await c.taskSend({ n: `nr${i}` }, { noReply: true });
      broker.kill('SIGKILL');
      await broker.exited;
      broker = await brokerChild(true);
      const w = fixture({ role: 'worker', conn: ep.client, prefetch: 5 });
      for (let i = 0; i < 5; i++) await w.waitFor((e) => e.ev === 'end' && e.n === `nr${i}`);
    },
  );

  t(
    'memory mode: a restart loses the tasks, and a waiting submitter gets BrokerUnavailable instead of hanging',
    async () => {
      await setup();
      let broker = await brokerChild(false);
      const c = await connect({ ...ep.client, reconnect: { maxRetries: Number.POSITIVE_INFINITY, maxDelay: 300 } });
      comms.push(c);
      const waiting = c.taskSend({ n: 'lost' }).catch((e: unknown) => e);
      await c.taskSend({ n: 'marker' }, { noReply: true }); // in order on one connection: the first one is accepted too
      broker.kill('SIGKILL');
      await broker.exited;
      broker = await brokerChild(false);
      const e = await waiting;
      expect(e).toBeInstanceOf(BrokerUnavailable);
    },
  );

  t(
    'a broker that never comes back: pending calls reject with BrokerUnavailable once the client gives up',
    async () => {
      await setup();
      const b = await startBroker(ep.server);
      if (transport === 'tcp') ep.client.port = b.port;
      const c = await connect({ ...ep.client, reconnect: { maxRetries: 2, initialDelay: 50, maxDelay: 100 } });
      comms.push(c);
      const waiting = c.taskSend({ n: 'x' }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 100));
      await b.stop();
      expect(await waiting).toBeInstanceOf(BrokerUnavailable);
      await expect(c.taskSend(1)).rejects.toBeInstanceOf(BrokerUnavailable);
    },
  );
});
