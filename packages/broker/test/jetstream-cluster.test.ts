// A three-node nats-server cluster with JetStream (R3): a submitter on one "host" and workers on another (separate
// processes connected to different nodes): tasks, RPC and broadcasts flow both ways.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type JetStreamCommunicator, jetStreamStats } from '../src/index.js';
import { until } from './helpers.js';
import { type JsCluster, jsFixture, killFixtures, namespace, natsBinary, startCluster } from './jetstream-helpers.js';

const d = natsBinary === undefined ? describe.skip : describe;
let cluster: JsCluster | undefined;
const open: JetStreamCommunicator[] = [];

beforeAll(async () => {
  if (natsBinary !== undefined) cluster = await startCluster(3);
}, 30_000);
afterEach(async () => {
  await killFixtures();
  await Promise.all(open.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await cluster?.stop();
});

/** Connects to one node only (its "host"), retrying while the cluster elects its JetStream meta leader. */
async function on(node: number, name: string): Promise<JetStreamCommunicator> {
  const url = (cluster as JsCluster).urls[node] as string;
  for (let i = 0; ; i++) {
    try {
      const c = await connect({ transport: 'jetstream', servers: url, name, ackWaitMs: 2000 });
      open.push(c);
      return c;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

d(`JetStream backend on a 3-node cluster${natsBinary === undefined ? ' [skipped: no nats-server binary]' : ''}`, () => {
  it('streams are R3 (replicas "auto" sees three nodes); tasks, RPC and broadcasts flow both ways between ' +
    'nodes', async () => {
    const c = cluster as JsCluster;
    const ns = namespace();
    const local = await on(0, ns); // this process: "host A" on node 1
    const stats = await jetStreamStats({ servers: c.urls[0] as string, name: ns });
    expect(stats.cluster.replicas).toBe(3);

    // "Host B": a worker process on node 2 that also holds an RPC identifier, listens to broadcasts,
    // calls an RPC held here and broadcasts back.
    const heard: unknown[] = [];
    await local.addBroadcastSubscriber((body, info) => void heard.push([body, info.subject]));
    await local.addRpcSubscriber((body) => ({ hostA: body }), `a-${ns}`);
    const worker = jsFixture({
      role: 'worker',
      conn: { servers: c.urls[1], name: ns, ackWaitMs: 2000 },
      prefetch: 4,
      rpc: `b-${ns}`,
      broadcasts: true,
      callRpc: `a-${ns}`,
      sendBroadcast: 'from.b',
    });
    await worker.waitFor((e) => e.ev === 'ready');
    // Tasks A -> B.
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => local.taskSend({ n: i })));
    expect(results.map((r) => (r as { by: number }).by)).toEqual(Array(20).fill(worker.proc.pid));
    // RPC A -> B and B -> A.
    await expect(local.rpcSend(`b-${ns}`, 'ping', { timeoutMs: 5000 })).resolves.toEqual({
      echo: 'ping',
      by: worker.proc.pid,
    });
    const back = await worker.waitFor((e) => e.ev === 'rpcResult');
    expect(back.result).toEqual({ hostA: { from: worker.proc.pid } });
    // Broadcasts A -> B and B -> A.
    local.broadcastSend('hello', { subject: 'from.a' });
    await worker.waitFor((e) => e.ev === 'broadcast' && e.body === 'hello');
    await until(() => heard.some((h) => (h as [unknown, string])[1] === 'from.b'), 10_000, 'a broadcast from B');

    // Tasks B -> A: a submitter process on node 3, the worker here on node 1.
    await local.addTaskSubscriber((body) => ({ n: (body as { n: string }).n, by: 'A' }), { prefetch: 4 });
    worker.kill('SIGKILL');
    const submitter = jsFixture({
      role: 'submitter',
      conn: { servers: c.urls[2], name: ns, ackWaitMs: 2000 },
      count: 20,
      prefix: 'b',
    });
    const done = await submitter.waitFor((e) => e.ev === 'done', 30_000);
    expect(done).toMatchObject({ ok: 20, failed: 0 });
    const outcomes = submitter.events.filter((e) => e.ev === 'outcome');
    expect(new Set(outcomes.map((o) => o.n)).size).toBe(20);
  }, 40_000);
});
