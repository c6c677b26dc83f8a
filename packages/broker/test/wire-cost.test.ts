import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { BrokerMessage, SocketCommunicator } from '../src/index.js';
import { type Broker, connect, startBroker } from '../src/index.js';
import { type Endpoint, endpoint } from './helpers.js';

// What a task costs on the wire between the TypeScript client and the broker (PROTOCOL.md, "Broker protocol"):
// counted on real unix sockets, by kind, on each side.
describe('messages per task over unix', () => {
  let ep: Endpoint;
  let broker: Broker;
  beforeAll(async () => {
    ep = endpoint('unix');
    broker = await startBroker({ ...ep.server, adminOps: true });
  });
  afterAll(async () => {
    await broker.stop();
    ep.cleanup();
  });

  const received = (c: SocketCommunicator): string[] => {
    const kinds: string[] = [];
    c.client.on('message', (m) => kinds.push(String((m.data as BrokerMessage).kind)));
    return kinds;
  };

  it("a worker's result is not answered: the worker receives only its deliveries", async () => {
    const worker = (await connect(ep.client)) as SocketCommunicator;
    const submitter = (await connect(ep.client)) as SocketCommunicator;
    try {
      await worker.addTaskSubscriber(async (b) => b, { prefetch: 4 });
      const atWorker = received(worker);
      const atSubmitter = received(submitter);
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, n) => submitter.taskSend({ n })));
      expect(outcomes).toEqual(Array.from({ length: 20 }, (_, n) => ({ n })));
      // a round trip on each connection, so that anything the broker sent after the outcomes has arrived
      await worker.brokerStats();
      await submitter.brokerStats();
      expect(atWorker.filter((k) => k !== 'reply')).toEqual(Array(20).fill('deliver'));
      expect(atWorker.filter((k) => k === 'reply')).toHaveLength(1); // the brokerStats above
      expect(atSubmitter.filter((k) => k === 'outcome')).toHaveLength(20);
      expect(broker.stats().totals).toMatchObject({ completed: 20, staleRefused: 0 });
    } finally {
      await worker.close();
      await submitter.close();
    }
  });
});
