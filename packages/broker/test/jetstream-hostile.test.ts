// Hostile or broken peers on the JetStream backend: stray publishes on task, RPC, broadcast and outcome subjects,
// malformed bodies, an ack for someone else's delivery. Each is refused or reported; no worker dies, no task is lost.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect, headers, type NatsConnection } from '@nats-io/transport-node';
import { packValue, unpackValue } from '@socketkit/codec';
import {
  BrokerErrorCode,
  BrokerUnavailable,
  connect,
  type JetStreamCommunicator,
  jetStreamStats,
  jetStreamTasks,
} from '../src/index.js';
import { sleep, until } from './helpers.js';
import { namespace, natsBinary, startJetStream } from './jetstream-helpers.js';

const d = natsBinary === undefined ? describe.skip : describe;
let js: Awaited<ReturnType<typeof startJetStream>> | undefined;
let raw: NatsConnection | undefined;
const open: JetStreamCommunicator[] = [];
const GARBAGE = new Uint8Array([0xc1, 0xc1, 0xff, 0x00]); // 0xc1 is never valid msgpack

beforeAll(async () => {
  if (natsBinary === undefined) return;
  js = await startJetStream();
  raw = await natsConnect({ servers: js.url, name: 'hostile' });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await raw?.close();
  await js?.stop();
});

async function comm(
  name: string,
  extra: Record<string, unknown> = {},
): Promise<JetStreamCommunicator & { errors: Error[] }> {
  const c = await connect({
    transport: 'jetstream',
    servers: (js as { url: string }).url,
    name,
    storage: 'memory',
    ...extra,
  });
  const errors: Error[] = [];
  c.on('error', (e) => errors.push(e));
  open.push(c);
  return Object.assign(c, { errors });
}

d(
  `JetStream backend: hostile and broken peers${natsBinary === undefined ? ' [skipped: no nats-server binary]' : ''}`,
  () => {
    it(
      'a stray, malformed publish on the task subject goes to the dead-letter stream; the worker reports it and ' +
        'keeps working',
      async () => {
        const ns = namespace();
        const url = (js as { url: string }).url;
        const worker = await comm(ns);
        const client = await comm(ns);
        await worker.addTaskSubscriber((b) => ({ ok: b }), { prefetch: 2 });
        (raw as NatsConnection).publish(`sk.${ns}.task`, GARBAGE);
        // A stray task that is valid msgpack but has no socketkit headers runs as a noReply task (taskId "seq-<n>").
        (raw as NatsConnection).publish(`sk.${ns}.task`, packValue({ stray: true }));
        await expect(client.taskSend('after')).resolves.toEqual({ ok: 'after' });
        await until(() => worker.errors.some((e) => /refused \(malformed\)/.test(e.message)), 5000, 'the report');
        const dead = await jetStreamTasks({ servers: url, name: ns, state: 'dead' });
        expect(dead).toHaveLength(1);
        expect(dead[0]).toMatchObject({ reason: 'malformed', taskId: 'seq-1' });
        let stored = -1;
        for (let i = 0; i < 50 && stored !== 0; i++) {
          stored = (await jetStreamStats({ servers: url, name: ns })).stored;
          if (stored !== 0) await sleep(100);
        }
        expect(stored).toBe(0);
      },
    );

    it(
      'a second stream message with the task id of a running task is refused (dead-lettered), the running one ' +
        'finishes',
      async () => {
        const ns = namespace();
        const worker = await comm(ns);
        const client = await comm(ns);
        let started = '';
        await worker.addTaskSubscriber(
          async (b, ctx) => {
            started = ctx.taskId;
            await sleep(300);
            return b;
          },
          { prefetch: 2 },
        );
        const outcome = client.taskSend('real');
        await until(() => started !== '', 5000, 'the start');
        const h = headers();
        h.set('sk-id', started);
        (raw as NatsConnection).publish(`sk.${ns}.task`, packValue('forged'), { headers: h });
        await expect(outcome).resolves.toBe('real');
        await until(() => worker.errors.some((e) => /second message with task id/.test(e.message)), 5000, 'the report');
      },
    );

    it(
      'an ack for someone else’s delivery removes the message, but the outcome still reaches the submitter and the ' +
        'worker lives',
      async () => {
        const ns = namespace();
        const worker = await comm(ns);
        const client = await comm(ns);
        let running = false;
        await worker.addTaskSubscriber(async (b) => {
          running = true;
          await sleep(800);
          return { done: b };
        });
        const outcome = client.taskSend(1);
        await until(() => running, 5000, 'the start');
        // The first delivery of stream sequence 1: forge its ack subject
        // ($JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>).
        (raw as NatsConnection).publish(
          `$JS.ACK.SK_${ns.toUpperCase()}_TASKS.workers.1.1.1.${Date.now()}000000.0`,
          new TextEncoder().encode('+ACK'),
        );
        await (raw as NatsConnection).flush();
        let stored = -1;
        for (let i = 0; i < 20 && stored !== 0; i++) {
          stored = (await jetStreamStats({ servers: (js as { url: string }).url, name: ns })).stored;
          if (stored !== 0) await sleep(20);
        }
        expect(stored).toBe(0); // JetStream took the forged ack: it cannot tell whose delivery an ack is for
        await expect(outcome).resolves.toEqual({ done: 1 });
        await expect(client.taskSend(2)).resolves.toEqual({ done: 2 });
      },
    );

    it(
      'a task that leaves the stream without an outcome (purged) fails its taskSend with BrokerUnavailable: it ' +
        'never hangs',
      async () => {
        const ns = namespace();
        const client = await comm(ns, { outcomeTtlMs: 400 });
        const outcome = client.taskSend('nobody works this').catch((e: unknown) => e);
        await sleep(100);
        const jsm = await jetstreamManager(raw as NatsConnection);
        expect((await jsm.streams.purge(`SK_${ns.toUpperCase()}_TASKS`)).purged).toBe(1);
        expect(await outcome).toBeInstanceOf(BrokerUnavailable);
      },
    );

    it(
      'malformed RPC requests are answered with INVALID_REQUEST; a request without reply subject is reported; the ' +
        'holder keeps answering',
      async () => {
        const ns = namespace();
        const holder = await comm(ns);
        const client = await comm(ns);
        await holder.addRpcSubscriber((b) => ({ echo: b }), 'svc');
        const r = await (raw as NatsConnection).request(`sk.${ns}.rpc.svc`, GARBAGE, { timeout: 2000 });
        expect((unpackValue(r.data) as { error: { code: string } }).error.code).toBe(BrokerErrorCode.INVALID_REQUEST);
        (raw as NatsConnection).publish(`sk.${ns}.rpc.svc`, packValue({ body: 1 }));
        await until(() => holder.errors.some((e) => /without reply subject/.test(e.message)), 5000, 'the report');
        await expect(client.rpcSend('svc', 2)).resolves.toEqual({ echo: 2 });
        // A malformed answer from a broken holder is a typed error for the caller.
        (raw as NatsConnection).subscribe(`sk.${ns}.rpc.broken`, {
          callback: (_e, m) => {
            m.respond(GARBAGE);
          },
        });
        await (raw as NatsConnection).flush();
        await expect(client.rpcSend('broken', 1)).rejects.toMatchObject({ code: BrokerErrorCode.INVALID_REQUEST });
      },
    );

    it('malformed broadcasts and outcomes are reported and dropped; valid ones still arrive', async () => {
      const ns = namespace();
      const listener = await comm(ns);
      const heard: unknown[] = [];
      await listener.addBroadcastSubscriber((b) => void heard.push(b));
      (raw as NatsConnection).publish(`sk.${ns}.bc.s.state.x`, GARBAGE);
      (raw as NatsConnection).publish(`sk.${ns}.bc.n`, packValue([1, 2]));
      listener.broadcastSend('valid', { subject: 'state.x' });
      await until(() => heard.length === 1, 5000, 'the valid broadcast');
      expect(heard).toEqual(['valid']);
      await until(
        () => listener.errors.filter((e) => /malformed broadcast/.test(e.message)).length === 2,
        5000,
        'two reports',
      );
      // Garbage on a submitter's outcome subject.
      const worker = await comm(ns);
      await worker.addTaskSubscriber((b) => b);
      const subject = `sk.${ns}.out.>`;
      const seen: string[] = [];
      (raw as NatsConnection).subscribe(subject, {
        callback: (_e, m) => {
          seen.push(m.subject);
        },
      });
      await (raw as NatsConnection).flush();
      await expect(listener.taskSend('t')).resolves.toBe('t');
      await until(() => seen.length > 0, 5000, 'the outcome seen by the raw client');
      const inbox = seen[0] as string;
      const answer = await (raw as NatsConnection).request(inbox, GARBAGE, { timeout: 2000 });
      expect(unpackValue(answer.data)).toBe('invalid');
      // An outcome for a task this submitter does not wait for is refused as stale, and counted.
      const stale = await (raw as NatsConnection).request(inbox, packValue({ taskId: 'nope', ok: true, result: 1 }), {
        timeout: 2000,
      });
      expect(unpackValue(stale.data)).toBe('stale');
      expect(listener.duplicateOutcomes).toBe(1);
      await expect(listener.taskSend('still')).resolves.toBe('still');
    });

    it('a deleted task consumer under a worker: its refused pulls back off (no hot loop), reported once', async () => {
      const ns = namespace();
      const w = await comm(ns);
      await w.addTaskSubscriber((b) => b, { prefetch: 4 });
      const jsm = await jetstreamManager(raw as NatsConnection);
      const stream = `SK_${ns.toUpperCase()}_TASKS`;
      // Every pull request of the worker, counted as it is published.
      let pulls = 0;
      const spy = (raw as NatsConnection).subscribe(`$JS.API.CONSUMER.MSG.NEXT.${stream}.workers`, {
        callback: () => {
          pulls++;
        },
      });
      await (raw as NatsConnection).flush();
      await jsm.consumers.delete(stream, 'workers');
      await until(() => w.errors.some((e) => /pulling tasks: the server answered/.test(e.message)));
      const at = pulls;
      await sleep(1500);
      spy.unsubscribe();
      // With backoff (100 ms doubling to 2 s) a handful; without it, one per server round trip: thousands.
      expect(pulls - at).toBeLessThan(20);
      expect(w.errors.filter((e) => /pulling tasks: the server answered/.test(e.message))).toHaveLength(1);
      expect(w.errors.every((e) => e instanceof BrokerUnavailable)).toBe(true);
    });
  },
);
