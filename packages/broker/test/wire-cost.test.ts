import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { BrokerMessage, SocketCommunicator } from '../src/index.js';
import { type Broker, connect, startBroker } from '../src/index.js';
import { type Endpoint, endpoint } from './helpers.js';

/**
 * A unix endpoint and a broker with admin operations for the tests of one describe block (started before them,
 * stopped after), read through getters.
 */
function brokerPerDescribe(): { ep: () => Endpoint; broker: () => Broker } {
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
  return { ep: () => ep, broker: () => broker };
}

// What a task costs on the wire between the TypeScript client and the broker (PROTOCOL.md, "Broker protocol"):
// counted on real unix sockets, by kind, on each side.
describe('messages per task over unix', () => {
  const { ep, broker } = brokerPerDescribe();

  const received = (c: SocketCommunicator): string[] => {
    const kinds: string[] = [];
    c.client.on('message', (m) => {
      const d = m.data as BrokerMessage;
      // the messages of a `batch` frame (see below) count one by one
      for (const x of d.kind === 'batch' ? (d.messages as BrokerMessage[]) : [d]) kinds.push(String(x.kind));
    });
    return kinds;
  };

  it("a worker's result is not answered: the worker receives only its deliveries", async () => {
    const worker = (await connect(ep().client)) as SocketCommunicator;
    const submitter = (await connect(ep().client)) as SocketCommunicator;
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
      expect(broker().stats().totals).toMatchObject({ completed: 20, staleRefused: 0 });
    } finally {
      await worker.close();
      await submitter.close();
    }
  });
});

// Several broker messages per frame (`batch`, PROTOCOL.md): only between peers that agreed on it (`features`).
describe('batches over unix', () => {
  const { ep, broker } = brokerPerDescribe();

  /** Frames (socketkit messages) a client receives, with the broker messages each carried. */
  const frames = (c: { on(e: 'message', f: (m: { data: unknown }) => void): unknown }): BrokerMessage[][] => {
    const out: BrokerMessage[][] = [];
    c.on('message', (m) => {
      const d = m.data as BrokerMessage;
      out.push(d.kind === 'batch' ? (d.messages as BrokerMessage[]) : [d]);
    });
    return out;
  };
  /** Frames the broker receives from each connection, with the broker messages each carried. */
  const framesAtBroker = (): Map<string, BrokerMessage[][]> => {
    const out = new Map<string, BrokerMessage[][]>();
    broker().server.on('message', (m, id) => {
      const d = m.data as BrokerMessage;
      let list = out.get(id);
      if (list === undefined) out.set(id, (list = []));
      list.push(d.kind === 'batch' ? (d.messages as BrokerMessage[]) : [d]);
    });
    return out;
  };
  const kinds = (fs: BrokerMessage[][], kind: string): number =>
    fs.reduce((n, f) => n + f.filter((m) => m.kind === kind).length, 0);
  const framesWith = (fs: BrokerMessage[][], kind: string): number =>
    fs.filter((f) => f.some((m) => m.kind === kind)).length;

  it('a worker and a submitter that announced batches get their messages in fewer frames than messages', async () => {
    const worker = (await connect(ep().client)) as SocketCommunicator;
    const submitter = (await connect(ep().client)) as SocketCommunicator;
    try {
      await worker.addTaskSubscriber(async (b) => b, { prefetch: 50 });
      await submitter.brokerStats(); // its features exchange is done
      const atWorker = frames(worker.client);
      const atSubmitter = frames(submitter.client);
      const atBroker = framesAtBroker();
      const n = 50;
      const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => submitter.taskSend({ i })));
      expect(outcomes).toEqual(Array.from({ length: n }, (_, i) => ({ i })));
      await worker.brokerStats();
      await submitter.brokerStats();
      expect(kinds(atWorker, 'deliver')).toBe(n);
      expect(framesWith(atWorker, 'deliver')).toBeLessThan(n);
      expect(kinds(atSubmitter, 'outcome')).toBe(n);
      expect(atSubmitter.length).toBeLessThan(n);
      // and the other way: the submitter's tasks and the worker's results reach the broker in fewer frames
      let tasks = 0;
      let results = 0;
      let taskFrames = 0;
      let resultFrames = 0;
      for (const fs of atBroker.values()) {
        tasks += kinds(fs, 'task');
        results += kinds(fs, 'result');
        taskFrames += framesWith(fs, 'task');
        resultFrames += framesWith(fs, 'result');
      }
      expect([tasks, results]).toEqual([n, n]);
      expect(taskFrames).toBeLessThan(n);
      expect(resultFrames).toBeLessThan(n);
      expect(broker().stats().totals).toMatchObject({ completed: n, staleRefused: 0 });
    } finally {
      await worker.close();
      await submitter.close();
    }
  });

  it('a client that did not announce batches gets one broker message per frame', async () => {
    const { UnixSocketClient } = await import('@socketkit/unix');
    const raw = new UnixSocketClient({
      socketDir: ep().client.socketDir as string,
      eventName: ep().client.eventName as string,
    });
    const submitter = (await connect(ep().client)) as SocketCommunicator;
    try {
      await raw.connect();
      const got = frames(raw);
      raw.send({ kind: 'subscribe', ref: 1, type: 'task', identifier: 'raw', prefetch: 50 });
      const n = 50;
      const outcomes = Promise.all(Array.from({ length: n }, (_, i) => submitter.taskSend({ i })));
      const deadline = Date.now() + 20_000;
      while (kinds(got, 'deliver') < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(got.every((f) => f.length === 1 && f[0]?.kind !== 'batch')).toBe(true);
      const delivered = got.flat().filter((m) => m.kind === 'deliver');
      expect(delivered).toHaveLength(n);
      for (const d of delivered)
        raw.send({
          kind: 'result',
          ref: 100 + Number((d.body as { i: number }).i),
          taskId: d.taskId,
          attempt: 1,
          ok: true,
          result: d.body,
        });
      expect(await outcomes).toEqual(Array.from({ length: n }, (_, i) => ({ i })));
      await raw.send({ kind: 'admin', ref: 999, op: 'stats' });
      while (!got.flat().some((m) => m.ref === 999) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(got.every((f) => f.length === 1)).toBe(true);
      expect(got.flat().filter((m) => m.kind === 'reply')).toHaveLength(n + 2);
    } finally {
      await raw.disconnect();
      await submitter.close();
    }
  });
});

describe('batches larger than maxMessageSize', () => {
  it('go one message per frame, both ways, and every task completes', async () => {
    const ep = endpoint('unix');
    const broker = await startBroker({ ...ep.server, maxMessageSize: 64 * 1024 });
    const opts = { ...ep.client, maxMessageSize: 64 * 1024 };
    const worker = (await connect(opts)) as SocketCommunicator;
    const submitter = (await connect(opts)) as SocketCommunicator;
    try {
      await worker.addTaskSubscriber(async (b) => b, { prefetch: 20 });
      await submitter.brokerStats(); // batches agreed on both connections
      const n = 20;
      const pad = 'x'.repeat(20_000); // 20 of them: ~400 KB, more than one frame may carry
      const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => submitter.taskSend({ i, pad })));
      expect(outcomes.map((o) => (o as { i: number }).i)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(broker.stats().totals).toMatchObject({ completed: n, staleRefused: 0 });
    } finally {
      await worker.close();
      await submitter.close();
      await broker.stop();
      ep.cleanup();
    }
  });

  it('a client that reads smaller frames than the broker writes is not sent batches', async () => {
    const ep = endpoint('unix');
    const broker = await startBroker({ ...ep.server, maxMessageSize: 256 * 1024 });
    const worker = (await connect({ ...ep.client, maxMessageSize: 128 * 1024 })) as SocketCommunicator;
    const submitter = (await connect(ep.client)) as SocketCommunicator;
    try {
      await worker.addTaskSubscriber(async (b) => b, { prefetch: 20 });
      const kinds: string[] = [];
      worker.client.on('message', (m) => kinds.push(String((m.data as BrokerMessage).kind)));
      const n = 20;
      await Promise.all(Array.from({ length: n }, (_, i) => submitter.taskSend({ i })));
      await worker.brokerStats();
      expect(kinds.filter((k) => k === 'deliver')).toHaveLength(n);
      expect(kinds).not.toContain('batch');
    } finally {
      await worker.close();
      await submitter.close();
      await broker.stop();
      ep.cleanup();
    }
  });
});
